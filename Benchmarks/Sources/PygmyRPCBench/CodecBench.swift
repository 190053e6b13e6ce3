import Foundation
import PygmyWire

/// A catalog record, as the bookstore's catalog serves it.
struct Book: Codable, Sendable {
    var item: Int
    var title: String
    var topic: String
    var stock: Int
    var cost: Int
}

extension Book {
    /// The original store's titles and topics.
    static let originals: [(title: String, topic: String)] = [
        ("How to get a good grade in 677 in 20 minutes a day", "distributed systems"),
        ("RPCs for Dummies", "distributed systems"),
        ("Xen and the Art of Surviving Graduate School", "graduate school"),
        ("Cooking for the Impatient Graduate Student", "graduate school"),
        ("How to finish Project 3 on time", "graduate school"),
        ("Why theory classes are so hard.", "graduate school"),
        ("Spring in the Pioneer Valley", "graduate school"),
    ]

    static let sample = Book(item: 1, title: originals[0].title, topic: originals[0].topic, stock: 10, cost: 30)

    /// A 100-book search result cycling through the original titles.
    static let searchResult: [Book] = (0..<100).map { i in
        let original = originals[i % originals.count]
        return Book(item: i + 1, title: original.title, topic: original.topic, stock: 10 + i % 7, cost: 20 + i % 40)
    }
}

/// One codec measurement: nanoseconds per operation (median over batches) and the encoded size.
struct CodecResult: Codable, Sendable {
    var value: String
    var codec: String
    var encodeNanos: Double
    var decodeNanos: Double
    /// Encode then decode, timed together.
    var roundTripNanos: Double
    var bytes: Int
}

/// Pygmy's `BinaryEncoder`/`BinaryDecoder` against Foundation's `JSONEncoder`/`JSONDecoder`.
enum CodecBench {
    static func run(batches: Int, targetBatchSeconds: Double) throws -> [CodecResult] {
        var results: [CodecResult] = []
        results += try measure("Book", Book.sample, batches: batches, seconds: targetBatchSeconds)
        results += try measure("[Book] x100", Book.searchResult, batches: batches, seconds: targetBatchSeconds)
        return results
    }

    static func measure<T: Codable>(_ name: String, _ value: T, batches: Int, seconds: Double) throws -> [CodecResult] {
        let binaryEncoder = BinaryEncoder()
        let binaryDecoder = BinaryDecoder()
        let jsonEncoder = JSONEncoder()
        let jsonDecoder = JSONDecoder()
        let binary = try binaryEncoder.encode(value)
        let json = try jsonEncoder.encode(value)
        return [
            CodecResult(
                value: name,
                codec: "binary",
                encodeNanos: try time(batches, seconds) { try binaryEncoder.encode(value).count },
                decodeNanos: try time(batches, seconds) { _ = try binaryDecoder.decode(T.self, from: binary) },
                roundTripNanos: try time(batches, seconds) {
                    _ = try binaryDecoder.decode(T.self, from: binaryEncoder.encode(value))
                },
                bytes: binary.count
            ),
            CodecResult(
                value: name,
                codec: "json",
                encodeNanos: try time(batches, seconds) { try jsonEncoder.encode(value).count },
                decodeNanos: try time(batches, seconds) { _ = try jsonDecoder.decode(T.self, from: json) },
                roundTripNanos: try time(batches, seconds) {
                    _ = try jsonDecoder.decode(T.self, from: jsonEncoder.encode(value))
                },
                bytes: json.count
            ),
        ]
    }

    /// Sizes a batch to about `seconds`, then returns the median nanoseconds per call over `batches` batches.
    static func time<R>(_ batches: Int, _ seconds: Double, _ body: () throws -> R) throws -> Double {
        var sink = 0
        var iterations = 1
        while true {  // calibrate (and warm up)
            let start = nowNanos()
            for _ in 0..<iterations { sink &+= blackHole(try body()) }
            let elapsed = Double(nowNanos() - start) / 1e9
            if elapsed >= seconds / 4 || iterations >= 1 << 30 {
                iterations = max(1, Int(Double(iterations) * seconds / max(elapsed, 1e-9)))
                break
            }
            iterations *= 2
        }
        var perCall: [Double] = []
        for _ in 0..<batches {
            let start = nowNanos()
            for _ in 0..<iterations { sink &+= blackHole(try body()) }
            perCall.append(Double(nowNanos() - start) / Double(iterations))
        }
        if sink == 42 { log("") }  // keeps `sink` alive
        return perCall.sorted()[perCall.count / 2]
    }
}

/// Keeps a result from being optimized away.
@inline(never)
@_optimize(none)
func blackHole<R>(_ value: R) -> Int { 1 }
