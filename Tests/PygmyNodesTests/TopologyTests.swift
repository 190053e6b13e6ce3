import Foundation
import PygmyBookstore
import Testing

@testable import PygmyNodes

@Suite struct TopologyTests {
    func write(_ text: String, name: String = "topology.json") throws -> String {
        let dir = NSTemporaryDirectory() + "pygmy-topology-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let nodes = """
          "nodes": [
            // the only node clients talk to
            {"name": "front", "role": "frontend", "host": "127.0.0.1", "port": 7000, "cache": false},
            {"name": "c1", "role": "catalog", "host": "127.0.0.1", "port": 7001, "dataDir": "data/c1"},
            {"name": "o1", "role": "order", "host": "127.0.0.1", "port": 7002, "dataDir": "data/o1"}
          ]
        """

    @Test func commentedTopologyWithAReplacementBookFileLoads() throws {
        let path = try write("{\n  \"books\": \"books.json\",\n  \"heartbeatMillis\": 50,\n\(Self.nodes)\n}\n")
        let dir = (path as NSString).deletingLastPathComponent
        let books = [CatalogSeed(item: 7, title: "Paxos Made Simple", topic: "consensus", stock: 3, cost: 12)]
        try JSONEncoder().encode(books).write(to: URL(fileURLWithPath: dir + "/books.json"))
        let topology = try Topology.load(path: path)
        #expect(topology.nodes.map(\.name) == ["front", "c1", "o1"])
        #expect(topology.nodes[0].cache == false)
        #expect(topology.heartbeatInterval == .milliseconds(50))
        #expect(try topology.seedBooks() == books)
        #expect(topology.resolve("data/c1") == dir + "/data/c1")
    }

    /// PygmyNodes does not link OpenSSL: the composition root injects transport security. A node whose
    /// topology asks for TLS but is given none must refuse to start rather than run in plaintext.
    @Test func aTLSNodeWithoutInjectedSecurityFailsAtInit() throws {
        let spec = NodeSpec(
            name: "front",
            role: .frontend,
            host: "127.0.0.1",
            port: 7000,
            tls: NodeTLS(certificate: "front.crt", key: "front.key", ca: "ca.crt")
        )
        let topology = Topology(nodes: [spec], baseDirectory: NSTemporaryDirectory())
        #expect {
            _ = try PygmyNode(name: "front", topology: topology)
        } throws: { error in
            "\(error)" == "node front's topology asks for TLS but no transport security was given"
        }
    }

    @Test func mistakesAreReportedByName() throws {
        let duplicate = try write(
            #"{"nodes": [{"name": "a", "role": "frontend", "host": "h", "port": 1}, {"name": "a", "role": "catalog", "host": "h", "port": 2, "dataDir": "d"}]}"#
        )
        #expect { try Topology.load(path: duplicate) } throws: { "\($0)".contains("appears twice") }
        let missingRole = try write(#"{"nodes": [{"name": "a", "role": "frontend", "host": "h", "port": 1}]}"#)
        #expect { try Topology.load(path: missingRole) } throws: { "\($0)".contains("no catalog node") }
        let badRole = try write(#"{"nodes": [{"name": "a", "role": "cashier", "host": "h", "port": 1}]}"#)
        #expect { try Topology.load(path: badRole) } throws: {
            "\($0)".contains("role is not one of the allowed values")
        }
        #expect { try Topology.load(path: "/nonexistent/topology.json") } throws: { "\($0)".contains("cannot read") }
    }
}

/// Strict configuration: a typo is an error that names where it is and what was probably meant.
@Suite struct StrictTopologyTests {
    func load(_ text: String) throws -> Topology {
        let dir = NSTemporaryDirectory() + "pygmy-strict-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try text.write(toFile: dir + "/topology.json", atomically: true, encoding: .utf8)
        return try Topology.load(path: dir + "/topology.json")
    }

    func failure(_ text: String) -> String {
        do {
            _ = try load(text)
            return "loaded"
        } catch {
            return "\(error)"
        }
    }

    static let good = """
        {
          // comment lines keep their place, so line numbers stay true
          "nodes": [
            {"name": "front", "role": "frontend", "host": "127.0.0.1", "port": 7000},
            {"name": "c1", "role": "catalog", "host": "127.0.0.1", "port": 7001, "dataDir": "data/c1"},
            {"name": "o1", "role": "order", "host": "127.0.0.1", "port": 7002, "dataDir": "data/o1"}
          ]
        }
        """

    @Test func aMistypedTLSKeyIsRefusedWithItsPathLineAndSuggestion() throws {
        let text = Self.good.replacingOccurrences(
            of: #""port": 7001,"#,
            with: #""port": 7001, "tsl": {"certificate": "a", "key": "b", "ca": "c"},"#
        )
        let message = failure(text)
        #expect(message.contains("line 5"), "\(message)")
        #expect(message.contains(#""nodes[1].tsl""#), "\(message)")
        #expect(message.contains(#"did you mean "tls"?"#), "\(message)")
    }

    @Test func unknownKeysAtEveryLevelAreRefused() throws {
        let top = failure(Self.good.replacingOccurrences(of: "\"nodes\"", with: "\"heartbeatMilis\": 50, \"nodes\""))
        #expect(top.contains(#"did you mean "heartbeatMillis"?"#), "\(top)")
        let cache = failure(
            Self.good.replacingOccurrences(of: "\"port\": 7000", with: "\"port\": 7000, \"cahce\": true")
        )
        #expect(cache.contains(#""nodes[0].cahce""#) && cache.contains(#""cache""#), "\(cache)")
        let limits = failure(
            Self.good.replacingOccurrences(of: "\"nodes\"", with: "\"limits\": {\"maxConection\": 3}, \"nodes\"")
        )
        #expect(limits.contains(#""limits.maxConection""#) && limits.contains("maxConnections"), "\(limits)")
        let nonsense = failure(Self.good.replacingOccurrences(of: "\"nodes\"", with: "\"zzzzzzzz\": 1, \"nodes\""))
        #expect(nonsense.contains("known keys here:"), "\(nonsense)")
    }

    @Test func decodeErrorsNameTheLineColumnAndKeyInsteadOfLibraryTypes() throws {
        let missing = failure(Self.good.replacingOccurrences(of: #", "port": 7002"#, with: ""))
        #expect(
            missing.contains("line 6, column 5") && missing.contains(#"lacks the required key "port""#),
            "\(missing)"
        )
        #expect(!missing.contains("CodingKeys") && !missing.contains("keyNotFound"), "\(missing)")
        let wrongType = failure(Self.good.replacingOccurrences(of: "7001", with: "\"7001\""))
        #expect(wrongType.contains("nodes[1].port must be a whole number"), "\(wrongType)")
        #expect(wrongType.contains("line 5"), "\(wrongType)")
        let badRole = failure(Self.good.replacingOccurrences(of: "\"order\"", with: "\"cashier\""))
        #expect(badRole.contains("nodes[2].role") && badRole.contains("allowed"), "\(badRole)")
        let syntax = failure(Self.good.replacingOccurrences(of: "7000}", with: "7000},,"))
        #expect(syntax.contains("line 4") && syntax.contains("not valid JSON"), "\(syntax)")
        let trailing = failure(Self.good.replacingOccurrences(of: "\"data/o1\"}", with: "\"data/o1\"},"))
        #expect(trailing.contains("line 7"), "\(trailing)")
    }

    @Test func theClusterIdMustBeAUUID() throws {
        let bad = failure(Self.good.replacingOccurrences(of: "\"nodes\"", with: "\"clusterId\": \"shop\", \"nodes\""))
        #expect(bad.contains("not a UUID"), "\(bad)")
        let id = UUID()
        let good = try load(
            Self.good.replacingOccurrences(of: "\"nodes\"", with: "\"clusterId\": \"\(id)\", \"nodes\"")
        )
        #expect(good.clusterUUID == id)
    }

    @Test func metricsPortAndHostAreCheckedAndTheirTyposCaught() throws {
        let metrics = try load(
            Self.good.replacingOccurrences(of: "\"port\": 7000", with: "\"port\": 7000, \"metricsPort\": 9100")
        )
        #expect(metrics.nodes[0].metricsAddress?.host == "127.0.0.1" && metrics.nodes[0].metricsAddress?.port == 9100)
        #expect(metrics.nodes[1].metricsAddress == nil)
        let typo = failure(
            Self.good.replacingOccurrences(of: "\"port\": 7000", with: "\"port\": 7000, \"metricPort\": 9100")
        )
        #expect(typo.contains(#""nodes[0].metricPort""#) && typo.contains(#"did you mean "metricsPort"?"#), "\(typo)")
        let range = failure(
            Self.good.replacingOccurrences(of: "\"port\": 7000", with: "\"port\": 7000, \"metricsPort\": 70000")
        )
        #expect(range.contains("metricsPort 70000 is out of range"), "\(range)")
        let same = failure(
            Self.good.replacingOccurrences(of: "\"port\": 7000", with: "\"port\": 7000, \"metricsPort\": 7000")
        )
        #expect(same.contains("is the node's RPC port"), "\(same)")
        let hostOnly = failure(
            Self.good.replacingOccurrences(of: "\"port\": 7000", with: "\"port\": 7000, \"metricsHost\": \"0.0.0.0\"")
        )
        #expect(hostOnly.contains("metricsHost is set but metricsPort is not"), "\(hostOnly)")
        let elsewhere = try load(
            Self.good.replacingOccurrences(
                of: "\"port\": 7000",
                with: "\"port\": 7000, \"metricsPort\": 0, \"metricsHost\": \"::1\""
            )
        )
        #expect(elsewhere.nodes[0].metricsAddress?.host == "::1" && elsewhere.nodes[0].metricsAddress?.port == 0)
    }

    @Test func theExampleDeploymentTopologyLoads() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let topology = try Topology.load(path: root.appendingPathComponent("deploy/topology.example.jsonc").path)
        #expect(topology.nodes.count == 5)
    }

    @Test func suggestionsAreForTyposOnly() {
        #expect(StrictJSON.suggestion(for: "tsl", among: ["tls", "host"]) == "tls")
        #expect(StrictJSON.suggestion(for: "prot", among: ["port", "name"]) == "port")
        #expect(StrictJSON.suggestion(for: "banana", among: ["tls", "port"]) == nil)
        #expect(StrictJSON.editDistance("kitten", "sitting") == 3)
    }
}
