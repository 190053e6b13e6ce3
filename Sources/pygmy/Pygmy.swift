import ArgumentParser
import Foundation
import PygmyNodes

/// The `pygmy` command.
@main
struct Pygmy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pygmy",
        abstract: "Pygmy: a replicated bookstore that keeps selling when servers crash.",
        discussion: """
            Client commands talk to a frontend (--frontend HOST:PORT or --cluster DIR).

            Exit codes:
              0   success
              1   unexpected failure
              3   not found (unknown item or topic)
              4   out of stock
              5   cluster unreachable
              6   TLS or authorization failure
              7   cluster busy or not ready (retry later)
              64  invalid arguments
            """,
        version: PygmyVersion.current,
        subcommands: [
            Search.self, Lookup.self, Buy.self, Orders.self, Restock.self, Price.self, Status.self,
            Node.self, Cluster.self, TopologyCommand.self, Demo.self, Bench.self, Chaos.self, Sim.self,
        ]
    )

    /// Line-buffered stdout, so progress lines appear as they happen even through a pipe.
    static func main() async {
        setvbuf(fdopen(1, "w"), nil, _IOLBF, 0)
        if let problem = Preflight.problem(Array(CommandLine.arguments.dropFirst())) {
            if CommandLine.arguments.contains("--json") {
                print(Output.encode(["error": ["code": "invalidArguments", "message": problem]]))
            } else {
                FileHandle.standardError.write(Data("error: \(problem)\n".utf8))
            }
            Foundation.exit(Exit.invalidArguments.rawValue)
        }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            // With --json, argument errors too are one JSON object on stdout (the exit code is unchanged).
            let code = exitCode(for: error)
            if CommandLine.arguments.contains("--json"), !(error is ExitCode), code != .success {
                let message = fullMessage(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
                let name = code == Exit.invalidArguments ? "invalidArguments" : "error"
                print(
                    Output.encode([
                        "error": ["code": name, "message": message.replacingOccurrences(of: "Error: ", with: "")]
                    ])
                )
                Foundation.exit(code.rawValue)
            }
            exit(withError: error)
        }
    }
}

/// Checks ArgumentParser cannot make in words of its own: a mistyped subcommand (with a suggestion) and a
/// negative number, which it would read as an unknown option ("Missing expected argument").
enum Preflight {
    static func problem(_ arguments: [String]) -> String? {
        if let negative = arguments.first(where: { $0.wholeMatch(of: /-[0-9]+(\.[0-9]*)?/) != nil }) {
            return "\(negative) is not allowed here: item numbers, quantities and counts must be a positive integer"
        }
        var command: any ParsableCommand.Type = Pygmy.self
        var path = "pygmy"
        for argument in arguments {
            let subcommands = command.configuration.subcommands
            guard !subcommands.isEmpty, !argument.hasPrefix("-") else { break }
            if argument == "help" { break }
            if let next = subcommands.first(where: { name(of: $0) == argument }) {
                command = next
                path += " " + argument
                continue
            }
            let names = subcommands.map(name(of:))
            let close = names.map { ($0, distance($0, argument)) }.filter { $0.1 <= 2 }.min { $0.1 < $1.1 }
            return "unknown command \"\(argument)\" for `\(path)`"
                + (close.map { "; did you mean \"\($0.0)\"?" } ?? "; one of: \(names.joined(separator: ", "))")
        }
        return nil
    }

    static func name(of command: any ParsableCommand.Type) -> String {
        command.configuration.commandName ?? command._commandName
    }

    /// Levenshtein distance.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }
}
