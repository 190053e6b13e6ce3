import Foundation
import NIOCore
import PygmyWire
import Testing

/// One input a receiver must refuse: its bytes, what they claim to be, and the error it must give.
struct InvalidVector: Sendable, CustomTestStringConvertible {
    var name: String
    var description: String
    /// The type the bytes are decoded as (PROTOCOL.md's name for it).
    var type: String
    /// The error's name, from PROTOCOL.md §4.10 (payloads) or §3.4 (frames).
    var error: String
    var bytes: [UInt8]
    /// Decodes the bytes; must throw.
    var decode: @Sendable ([UInt8]) throws -> Void
    var testDescription: String { name }

    static func payload<T: Decodable>(
        _ name: String,
        _ type: T.Type,
        _ error: String,
        _ description: String,
        _ bytes: [UInt8]
    ) -> InvalidVector {
        InvalidVector(
            name: "invalid/codec/\(name)",
            description: description,
            type: "\(T.self)",
            error: error,
            bytes: bytes,
            decode: { _ = try BinaryDecoder().decode(T.self, from: $0) }
        )
    }

    static func frame(_ name: String, _ error: String, _ description: String, _ bytes: [UInt8]) -> InvalidVector {
        InvalidVector(
            name: "invalid/frames/\(name)",
            description: description,
            type: "frame",
            error: error,
            bytes: bytes,
            decode: { bytes in
                var buffer = ByteBuffer(bytes: bytes)
                var decoder = FrameDecoder(expectHello: false)
                _ = try decoder.decodeMessage(&buffer)
            }
        )
    }
}

/// The vectors under `Protocol/vectors/invalid/`: each must be refused, with the error its file names.
@Suite struct InvalidVectorTests {
    /// Each error name of PROTOCOL.md and the words the reference decoder's message contains for it.
    static let phrases: [String: String] = [
        "truncated-varint": "truncated varint",
        "overlong-varint": "overlong varint",
        "varint-overflow": "varint longer than",
        "slot-overrun": "but only",
        "trailing-bytes": "trailing bytes",
        "integer-width": "does not fit in",
        "invalid-bool": "a Bool is one byte",
        "invalid-utf8": "not valid UTF-8",
        "fixed-width": "takes",
        "non-canonical-nan": "non-canonical NaN",
        "duplicate-key": "duplicate key",
        "duplicate-entry": "duplicate entry",
        "unordered-entries": "unordered entries",
        "non-canonical-key": "non-canonical integer key",
        "invalid-enum": "Invalid number of keys",
        "too-deep": "nesting deeper than 64",
        "missing-field": "no field",
        "unexpected-nil": "found nil",
        "frame-body-length": "frame's body is",
        "wrong-stream": "frame on stream",
    ]

    /// `Nested.chain(65)` written by hand: one level more than a decoder accepts.
    static let nesting65: [UInt8] = {
        var payload: [UInt8] = []
        for _ in 0..<65 { payload = [UInt8(payload.count + 1)] + payload }
        return payload
    }()

    /// A slot of fewer than 127 bytes around `payload`.
    static func slot(_ payload: [UInt8]) -> [UInt8] { [UInt8(payload.count + 1)] + payload }

    /// A struct field: key length, key, then the value's slot as given.
    static func field(_ key: String, _ value: [UInt8]) -> [UInt8] { [UInt8(key.utf8.count)] + Array(key.utf8) + value }

