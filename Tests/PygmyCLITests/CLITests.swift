import Foundation
import Testing

extension LiveProcessTests {
    /// The `pygmy` command as a user meets it: real processes, real exit codes, real output.
    @Suite(.serialized) struct CLITests {
        func json(_ text: String) throws -> [String: Any] {
            let line = text.split(separator: "\n").last.map(String.init) ?? ""
            return try #require(
                JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                "not JSON: \(text)"
            )
        }

        @Test func helpDocumentsEverySubcommandAndTheExitCodes() async throws {
            let help = try await PygmyProcess.run(["--help"])
            #expect(help.status == 0)
            for word in [
                "search", "lookup", "buy", "orders", "restock", "price", "status", "node", "cluster", "demo",
                "out of stock",
            ] {
                #expect(help.stdout.contains(word), "help lacks \(word)")
            }
            for sub in [["search"], ["buy"], ["cluster", "up"], ["cluster", "kill"], ["node"], ["demo"]] {
                let result = try await PygmyProcess.run(sub + ["--help"])
                #expect(result.status == 0, "\(sub) --help failed: \(result.stderr)")
                #expect(result.stdout.contains("USAGE"))
            }
        }

        @Test func badArgumentsExitWith64AndSayWhy() async throws {
            let notANumber = try await PygmyProcess.run(["lookup", "one"])
            #expect(notANumber.status == 64)
            #expect(notANumber.stderr.contains("one"))
            let zero = try await PygmyProcess.run(["buy", "1", "--quantity", "0"])
            #expect(zero.status == 64)
            #expect(zero.stderr.contains("--quantity must be at least 1"))
            let both = try await PygmyProcess.run(["lookup", "1", "--frontend", "127.0.0.1:1", "--cluster", "/tmp"])
            #expect(both.status == 64)
            let badAddress = try await PygmyProcess.run(["lookup", "1", "--frontend", "nowhere"])
            #expect(badAddress.status == 64)
            #expect(badAddress.stderr.contains("HOST:PORT"))
        }

        @Test func anUnreachableClusterExitsWith5() async throws {
            let port = PygmyProcess.freeBasePort()
            let result = try await PygmyProcess.run([
                "lookup", "1", "--frontend", "127.0.0.1:\(port)", "--json", "--timeout", "2",
            ])
            #expect(result.status == 5)
            let error = try #require(try json(result.stdout)["error"] as? [String: Any])
            #expect(error["code"] as? String == "unreachable")
            #expect((error["message"] as? String)?.contains("127.0.0.1:\(port)") == true)
        }

        @Test func aLocalClusterFromUpToDown() async throws {
            let dir = PygmyProcess.temporaryDirectory("pygmy-cli")
            let base = PygmyProcess.freeBasePort()
            try await PygmyProcess.withClusterDown(dir) {
                let up = try await PygmyProcess.run([
                    "cluster", "up", "--dir", dir, "--base-port", "\(base)", "--detach",
                ])
                #expect(up.status == 0, "cluster up failed: \(up.stderr)")
                #expect(up.stdout.contains("127.0.0.1:\(base)"))

                let search = try await PygmyProcess.run(["search", "distributed systems", "--cluster", dir, "--json"])
                #expect(search.status == 0)
                let items = try #require(try json(search.stdout)["items"] as? [[String: Any]])
                #expect(items.map { $0["item"] as? Int } == [1, 2])
                #expect(items.allSatisfy { $0["title"] is String })

                let lookup = try json(try await PygmyProcess.run(["lookup", "2", "--cluster", dir, "--json"]).stdout)
                #expect(lookup["item"] as? Int == 2 && lookup["stock"] as? Int == 4 && lookup["cost"] as? Int == 40)
                #expect(
                    lookup["title"] as? String == "RPCs for Dummies"
                        && lookup["topic"] as? String == "distributed systems"
                )

                let buy = try await PygmyProcess.run([
                    "buy", "2", "--quantity", "3", "--request-id", "cli-1", "--cluster", dir, "--json",
                ])
                #expect(buy.status == 0)
                let order = try json(buy.stdout)
                #expect(order["item"] as? Int == 2 && order["quantity"] as? Int == 3 && order["cost"] as? Int == 120)
                #expect(order["requestId"] as? String == "cli-1" && order["order"] is Int)
                // The same request id again: the same order, not a second purchase.
                let again = try json(
                    try await PygmyProcess.run([
                        "buy", "2", "--quantity", "3", "--request-id", "cli-1", "--cluster", dir, "--json",
                    ])
                    .stdout
                )
                #expect(again["order"] as? Int == order["order"] as? Int)

                let tooMany = try await PygmyProcess.run(["buy", "2", "--quantity", "5", "--cluster", dir, "--json"])
                #expect(tooMany.status == 4)
                #expect((try json(tooMany.stdout)["error"] as? [String: Any])?["code"] as? String == "outOfStock")
                let unknown = try await PygmyProcess.run(["lookup", "99", "--cluster", dir])
                #expect(unknown.status == 3)
                #expect(unknown.stderr.contains("no book with item number 99"))

                // Crash a catalog replica: buying goes on; restart it and it catches up.
                #expect(try await PygmyProcess.run(["cluster", "kill", "--dir", dir, "catalog-1"]).status == 0)
                #expect(try await PygmyProcess.run(["buy", "1", "--cluster", dir]).status == 0)
                #expect(try await PygmyProcess.run(["cluster", "start", "--dir", dir, "catalog-1"]).status == 0)
                var caughtUp = false
                for _ in 0..<100 where !caughtUp {
                    try await Task.sleep(for: .milliseconds(100))
                    let status = try await PygmyProcess.run(["status", "--cluster", dir, "--json"])
                    guard status.status == 0, let nodes = try json(status.stdout)["nodes"] as? [[String: Any]] else {
                        continue
                    }
                    let catalogs = nodes.filter { $0["role"] as? String == "catalog" }
                    let stocks = catalogs.compactMap {
                        ($0["stock"] as? [[String: Any]])?.first { $0["item"] as? Int == 1 }?["onHand"] as? Int
                    }
                    caughtUp =
                        catalogs.count == 2 && catalogs.allSatisfy { $0["state"] as? String == "ready" }
                        && stocks == [9, 9]
                }
                #expect(caughtUp, "catalog-1 did not catch up after restart")

                let orders = try await PygmyProcess.run(["orders", "--cluster", dir])
                #expect(orders.status == 0 && orders.stdout.contains("cli-1"))
                let restock = try await PygmyProcess.run(["restock", "2", "5", "--cluster", dir])
                #expect(restock.status == 0 && restock.stdout.contains("6 in stock"))
                let price = try await PygmyProcess.run(["price", "2", "45", "--cluster", dir])
                #expect(price.status == 0)
                #expect(
                    try json(try await PygmyProcess.run(["lookup", "2", "--cluster", dir, "--json"]).stdout)["cost"]
                        as? Int == 45
                )

