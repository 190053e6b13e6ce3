import Foundation
import PygmyNodes
import Testing

extension LiveProcessTests {
    /// What an operator meets: the start-up checks of `cluster up`, `node --check`, `status --check`,
    /// versions and the environment's defaults, all through the real executable.
    @Suite(.serialized) struct OperatorTests {
        func json(_ text: String) throws -> [String: Any] {
            let line = text.split(separator: "\n").last.map(String.init) ?? ""
            return try #require(
                JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                "not JSON: \(text)"
            )
        }

        @Test func versionIsPrintedByTheCommandAndReportedByEveryNode() async throws {
            let version = try await PygmyProcess.run(["--version"])
            #expect(version.status == 0)
            #expect(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3)
        }

        /// `pygmy topology init` writes a topology with a fresh cluster id that `node --check` accepts,
        /// refuses to overwrite one, and names a bad address.
        @Test func topologyInitWritesACheckedTopologyWithAFreshClusterId() async throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pygmy-init-\(UUID())").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let file = (dir as NSString).appendingPathComponent("topology.json")
            let hosts = ["--frontend", "10.9.0.1:7000", "--catalog", "10.9.0.2:7000", "--catalog", "10.9.0.3:7000"]
            let made = try await PygmyProcess.run(
                ["topology", "init", "--out", file, "--order", "10.9.0.4:7000", "--tls", "--json"] + hosts
            )
            #expect(made.status == 0, "\(made.stdout) \(made.stderr)")
            let written = try json(made.stdout)
            let clusterId = try #require(written["clusterId"] as? String)
            #expect(UUID(uuidString: clusterId) != nil)
            #expect(written["nodes"] as? [String] == ["frontend", "catalog-1", "catalog-2", "order-1"])
            let topology = try Topology.load(path: file)
            #expect(topology.clusterId == clusterId && topology.nodes.allSatisfy { $0.tls != nil })
            #expect(topology.nodes(.catalog).map(\.host) == ["10.9.0.2", "10.9.0.3"])
            let again = try await PygmyProcess.run(["topology", "init", "--out", file, "--json"])
            #expect(again.status == 64 && again.stdout.contains("--force"), "\(again.stdout)")
            let bad = try await PygmyProcess.run([
                "topology", "init", "--out", file + "2", "--order", "nowhere", "--json",
            ])
            #expect(bad.status == 64 && bad.stdout.contains("nowhere"), "\(bad.stdout)")
            let plain = (dir as NSString).appendingPathComponent("plain.json")
            _ = try await PygmyProcess.run(["topology", "init", "--out", plain])
            let check = try await PygmyProcess.run(["node", "--check", "--config", plain])
            #expect(check.status == 0, "\(check.stdout) \(check.stderr)")
        }

        @Test func jsonModeReportsArgumentErrorsAsOneObject() async throws {
            for arguments in [["buy", "1", "--quantity", "0"], ["lookup", "one"], ["restock", "1", "0"]] {
                let result = try await PygmyProcess.run(arguments + ["--json"])
                #expect(result.status == 64, "\(arguments)")
                let object = try json(result.stdout)
                let error = try #require(object["error"] as? [String: Any], "\(arguments): \(result.stdout)")
                #expect(error["code"] as? String == "invalidArguments")
                #expect((error["message"] as? String)?.isEmpty == false)
            }
        }

        @Test func clusterUpChecksBeforeItWritesAndStatusCheckTellsScriptsTheTruth() async throws {
            let dir = PygmyProcess.temporaryDirectory("pygmy-ops")
            let other = PygmyProcess.temporaryDirectory("pygmy-ops-other") + "/shop"
            let base = PygmyProcess.freeBasePort()
            try await PygmyProcess.withClusterDown(dir) {
                let up = try await PygmyProcess.run([
                    "cluster", "up", "--dir", dir, "--base-port", "\(base)", "--detach",
                ])
                #expect(up.status == 0, "cluster up failed: \(up.stderr)")
                let topologyPath = dir + "/topology.json"
                let written = try String(contentsOfFile: topologyPath, encoding: .utf8)
                #expect(written.contains("clusterId"))

                // Up again on the running directory: refused, and the topology is left as it was.
                let again = try await PygmyProcess.run([
                    "cluster", "up", "--dir", dir, "--base-port", "\(PygmyProcess.freeBasePort())", "--detach",
                ])
                #expect(again.status != 0)
                #expect(
                    again.stderr.contains("already running") && again.stderr.contains("cluster down"),
                    "\(again.stderr)"
                )
                #expect(try String(contentsOfFile: topologyPath, encoding: .utf8) == written)

                // Another directory on the same (busy) ports: refused with the port named; nothing written.
                let busy = try await PygmyProcess.run([
                    "cluster", "up", "--dir", other, "--base-port", "\(base)", "--detach",
                ])
                #expect(busy.status == 64, "a busy --base-port is a usage error: \(busy.status)")
                #expect(busy.stderr.contains("port \(base)") && busy.stderr.contains("--base-port"), "\(busy.stderr)")
                #expect(!FileManager.default.fileExists(atPath: other))

                // Healthy: status --check exits 0 and every node reports its version.
                let check = try await PygmyProcess.run([
                    "status", "--wait", "--timeout", "20", "--cluster", dir, "--json",
                ])
                #expect(check.status == 0, "\(check.stdout) \(check.stderr)")
                let nodes = try #require(try json(check.stdout)["nodes"] as? [[String: Any]])
                #expect(nodes.count == 5 && nodes.allSatisfy { $0["version"] is String }, "\(nodes)")

                // The environment names the cluster.
                let lookup = try await PygmyProcess.run(["lookup", "1", "--json"], environment: ["PYGMY_CLUSTER": dir])
                #expect(lookup.status == 0, "\(lookup.stderr)")
                #expect(try json(lookup.stdout)["item"] as? Int == 1)

                // A request id reused with other parameters is refused; the same one again is marked replayed.
                let first = try await PygmyProcess.run(["buy", "1", "--request-id", "op-x", "--cluster", dir, "--json"])
                #expect(first.status == 0, "\(first.stderr)")
                #expect(try json(first.stdout)["replayed"] == nil)
                let reused = try await PygmyProcess.run([
                    "buy", "2", "--quantity", "3", "--request-id", "op-x", "--cluster", dir, "--json",
                ])
                #expect(reused.status == 64, "\(reused.stdout)")
                let reusedError = try #require(try json(reused.stdout)["error"] as? [String: Any])
                #expect(reusedError["code"] as? String == "requestIdReused")
                #expect((reusedError["message"] as? String)?.contains("new request id") == true)
                let retry = try await PygmyProcess.run(["buy", "1", "--request-id", "op-x", "--cluster", dir])
                #expect(retry.status == 0 && retry.stdout.contains("replayed"), "\(retry.stdout)")

                // One catalog down: status --check says so and exits 7.
                #expect(try await PygmyProcess.run(["cluster", "kill", "--dir", dir, "catalog-2"]).status == 0)
                var degraded = try await PygmyProcess.run(["status", "--check", "--cluster", dir])
                for _ in 0..<50 where degraded.status == 0 {
                    try await Task.sleep(for: .milliseconds(100))
                    degraded = try await PygmyProcess.run(["status", "--check", "--cluster", dir])
                }
                #expect(degraded.status == 7, "\(degraded.stdout) \(degraded.stderr)")
                #expect(degraded.stderr.contains("catalog-2"), "\(degraded.stderr)")

                // node --check validates the topology without starting anything.
                let valid = try await PygmyProcess.run(["node", "--check", "--config", topologyPath])
                #expect(valid.status == 0 && valid.stdout.contains("is valid"), "\(valid.stderr)")
                try written.replacingOccurrences(of: "\"cache\"", with: "\"cahce\"")
                    .write(toFile: dir + "/typo.json", atomically: true, encoding: .utf8)
                let typo = try await PygmyProcess.run(["node", "--check", "--config", dir + "/typo.json"])
                #expect(typo.status == 64)
                #expect(
                    typo.stderr.contains("cahce") && typo.stderr.contains("did you mean \"cache\"?"),
                    "\(typo.stderr)"
                )
                #expect(typo.stderr.contains("line "), "\(typo.stderr)")
                #expect(!typo.stderr.contains("Usage"), "\(typo.stderr)")
            }
        }

        @Test func statusShowsTheMembershipEpochLeasesAndAnExcludedCatalog() async throws {
            let dir = PygmyProcess.temporaryDirectory("pygmy-ops-members")
            try await PygmyProcess.withClusterDown(dir) {
                let up = try await PygmyProcess.run([
                    "cluster", "up", "--dir", dir, "--base-port", "\(PygmyProcess.freeBasePort())", "--detach",
                ])
                #expect(up.status == 0, "cluster up failed: \(up.stderr)")
                let ready = try await PygmyProcess.run([
                    "status", "--wait", "--timeout", "20", "--cluster", dir, "--json",
                ])
                #expect(ready.status == 0, "\(ready.stdout) \(ready.stderr)")
                let object = try json(ready.stdout)
                let membership = try #require(object["membership"] as? [String: Any], "\(ready.stdout)")
                #expect((membership["epoch"] as? Int ?? 0) >= 1)
                #expect(membership["catalogs"] as? [String] == ["catalog-1", "catalog-2"])
                #expect(object["excluded"] as? [String] == [])
                let nodes = try #require(object["nodes"] as? [[String: Any]])
                let replicas = nodes.filter { $0["role"] as? String != "frontend" }
                #expect(replicas.count == 4 && replicas.allSatisfy { $0["membership"] is [String: Any] }, "\(nodes)")

                let text = try await PygmyProcess.run(["status", "--cluster", dir])
                #expect(text.status == 0)
                #expect(text.stdout.contains("catalog members catalog-1, catalog-2"), "\(text.stdout)")
                #expect(text.stdout.contains("EPOCH") && text.stdout.contains("LEASE"), "\(text.stdout)")
                #expect(!text.stdout.contains("excluded"), "\(text.stdout)")

                // catalog-2 gone: a majority leaves it out, and status marks it excluded.
                #expect(try await PygmyProcess.run(["cluster", "kill", "--dir", dir, "catalog-2"]).status == 0)
                var after = try await PygmyProcess.run(["status", "--cluster", dir, "--json"])
                for _ in 0..<100 where (try? json(after.stdout)["excluded"] as? [String]) != ["catalog-2"] {
                    try await Task.sleep(for: .milliseconds(100))
                    after = try await PygmyProcess.run(["status", "--cluster", dir, "--json"])
                }
                let left = try json(after.stdout)
                #expect(left["excluded"] as? [String] == ["catalog-2"], "\(after.stdout)")
                let newer = try #require(left["membership"] as? [String: Any])
                #expect((newer["epoch"] as? Int ?? 0) >= 2 && newer["catalogs"] as? [String] == ["catalog-1"])
                let excludedText = try await PygmyProcess.run(["status", "--cluster", dir])
                #expect(
                    excludedText.stdout.contains("catalog members catalog-1; excluded catalog-2"),
                    "\(excludedText.stdout)"
                )
                let line = excludedText.stdout.split(separator: "\n").first { $0.hasPrefix("catalog-2") }
                #expect(line?.hasSuffix("excluded") == true, "\(excludedText.stdout)")
            }
        }

        @Test func clusterUpTakesTheNumberOfCatalogAndOrderReplicas() async throws {
            for bad in [["--catalogs", "0"], ["--orders", "10"]] {
                let refused = try await PygmyProcess.run(["cluster", "up", "--dir", "/nonexistent/x"] + bad)
                #expect(refused.status == 64, "\(bad): \(refused.stderr)")
                #expect(refused.stderr.contains("must be 1 to 9"), "\(refused.stderr)")
            }
            let dir = PygmyProcess.temporaryDirectory("pygmy-ops-3x3")
            var base = PygmyProcess.freeBasePort()
            for _ in 0..<20 where !(5..<7).allSatisfy({ PygmyProcess.isFree(base + $0) }) {
                base = PygmyProcess.freeBasePort()
            }
            try await PygmyProcess.withClusterDown(dir) {
                let up = try await PygmyProcess.run([
                    "cluster", "up", "--dir", dir, "--base-port", "\(base)", "--catalogs", "3", "--orders", "3",
                    "--detach",
                ])
                #expect(up.status == 0, "cluster up failed: \(up.stderr)")
                for name in ["catalog-3", "order-3"] { #expect(up.stdout.contains(name), "\(up.stdout)") }
                #expect(up.stdout.contains("127.0.0.1:\(base + 6)"), "\(up.stdout)")

                let ready = try await PygmyProcess.run([
                    "status", "--wait", "--timeout", "30", "--cluster", dir, "--json",
                ])
                #expect(ready.status == 0, "\(ready.stdout) \(ready.stderr)")
                let object = try json(ready.stdout)
                let nodes = try #require(object["nodes"] as? [[String: Any]])
                #expect(Set(nodes.compactMap { $0["name"] as? String }).count == 7, "\(nodes)")
                let membership = try #require(object["membership"] as? [String: Any])
                #expect(membership["catalogs"] as? [String] == ["catalog-1", "catalog-2", "catalog-3"])

                let buy = try await PygmyProcess.run(["buy", "1", "--quantity", "2", "--cluster", dir, "--json"])
                #expect(buy.status == 0, "\(buy.stdout) \(buy.stderr)")
                #expect(try json(buy.stdout)["quantity"] as? Int == 2, "\(buy.stdout)")

                // cluster down stops all seven (it removes each pid file once the node is gone).
                #expect(FileManager.default.fileExists(atPath: dir + "/pids/order-3.pid"))
                #expect(try await PygmyProcess.run(["cluster", "down", "--dir", dir]).status == 0)
                let left = try FileManager.default.contentsOfDirectory(atPath: dir + "/pids")
                #expect(left.isEmpty, "\(left)")
            }
        }

        /// The error object of a `--json` run that failed with `exit`.
        func failure(_ result: PygmyProcess.Result, exit: Int32) throws -> (code: String, message: String) {
            #expect(result.status == exit, "\(result.stdout) \(result.stderr)")
            let error = try #require(try json(result.stdout)["error"] as? [String: Any], "\(result.stdout)")
            let message = try #require(error["message"] as? String)
            for leak in ["SingleConnectionFailure", "NIOConnectionError", "IOError", "errno:", "Cocoa", "CodingKeys"] {
                #expect(!message.contains(leak), "library text in: \(message)")
            }
            return (try #require(error["code"] as? String), message)
        }

        @Test func aSilentServerIsNotAPygmyServerAndTheTimeoutBoundsTheWholeCall() async throws {
            try await FakeServer.with(replies: []) { server in
                let result = try await PygmyProcess.run(
                    ["lookup", "1", "--frontend", "127.0.0.1:\(server.port)", "--timeout", "2", "--json"],
                    timeout: .seconds(30)
                )
                let (code, message) = try failure(result, exit: 5)
                #expect(code == "notPygmyServer", "\(message)")
                #expect(message.contains("not a Pygmy server") && message.contains("127.0.0.1:\(server.port)"))
                #expect(!message.localizedCaseInsensitiveContains("tls"), "\(message)")
            }
        }

        @Test func aServerAnsweringAnotherProtocolIsNotAPygmyServer() async throws {
            try await FakeServer.with(replies: [Array("HTTP/1.1 400 Bad Request\r\n\r\n".utf8)]) { server in
                let result = try await PygmyProcess.run([
                    "orders", "--frontend", "127.0.0.1:\(server.port)", "--timeout", "5", "--json",
                ])
                let (code, message) = try failure(result, exit: 5)
                #expect(code == "notPygmyServer", "\(message)")
                #expect(message.contains("answered something other than a Pygmy hello"), "\(message)")
            }
        }

        @Test func anAnswerTooLargeHasItsOwnMessage() async throws {
            // A Pygmy hello (magic, version 1, role frontend), then, to the call, a frame declaring 2 GiB.
            let hello: [UInt8] = [0x50, 0x59, 0x47, 0x4D, 1, 3, 0, 0]
            try await FakeServer.with(replies: [hello, [0x7F, 0xFF, 0xFF, 0xFF]]) { server in
                let result = try await PygmyProcess.run([
                    "orders", "--frontend", "127.0.0.1:\(server.port)", "--timeout", "5", "--json",
                ])
                let (code, message) = try failure(result, exit: 1)
                #expect(code == "answerTooLarge", "\(message)")
                #expect(message.contains("too large") && !message.contains("unreachable"), "\(message)")
            }
        }

        @Test func aRefusedConnectionIsReportedWithoutLibraryText() async throws {
            let server = try FakeServer(replies: [])
            let port = server.port
            server.stop()
            let result = try await PygmyProcess.run(["lookup", "1", "--frontend", "127.0.0.1:\(port)", "--json"])
            let (code, message) = try failure(result, exit: 5)
            #expect(code == "unreachable")
            #expect(message.contains("127.0.0.1:\(port)") && message.contains("refused"), "\(message)")
        }

        @Test func demoWorksWithMutualTLS() async throws {
            let dir = PygmyProcess.temporaryDirectory("pygmy-ops-demo-tls")
            try await PygmyProcess.withClusterDown(dir) {
                let demo = try await PygmyProcess.run(
                    [
                        "demo", "--tls", "--clients", "2", "--requests", "20", "--dir", dir,
                        "--base-port", "\(PygmyProcess.freeBasePort())",
                    ],
                    timeout: .seconds(180)
                )
                #expect(demo.status == 0, "\(demo.stdout) \(demo.stderr)")
                #expect(demo.stdout.contains("CONSISTENT") && !demo.stdout.contains("INCONSISTENT"), "\(demo.stdout)")
                #expect(!demo.stderr.contains("may not call"), "\(demo.stderr)")
            }
        }

        @Test func negativeAndNonNumericArgumentsMustBePositiveIntegers() async throws {
            for arguments in [
                ["lookup", "-1"], ["buy", "-2"], ["restock", "1", "-5"], ["lookup", "one"],
                ["lookup", "0"],
            ] {
                let text = try await PygmyProcess.run(arguments)
                #expect(text.status == 64, "\(arguments): \(text.stderr)")
                #expect(text.stderr.contains("must be a positive integer"), "\(arguments): \(text.stderr)")
                #expect(!text.stderr.contains("Missing expected argument"), "\(arguments): \(text.stderr)")
                let json = try await PygmyProcess.run(arguments + ["--json"])
                let (code, message) = try failure(json, exit: 64)
                #expect(code == "invalidArguments" && message.contains("must be a positive integer"), "\(message)")
            }
        }

        @Test func aMistypedSubcommandGetsASuggestion() async throws {
            let top = try await PygmyProcess.run(["lokup", "1"])
            #expect(top.status == 64)
            #expect(top.stderr.contains("did you mean \"lookup\"?"), "\(top.stderr)")
            let nested = try await PygmyProcess.run(["cluster", "upp", "--dir", "x"])
            #expect(nested.status == 64)
            #expect(nested.stderr.contains("did you mean \"up\"?"), "\(nested.stderr)")
            let far = try await PygmyProcess.run(["xyzzy", "--json"])
            let (code, message) = try failure(far, exit: 64)
            #expect(code == "invalidArguments" && message.contains("one of: search, lookup"), "\(message)")
        }

        @Test func restockWithAnOperationIdRestocksOnce() async throws {
            let dir = PygmyProcess.temporaryDirectory("pygmy-ops-opid")
            try await PygmyProcess.withClusterDown(dir) {
                let up = try await PygmyProcess.run([
                    "cluster", "up", "--dir", dir, "--base-port", "\(PygmyProcess.freeBasePort())", "--detach",
                ])
                #expect(up.status == 0, "cluster up failed: \(up.stderr)")
                let first = try await PygmyProcess.run([
                    "restock", "2", "5", "--op-id", "r-1", "--cluster", dir, "--json",
                ])
                #expect(first.status == 0, "\(first.stdout) \(first.stderr)")
                let stock = try #require(try json(first.stdout)["stock"] as? Int)
                let retry = try await PygmyProcess.run([
                    "restock", "2", "5", "--op-id", "r-1", "--cluster", dir, "--json",
                ])
                #expect(retry.status == 0, "\(retry.stdout) \(retry.stderr)")
                #expect(try json(retry.stdout)["stock"] as? Int == stock, "\(retry.stdout)")
                let fresh = try await PygmyProcess.run([
                    "restock", "2", "5", "--op-id", "r-2", "--cluster", dir, "--json",
                ])
                #expect(try json(fresh.stdout)["stock"] as? Int == stock + 5, "\(fresh.stdout)")
                let price = try await PygmyProcess.run([
                    "price", "2", "17", "--op-id", "1-p", "--cluster", dir, "--json",
                ])
                #expect(price.status == 0, "\(price.stderr)")
                let cost = try json(price.stdout)["cost"] as? Int
                #expect(cost == 17, "\(price.stdout)")
            }
        }

        @Test func aNodeThatCannotStartIsReportedWithItsOwnError() async throws {
            let dir = PygmyProcess.temporaryDirectory("pygmy-ops-dead")
            try await PygmyProcess.withClusterDown(dir) {
                // A data directory that is a file: catalog-1 dies at start, and `cluster up` says so at once.
                let base = PygmyProcess.freeBasePort()
                try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
                try "not a directory".write(toFile: dir + "/data/catalog-1", atomically: true, encoding: .utf8)
                let up = try await PygmyProcess.run([
                    "cluster", "up", "--dir", dir, "--base-port", "\(base)", "--detach",
                ])
                #expect(up.status != 0)
                #expect(!up.stdout.contains("pygmy cluster up in"), "\(up.stdout)")
                #expect(up.stderr.contains("catalog-1 exited during start-up"), "\(up.stderr)")
            }
        }
    }
}