    static let all: [InvalidVector] = [
        .payload("overlong-int", Int.self, "overlong-varint", "Int 1 as ZigZag 2 in two bytes, 82 00.", [3, 0x82, 0]),
        .payload(
            "dictionary-int-key-leading-zero",
            [Int: Int].self,
            "non-canonical-key",
            "[1: 2] with the key written \"01\".",
            slot(field("01", [2, 4]))
        ),
        .payload(
            "dictionary-int-key-plus",
            [Int: Int].self,
            "non-canonical-key",
            "[1: 2] with the key written \"+1\".",
            slot(field("+1", [2, 4]))
        ),
        .payload(
            "dictionary-int-key-minus-zero",
            [Int: Int].self,
            "non-canonical-key",
            "[0: 2] with the key written \"-0\".",
            slot(field("-0", [2, 4]))
        ),
        .payload(
            "enum-no-case",
            Shape.self,
            "invalid-enum",
            "A Shape whose struct has no field (no case).",
            [1]
        ),
        .payload(
            "enum-two-cases",
            Shape.self,
            "invalid-enum",
            "A Shape whose struct has two fields, point and circle.",
            slot(field("point", [1]) + field("circle", slot(field("radius", [9, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F]))))
        ),
        .payload(
            "enum-unknown-case",
            Shape.self,
            "invalid-enum",
            "A Shape whose one field names no case (square).",
            slot(field("square", [1]))
        ),
        .payload(
            "overlong-slot-header",
            String.self,
            "overlong-varint",
            "The empty String with slot header 1 in two bytes, 81 00.",
            [0x81, 0]
        ),
        .payload(
            "overlong-key-length",
            [String: Int].self,
            "overlong-varint",
            "[\"a\": 1] with the key length 1 written 81 00.",
            [6, 0x81, 0, 0x61, 2, 2]
        ),
        .payload(
            "varint-over-64-bits",
            UInt64.self,
            "varint-overflow",
            "A ten-byte varint whose tenth byte is 02 (bit 64).",
            [11] + [UInt8](repeating: 0xFF, count: 9) + [2]
        ),
        .payload("truncated-varint", UInt64.self, "truncated-varint", "A varint that ends on 80.", [2, 0x80]),
        .payload(
            "slot-overrun",
            String.self,
            "slot-overrun",
            "A String slot declaring 4 bytes with 2 present.",
            [5, 0x61, 0x62]
        ),
        .payload(
            "trailing-bytes-top-level",
            Int.self,
            "trailing-bytes",
            "Int 1, then a byte after the top-level slot.",
            [2, 2, 0]
        ),
        .payload(
            "trailing-bytes-in-integer",
            Int.self,
            "trailing-bytes",
            "An Int slot of 2 bytes holding the 1-byte varint 02, then 00.",
            [3, 2, 0]
        ),
        .payload("int8-out-of-range", Int8.self, "integer-width", "Int8 200 (ZigZag 400 = 90 03).", [3, 0x90, 3]),
        .payload("bool-2", Bool.self, "invalid-bool", "A Bool byte of 02.", [2, 2]),
        .payload("string-not-utf8", String.self, "invalid-utf8", "A String of the byte ff.", [2, 0xFF]),
        .payload("double-4-bytes", Double.self, "fixed-width", "A Double of 4 bytes.", [5, 0, 0, 0x80, 0x3F]),
        .payload(
            "double-nan-signalling",
            Double.self,
            "non-canonical-nan",
            "A Double NaN other than the canonical 7ff8000000000000 (here 7ff0000000000001).",
            [9, 1, 0, 0, 0, 0, 0, 0xF0, 0x7F]
        ),
        .payload(
            "double-nan-negative",
            Double.self,
            "non-canonical-nan",
            "The negative quiet NaN fff8000000000000.",
            [9, 0, 0, 0, 0, 0, 0, 0xF8, 0xFF]
        ),
        .payload(
            "float-nan-payload",
            Float.self,
            "non-canonical-nan",
            "A Float NaN with payload 1 (7fc00001).",
            [5, 1, 0, 0xC0, 0x7F]
        ),
        .payload(
            "struct-duplicate-key",
            Book.self,
            "duplicate-key",
            "Book with the field item twice (1, then 2).",
            slot(
                field("item", [2, 2]) + field("title", [2, 0x61]) + field("topic", [2, 0x62]) + field("stock", [2, 2])
                    + field("cost", [2, 2]) + field("item", [2, 4])
            )
        ),
        .payload(
            "dictionary-duplicate-key",
            [String: Int].self,
            "duplicate-entry",
            "[String: Int] with the key \"a\" twice.",
            slot(field("a", [2, 2]) + field("a", [2, 4]))
        ),
        .payload(
            "dictionary-unordered",
            [String: Int].self,
            "unordered-entries",
            "[\"b\": 1, \"a\": 2] with b first.",
            slot(field("b", [2, 2]) + field("a", [2, 4]))
        ),
        .payload(
            "dictionary-int-keys-numeric-order",
            [Int: String].self,
            "unordered-entries",
            "[10: \"x\", 9: \"y\"] with \"10\" (02 31 30) before \"9\" (01 39): numeric order is not canonical order.",
            slot(field("10", [2, 0x78]) + field("9", [2, 0x79]))
        ),
        .payload(
            "set-unordered",
            Set<Int>.self,
            "unordered-entries",
            "Set<Int> [1, 0] with 1 (02 02) before 0 (02 00).",
            [5, 2, 2, 2, 0]
        ),
        .payload("set-duplicate", Set<Int>.self, "duplicate-entry", "Set<Int> with 0 twice.", [5, 2, 0, 2, 0]),
        .payload("nesting-65", Nested.self, "too-deep", "65 container levels: one more than allowed.", nesting65),
        .payload(
            "missing-field",
            OrderV1.self,
            "missing-field",
            "OrderV1 without its quantity field: {item: 1}.",
            slot(field("item", [2, 2]))
        ),
        .payload(
            "nil-for-required-field",
            OrderV1.self,
            "unexpected-nil",
            "OrderV1 whose quantity slot is nil (00).",
            slot(field("item", [2, 2]) + field("quantity", [0]))
        ),
        .frame(
            "cluster-id-short",
            "frame-body-length",
            "A clusterId frame with 15 bytes instead of a 16-byte UUID.",
            [0, 0, 0, 21, 9, 0, 0, 0, 0, 0] + Array(repeating: 0xAB, count: 15)
        ),
        .frame(
            "cluster-id-on-stream-1",
            "wrong-stream",
            "A clusterId frame on stream 1.",
            [0, 0, 0, 22, 9, 0, 0, 0, 0, 1] + Array(repeating: 0xAB, count: 16)
        ),
        .frame(
            "ping-short",
            "frame-body-length",
            "A ping with a 4-byte value.",
            [0, 0, 0, 10, 5, 0, 0, 0, 0, 0, 1, 2, 3, 4]
        ),
        .frame(
            "pong-long",
            "frame-body-length",
            "A pong with a 9-byte value.",
            [0, 0, 0, 15, 6, 0, 0, 0, 0, 0] + [UInt8](repeating: 1, count: 9)
        ),
        .frame(
            "cancel-with-body",
            "frame-body-length",
            "A cancel for stream 3 with one body byte.",
            [0, 0, 0, 7, 4, 0, 0, 0, 0, 3, 0]
        ),
        .frame(
            "ping-on-stream-1",
            "wrong-stream",
            "A ping on stream 1.",
            [0, 0, 0, 14, 5, 0, 0, 0, 0, 1] + [UInt8](repeating: 0, count: 8)
        ),
        .frame(
            "push-on-stream-2",
            "wrong-stream",
            "A push on stream 2 (topic \"t\", payload Int 0).",
            [0, 0, 0, 10, 7, 0, 0, 0, 0, 2, 1, 0x74, 2, 0]
        ),
        .frame(
            "go-away-on-stream-1",
            "wrong-stream",
            "A goAway on stream 1.",
            [0, 0, 0, 6, 8, 0, 0, 0, 0, 1]
        ),
        .frame(
            "response-on-stream-0",
            "wrong-stream",
            "A response on stream 0 (payload Int 0).",
            [0, 0, 0, 8, 2, 0, 0, 0, 0, 0, 2, 0]
        ),
    ]

