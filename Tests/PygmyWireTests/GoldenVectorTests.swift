import Foundation
import NIOCore
import PygmyWire
import Testing

/// One golden vector: the bytes the spec says a value encodes to, and a check that decoding them gives
/// the value back.
struct GoldenVector: Sendable, CustomTestStringConvertible {
    var name: String
    var description: String
    var encode: @Sendable () throws -> [UInt8]
    var decodesBack: @Sendable ([UInt8]) throws -> Bool
    var testDescription: String { name }
}

extension GoldenVector {
    static func value<T: Codable & Equatable & Sendable>(
        _ name: String,
        _ description: String,
        _ value: T
    ) -> GoldenVector {
        GoldenVector(
            name: "codec/\(name)",
            description: description,
            encode: { try BinaryEncoder().encode(value) },
            decodesBack: { try BinaryDecoder().decode(T.self, from: $0) == value }
        )
    }

    /// A NaN: encodes to the canonical NaN, which decodes to a NaN.
    static func nan<T: BinaryFloatingPoint & Codable & Sendable>(
        _ name: String,
        _ description: String,
        _ value: T
    )
        -> GoldenVector
    {
        GoldenVector(
            name: "codec/\(name)",
            description: description,
            encode: { try BinaryEncoder().encode(value) },
            decodesBack: { try BinaryDecoder().decode(T.self, from: $0).isNaN }
        )
    }

    /// A value whose encoding decodes to another value (nested optionals lose their inner nil).
    static func oneWay<T: Codable & Equatable & Sendable>(
        _ name: String,
        _ description: String,
        _ value: T,
        decodesAs decoded: T
    ) -> GoldenVector {
        GoldenVector(
            name: "codec/\(name)",
            description: description,
            encode: { try BinaryEncoder().encode(value) },
            decodesBack: { try BinaryDecoder().decode(T.self, from: $0) == decoded }
        )
    }

    static func wire(_ name: String, _ description: String, _ message: WireMessage) -> GoldenVector {
        GoldenVector(
            name: name,
            description: description,
            encode: {
                var buffer = ByteBuffer()
                try WireMessageEncoder().encode(data: message, out: &buffer)
                return Array(buffer.readableBytesView)
            },
            decodesBack: { bytes in
                var buffer = ByteBuffer(bytes: bytes)
                var decoder: FrameDecoder
                if case .hello = message {
                    decoder = FrameDecoder()
                } else {
                    decoder = FrameDecoder(expectHello: false)
                }
                return try decoder.decodeMessage(&buffer) == message && buffer.readableBytes == 0
            }
        )
    }
}

/// The vectors in `Protocol/vectors/`. Each file holds `#` comment lines and then hex bytes.
/// Run with `PYGMY_WRITE_VECTORS=1` to rewrite the files after an intended format change.
@Suite struct GoldenVectorTests {
    static let vectorsDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Protocol/vectors")

    static let echoPayload: [UInt8] = try! BinaryEncoder().encode("hi")

