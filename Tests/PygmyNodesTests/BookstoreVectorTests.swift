import Foundation
import PygmyBookstore
import PygmyNodes
import PygmyWire
import Testing

/// Golden vectors for the bookstore messages in `Protocol/vectors/bookstore/` (same format as the
/// framework's vectors: `#` comment lines, then hex). `PYGMY_WRITE_VECTORS=1` rewrites them.
@Suite struct BookstoreVectorTests {
    struct Vector: Sendable, CustomTestStringConvertible {
        var name: String
        var description: String
        var encode: @Sendable () throws -> [UInt8]
        var decodesBack: @Sendable ([UInt8]) throws -> Bool
        var testDescription: String { name }

        static func of<T: Codable & Equatable & Sendable>(_ name: String, _ description: String, _ value: T) -> Vector {
            Vector(
                name: name,
                description: description,
                encode: { try BinaryEncoder().encode(value) },
                decodesBack: { try BinaryDecoder().decode(T.self, from: $0) == value }
            )
        }
    }

    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Protocol/vectors/bookstore")

    static let all: [Vector] = [
        .of(
            "search-request",
            "SearchRequest{topic: \"distributed systems\"}.",
            SearchRequest(topic: "distributed systems")
        ),
        .of(
            "search-response",
            "SearchResponse{items: [{item: 1, title: \"RPCs\"}, {item: 2, title: \"Xen\"}]}.",
            SearchResponse(items: [BookSummary(item: 1, title: "RPCs"), BookSummary(item: 2, title: "Xen")])
        ),
        .of("lookup-request", "LookupRequest{item: 3}.", LookupRequest(item: 3)),
        .of(
            "book",
            "Book{item: 2, title: \"RPCs for Dummies\", topic: \"distributed systems\", stock: 4, cost: 40}.",
            Book(item: 2, title: "RPCs for Dummies", topic: "distributed systems", stock: 4, cost: 40)
        ),
        .of(
            "buy-request",
            "BuyRequest{item: 1, quantity: 2, requestId: \"r-1\"}.",
            BuyRequest(item: 1, quantity: 2, requestId: "r-1")
        ),
        .of(
            "buy-response",
            "BuyResponse{order: 7, item: 1, quantity: 2, cost: 60, requestId: \"r-1\"}.",
            BuyResponse(order: 7, item: 1, quantity: 2, cost: 60, requestId: "r-1")
        ),
        .of(
            "hold-request",
            "HoldRequest{requestId: \"r-1\", item: 1, quantity: 2, coordinator: \"order-1\"}.",
            HoldRequest(requestId: "r-1", item: 1, quantity: 2, coordinator: "order-1")
        ),
        .of(
            "hold-outcome-held",
            "HoldOutcome.held(unitCost: 30, checked: true).",
            HoldOutcome.held(unitCost: 30, checked: true)
        ),
        .of("hold-outcome-out-of-stock", "HoldOutcome.outOfStock(available: 0).", HoldOutcome.outOfStock(available: 0)),
        .of(
            "commit",
            "CommittedBuy{requestId: \"r-1\", item: 1, quantity: 2}.",
            CommittedBuy(requestId: "r-1", item: 1, quantity: 2)
        ),
        .of(
            "resolution-committed",
            "Resolution.committed(CommittedBuy{requestId: \"r-1\", item: 1, quantity: 2}).",
            Resolution.committed(CommittedBuy(requestId: "r-1", item: 1, quantity: 2))
        ),
        .of("resolution-aborted", "Resolution.aborted.", Resolution.aborted),
        .of(
            "order-record",
            "OrderRecord{order: 1, requestId: \"r-1\", item: 1, quantity: 2, unitCost: 30, timeMicros: 1700000000000000, coordinator: \"order-1\"}.",
            OrderRecord(
                order: 1,
                requestId: "r-1",
                item: 1,
                quantity: 2,
                unitCost: 30,
                timeMicros: 1_700_000_000_000_000,
                coordinator: "order-1"
            )
        ),
        .of(
            "invalidation",
            "Invalidation{item: 1, topic: \"distributed systems\"}.",
            Invalidation(item: 1, topic: "distributed systems")
        ),
        .of(
            "restock-request",
            "RestockRequest{item: 4, count: 10, opId: \"op-1\"}.",
            RestockRequest(item: 4, count: 10, opId: "op-1")
        ),
        .of(
            "order-page-request",
            "OrderPageRequest{limit: 1000, cursor: \"order-1:42\", item: nil} (the next page, any item).",
            OrderPageRequest(limit: 1000, cursor: "order-1:42")
        ),
        .of(
            "order-page-last",
            "OrderPage{orders: [], next: nil} (a last page with no orders).",
            OrderPage(orders: [], next: nil)
        ),
        .of("empty", "Empty{} (an empty struct).", Empty()),
        .of(
            "health-request-no-latencies",
            "HealthRequest{latencies: false} (a heartbeat's node.health request).",
            HealthRequest(latencies: false)
        ),
    ]

    @Test(arguments: all)
    func vectorMatchesInBothDirections(_ vector: Vector) throws {
        let url = Self.directory.appendingPathComponent(vector.name + ".hex")
        let encoded = try vector.encode()
        if ProcessInfo.processInfo.environment["PYGMY_WRITE_VECTORS"] == "1" {
            try FileManager.default.createDirectory(at: Self.directory, withIntermediateDirectories: true)
            var lines = ["# bookstore/\(vector.name)", "# \(vector.description)", "# \(encoded.count) bytes"]
            for start in stride(from: 0, to: encoded.count, by: 16) {
                lines.append(
                    encoded[start..<min(start + 16, encoded.count)].map { String(format: "%02x", $0) }.joined(
                        separator: " "
                    )
                )
            }
            try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        }
        let stored = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
            .filter { !$0.hasPrefix("#") }
            .flatMap { $0.split(separator: " ") }
            .map { UInt8($0, radix: 16)! }
        #expect(encoded == stored, "encoding \(vector.name) no longer matches \(url.path)")
        #expect(try vector.decodesBack(stored))
    }
}
