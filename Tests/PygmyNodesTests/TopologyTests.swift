import Foundation
import PygmyBookstore
import PygmyNodes
import Testing

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

    @Test func mistakesAreReportedByName() throws {
        let duplicate = try write(
            #"{"nodes": [{"name": "a", "role": "frontend", "host": "h", "port": 1}, {"name": "a", "role": "catalog", "host": "h", "port": 2, "dataDir": "d"}]}"#
        )
        #expect { try Topology.load(path: duplicate) } throws: { "\($0)".contains("appears twice") }
        let missingRole = try write(#"{"nodes": [{"name": "a", "role": "frontend", "host": "h", "port": 1}]}"#)
        #expect { try Topology.load(path: missingRole) } throws: { "\($0)".contains("no catalog node") }
        let badRole = try write(#"{"nodes": [{"name": "a", "role": "cashier", "host": "h", "port": 1}]}"#)
        #expect { try Topology.load(path: badRole) } throws: { "\($0)".contains("not valid") }
        #expect { try Topology.load(path: "/nonexistent/topology.json") } throws: { "\($0)".contains("cannot read") }
    }
}