                let down = try await PygmyProcess.run(["cluster", "down", "--dir", dir])
                #expect(down.status == 0)
                #expect(try await PygmyProcess.run(["lookup", "1", "--cluster", dir, "--timeout", "2"]).status == 5)
            }
        }

        @Test func aForegroundClusterStopsEveryNodeOnCtrlC() async throws {
            let dir = PygmyProcess.temporaryDirectory("pygmy-cli-fg")
            let base = PygmyProcess.freeBasePort()
            try await PygmyProcess.withClusterDown(dir) {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: PygmyProcess.executable)
                process.arguments = ["cluster", "up", "--dir", dir, "--base-port", "\(base)"]
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                var healthy = false
                for _ in 0..<300 where !healthy {
                    try await Task.sleep(for: .milliseconds(100))
                    healthy =
                        try await PygmyProcess.run(["lookup", "1", "--cluster", dir, "--timeout", "1"]).status == 0
                }
                #expect(healthy, "the foreground cluster never served a lookup")
                let pids = (try FileManager.default.contentsOfDirectory(atPath: dir + "/pids")).compactMap {
                    Int32(
                        (try? String(contentsOfFile: dir + "/pids/" + $0, encoding: .utf8))?.trimmingCharacters(
                            in: .whitespacesAndNewlines
                        ) ?? ""
                    )
                }
                #expect(pids.count == 5)
                kill(process.processIdentifier, SIGINT)
                let stopped = await process.exited(within: .seconds(60))
                #expect(stopped, "cluster up still runs 60 s after Ctrl-C")
                if !stopped {
                    kill(process.processIdentifier, SIGKILL)
                    _ = await process.exited()
                }
                #expect(process.terminationStatus == 0)
                // An exited node may stay a zombie for a moment until init reaps it (its parent has exited): that
                // counts as stopped, a process still running does not.
                func running(_ pid: Int32) -> Bool {
                    guard kill(pid, 0) == 0 else { return false }
                    let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
                    return !stat.contains(") Z ")
                }
                #expect(!pids.contains(where: running), "nodes outlived Ctrl-C")
            }
        }

        @Test func aTLSClusterServesClientsWithCertificatesAndChecksRoles() async throws {
            let dir = PygmyProcess.temporaryDirectory("pygmy-cli-tls")
            let base = PygmyProcess.freeBasePort()
            try await PygmyProcess.withClusterDown(dir) {
                let up = try await PygmyProcess.run([
                    "cluster", "up", "--dir", dir, "--base-port", "\(base)", "--tls", "--detach",
                ])
                #expect(up.status == 0, "cluster up --tls failed: \(up.stderr)")
                #expect(up.stdout.contains("mutual TLS"))
                let certs = dir + "/certs"
                let asClient = [
                    "--frontend", "127.0.0.1:\(base)", "--cert", "\(certs)/client.crt", "--key", "\(certs)/client.key",
                    "--ca",
                    "\(certs)/ca.crt",
                ]
                let asAdmin = [
                    "--frontend", "127.0.0.1:\(base)", "--cert", "\(certs)/admin.crt", "--key", "\(certs)/admin.key",
                    "--ca",
                    "\(certs)/ca.crt",
                ]

                let buy = try await PygmyProcess.run(["buy", "3"] + asClient)
                #expect(buy.status == 0, "\(buy.stderr)")
                // A client certificate may not restock; an admin certificate may.
                let denied = try await PygmyProcess.run(["restock", "3", "2"] + asClient)
                #expect(denied.status == 6)
                #expect(denied.stderr.contains("may not call frontend.restock"))
                #expect(try await PygmyProcess.run(["restock", "3", "2"] + asAdmin).status == 0)
                // No certificate at all: the TLS port refuses a plaintext client.
                let plaintext = try await PygmyProcess.run([
                    "lookup", "3", "--frontend", "127.0.0.1:\(base)", "--timeout", "3",
                ])
                #expect(plaintext.status == 5 || plaintext.status == 6)
                #expect(plaintext.status != 0)
            }
        }
    }
}