    static func render(_ vector: InvalidVector) -> String {
        var lines = [
            "# \(vector.name)", "# \(vector.description)", "# type: \(vector.type)", "# error: \(vector.error)",
            "# \(vector.bytes.count) bytes",
        ]
        for start in stride(from: 0, to: vector.bytes.count, by: 16) {
            lines.append(
                vector.bytes[start..<min(start + 16, vector.bytes.count)].map { String(format: "%02x", $0) }
                    .joined(separator: " ")
            )
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test("§4.10 every invalid vector is refused with the error its file names", arguments: all)
    func refused(_ vector: InvalidVector) throws {
        let url = GoldenVectorTests.vectorsDirectory.appendingPathComponent(vector.name + ".hex")
        if ProcessInfo.processInfo.environment["PYGMY_WRITE_VECTORS"] == "1" {
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(),
                withIntermediateDirectories: true
            )
            try Self.render(vector).write(to: url, atomically: true, encoding: .utf8)
        }
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(GoldenVectorTests.parseHex(text) == vector.bytes, "\(url.path) holds other bytes")
        #expect(text.contains("# error: \(vector.error)\n"), "\(url.path) names another error")
        let phrase = try #require(Self.phrases[vector.error], "no phrase for \(vector.error)")
        #expect {
            try vector.decode(vector.bytes)
        } throws: { error in
            "\(error)".contains(phrase)
        }
    }

    @Test("§7 every file under vectors/invalid is checked")
    func everyFileIsChecked() throws {
        let root = GoldenVectorTests.vectorsDirectory.appendingPathComponent("invalid")
        let names = Set(Self.all.map(\.name))
        let walker = try #require(FileManager.default.enumerator(atPath: root.path))
        for case let relative as String in walker where relative.hasSuffix(".hex") {
            #expect(names.contains("invalid/" + relative.dropLast(4)), "invalid/\(relative) is not checked")
        }
    }
}
