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
            exit(withError: error)
        }
    }
}