    static let all: [GoldenVector] = [
        .wire(
            "handshake/client-hello",
            "Client hello: magic PYGM, version 1, role client (1), flags 0.",
            .hello(Hello(role: .client))
        ),
        .wire(
            "handshake/server-hello-catalog",
            "Server hello: version 1, role catalog (4).",
            .hello(Hello(role: .catalog))
        ),
        .wire(
            "handshake/server-refuses-version",
            "Server refusing the client's version: version 0, role order (5).",
            .hello(Hello(version: 0, role: .order))
        ),
        .wire(
            "frames/request",
            "Request: stream 1, method \"test.echo\", timeout 250000 µs, payload = the String \"hi\" (slot 03 68 69).",
            .frame(
                .request(
                    streamID: 1,
                    method: "test.echo",
                    timeoutMicros: 250_000,
                    payload: ByteBuffer(bytes: echoPayload)
                )
            )
        ),
        .wire(
            "frames/request-no-deadline",
            "Request: stream 7, method \"a.b\", timeout 0 (none), payload = Int 0 (slot 02 00).",
            .frame(.request(streamID: 7, method: "a.b", timeoutMicros: 0, payload: ByteBuffer(bytes: [2, 0])))
        ),
        .wire(
            "frames/response",
            "Response: stream 1, payload = the String \"hi\".",
            .frame(.response(streamID: 1, payload: ByteBuffer(bytes: echoPayload)))
        ),
        .wire(
            "frames/error",
            "Error: stream 2, code 12 (unimplemented), message `unknown method \"nope\"`.",
            .frame(.error(streamID: 2, code: 12, message: "unknown method \"nope\""))
        ),
        .wire(
            "frames/error-connection",
            "Connection-level error on stream 0: code 8 (resourceExhausted), message \"too big\".",
            .frame(.error(streamID: 0, code: 8, message: "too big"))
        ),
        .wire("frames/cancel", "Cancel: stream 3.", .frame(.cancel(streamID: 3))),
        .wire("frames/ping", "Ping: opaque value 0x0102030405060708.", .frame(.ping(0x0102_0304_0506_0708))),
        .wire("frames/pong", "Pong echoing 0x0102030405060708.", .frame(.pong(0x0102_0304_0506_0708))),
        .wire(
            "frames/push",
            "Push: topic \"catalog.invalidated\", payload = Int 2 (slot 02 04).",
            .frame(.push(topic: "catalog.invalidated", payload: ByteBuffer(bytes: [2, 4])))
        ),
        .wire(
            "frames/go-away",
            "GoAway: reason \"server shutting down\".",
            .frame(.goAway(reason: "server shutting down"))
        ),
        .wire(
            "handshake/client-hello-cluster",
            "Client hello announcing its cluster id: role client (1), flags 0x0001 (clusterIdFollows).",
            .hello(Hello(role: .client, flags: Hello.clusterIdFollows))
        ),
        .wire(
            "frames/cluster-id",
            "ClusterId frame (kind 9, stream 0) after such a hello: cluster 6f1c2b3a-0d4e-4f5a-8b6c-7d8e9f0a1b2c.",
            .frame(.clusterId(UUID(uuidString: "6F1C2B3A-0D4E-4F5A-8B6C-7D8E9F0A1B2C")!))
        ),
        .wire(
            "handshake/hello-flags",
            "Hello with flags 0x0102: the u16 is big-endian, 01 then 02.",
            .hello(Hello(role: .admin, flags: 0x0102))
        ),
        .value("int-zero", "Int 0.", 0),
        .value("int-max", "Int.max: Int is 64 bits (ZigZag 2^64-2, ten varint bytes).", Int.max),
        .value("uint-127", "UInt 127: the largest one-byte varint (7f).", UInt(127)),
        .value("uint-128", "UInt 128: the smallest two-byte varint (80 01).", UInt(128)),
        .value(
            "dictionary-sorted",
            "[String: Int] = [\"b\": 2, \"aa\": 3, \"a\": 1]: entries sorted by encoded key (01 61, 01 62, 02 61 61).",
            ["b": 2, "aa": 3, "a": 1]
        ),
        .value(
            "dictionary-int-keys",
            "[Int: String] = [10: \"x\", 9: \"y\", -1: \"z\"]: keys are decimal text, sorted by encoded key (\"9\", \"-1\", \"10\").",
            [10: "x", 9: "y", -1: "z"]
        ),
        .value(
            "dictionary-pairs",
            "[Double: Int] = [1.0: 1, 2.5: 2]: key slot, value slot, sorted by the key slot's bytes (2.5 first).",
            [1.0: 1, 2.5: 2] as [Double: Int]
        ),
        .value(
            "set-sorted",
            "Set<Int> = [300, 3, -1, 0]: element slots sorted by their bytes (02 00, 02 01, 02 06, 03 d8 04).",
            Set([300, 3, -1, 0])
        ),
        .nan(
            "double-nan",
            "Double NaN (here a negative signalling NaN): always the canonical quiet NaN 00 00 00 00 00 00 f8 7f.",
            Double(bitPattern: 0xFFF0_0000_0000_0001)
        ),
        .nan(
            "float-nan",
            "Float NaN (here with payload 1): always the canonical quiet NaN 00 00 c0 7f.",
            Float(bitPattern: 0x7FC0_0001)
        ),
        .oneWay(
            "nested-optional",
            "[Int??] = [.some(nil), .some(1), nil]: every nil layer is the nil slot 00; .some(nil) decodes as nil.",
            [.some(nil), .some(1), nil] as [Int??],
            decodesAs: [nil, .some(1), nil] as [Int??]
        ),
        .value(
            "enum-mixed",
            "Mixed.values(7, label: \"x\", true): unlabelled values are _N by position: {\"values\": {\"_0\", \"label\", \"_2\"}}.",
            Mixed.values(7, label: "x", true)
        ),
        .value(
            "nesting-64",
            "64 container levels (each an unkeyed container of the next; the innermost is empty): the deepest accepted.",
            Nested.chain(64)
        ),
        .value("int-negative", "Int -1 (ZigZag 1).", -1),
        .value("int-300", "Int 300 (ZigZag 600 = varint d8 04).", 300),
        .value("int64-min", "Int64.min (ZigZag 2^64-1, ten varint bytes).", Int64.min),
        .value("uint64-max", "UInt64.max (ten varint bytes).", UInt64.max),
        .value("bool-true", "Bool true.", true),
        .value("double", "Double 1.5 (little-endian IEEE 754).", 1.5),
        .value("float", "Float -2.0 (little-endian IEEE 754).", Float(-2)),
        .value("string-unicode", "String \"Grüße📚\" (UTF-8, no terminator).", "Grüße📚"),
        .value("string-empty", "Empty String (slot header 01, no payload).", ""),
        .value("optional-nil", "Optional<Int>.none at top level (slot header 00).", Int?.none),
        .value("array-of-optionals", "[Int?] = [1, nil, -2].", [1, nil, -2] as [Int?]),
        .value("dictionary-string-keys", "[String: Int] = [\"a\": 1] (a keyed container).", ["a": 1]),
        .value("data", "Data 00 ff 10 (raw bytes).", Data([0x00, 0xFF, 0x10])),
        .value(
            "date",
            "Date at 1.0 s after 2001-01-01T00:00:00Z (Double seconds since the reference date).",
            Date(timeIntervalSinceReferenceDate: 1)
        ),
        .value(
            "uuid",
            "UUID 00112233-4455-6677-8899-AABBCCDDEEFF (16 raw bytes).",
            UUID(uuidString: "00112233-4455-6677-8899-AABBCCDDEEFF")!
        ),
        .value(
            "struct-book",
            "Book{item: 1, title: \"RPCs for Dummies\", topic: \"distributed systems\", stock: 4, cost: 40}.",
            Book(item: 1, title: "RPCs for Dummies", topic: "distributed systems", stock: 4, cost: 40)
        ),
        .value(
            "struct-optional-absent",
            "OrderV2{item: 3, giftNote: nil, quantity: 2}: the nil field is left out.",
            OrderV2(item: 3, giftNote: nil, quantity: 2)
        ),
        .value("enum-no-values", "Shape.point: {\"point\": {}}.", Shape.point),
        .value(
            "enum-labelled",
            "Shape.circle(radius: 2.5): {\"circle\": {\"radius\": 2.5}}.",
            Shape.circle(radius: 2.5)
        ),
        .value(
            "enum-unlabelled",
            "Shape.rectangle(1, 2): {\"rectangle\": {\"_0\": 1.0, \"_1\": 2.0}}.",
            Shape.rectangle(1, 2)
        ),
    ]

