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
            Node.self, Cluster.self, Demo.self, Bench.self, Chaos.self, Sim.self,
        ]
    )

    /// Line-buffered stdout, so progress lines appear as they happen even through a pipe.
    static func main() async {
        setvbuf(fdopen(1, "w"), nil, _IOLBF, 0)
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
