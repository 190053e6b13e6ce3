import Foundation
import Testing

extension LiveProcessTests {
    /// `pygmy chaos` end to end: real node processes, SIGKILLed and restarted while clients buy, then every
    /// invariant checked against the replicas' durable state.
    @Suite("pygmy chaos", .serialized)
    struct ChaosTests {
        @Test("a short chaos run finds no anomaly", .timeLimit(.minutes(3)))
        func shortRunIsClean() async throws {
            let directory = PygmyProcess.temporaryDirectory("pygmy-chaos-test")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let result = try await PygmyProcess.run(
                [
                    "chaos", "--duration", "20", "--clients", "6", "--seed", "20251125",
                    "--base-port", "\(PygmyProcess.freeBasePort())", "--dir", directory + "/cluster",
                ],
                timeout: .seconds(150)
            )
            let output = result.stdout + result.stderr
            #expect(result.status == 0, "pygmy chaos exited \(result.status):\n\(output)")
            #expect(result.stdout.contains("anomalies: 0"), "\(output)")
            #expect(result.stdout.contains("faults injected:"), "\(output)")
            #expect(!result.stdout.contains("faults injected: 0"), "no fault was injected:\n\(output)")
        }

        @Test("the JSON summary is one object with the counts", .timeLimit(.minutes(2)))
        func jsonSummary() async throws {
            let directory = PygmyProcess.temporaryDirectory("pygmy-chaos-json")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let result = try await PygmyProcess.run(
                [
                    "chaos", "--duration", "4", "--clients", "2", "--seed", "7", "--json", "--probes", "20",
                    "--base-port", "\(PygmyProcess.freeBasePort())", "--dir", directory + "/cluster",
                ],
                timeout: .seconds(90)
            )
            #expect(result.status == 0, "pygmy chaos exited \(result.status):\n\(result.stdout)\n\(result.stderr)")
            let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            #expect(object?["seed"] as? Int == 7)
            #expect(object?["anomalyCount"] as? Int == 0)
            let buys = object?["buys"] as? [String: Any]
            #expect((buys?["attempted"] as? Int ?? 0) > 0)
            #expect(result.stderr.contains("pygmy chaos: seed 7"), "progress goes to stderr with --json")
        }

        @Test("invalid options are refused")
        func invalidOptions() async throws {
            let result = try await PygmyProcess.run(["chaos", "--duration", "0"], timeout: .seconds(20))
            #expect(result.status == 64, "\(result.stdout)\n\(result.stderr)")
        }
    }
}