    static func parseHex(_ text: String) -> [UInt8] {
        text.split(separator: "\n")
            .filter { !$0.hasPrefix("#") }
            .flatMap { $0.split(whereSeparator: \.isWhitespace) }
            .map { UInt8($0, radix: 16)! }
    }

    static func render(_ vector: GoldenVector, _ bytes: [UInt8]) -> String {
        var lines = ["# \(vector.name)", "# \(vector.description)", "# \(bytes.count) bytes"]
        for start in stride(from: 0, to: bytes.count, by: 16) {
            lines.append(
                bytes[start..<min(start + 16, bytes.count)].map { String(format: "%02x", $0) }.joined(separator: " ")
            )
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test(arguments: all)
    func vectorMatchesInBothDirections(_ vector: GoldenVector) throws {
        let url = Self.vectorsDirectory.appendingPathComponent(vector.name + ".hex")
        let encoded = try vector.encode()
        if ProcessInfo.processInfo.environment["PYGMY_WRITE_VECTORS"] == "1" {
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(),
                withIntermediateDirectories: true
            )
            try Self.render(vector, encoded).write(to: url, atomically: true, encoding: .utf8)
        }
        let stored = Self.parseHex(try String(contentsOf: url, encoding: .utf8))
        #expect(encoded == stored, "encoding \(vector.name) no longer matches \(url.path)")
        #expect(try vector.decodesBack(stored), "decoding \(url.path) does not give the value back")
    }
}
