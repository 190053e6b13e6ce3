import Foundation
import NIOCore
import PygmyWire
import Testing

/// PROTOCOL.md §4: one value, one encoding. Each rule stated there as a MUST has a test here (the byte
/// examples are also golden vectors, `codec/…` and `invalid/codec/…`).
@Suite struct CanonicalEncodingTests {
    @Test("§4.2 overlong varints are rejected")
    func overlongVarints() {
        let overlong: [[UInt8]] = [
            [0x80, 0x00], [0x82, 0x00], [0xFF, 0x80, 0x00], [UInt8](repeating: 0x80, count: 9) + [0],
        ]
        for bytes in overlong {
            var index = 0
            #expect(VarInt.read(bytes, at: &index, end: bytes.count) == nil, "\(bytes) was accepted")
            #expect(index == 0)
        }
    }

    @Test("§4.2 every value's shortest varint is accepted, and is what the encoder writes")
    func shortestVarints() {
        for value: UInt64 in [0, 1, 127, 128, 16_383, 16_384, 1 << 35, 1 << 63, .max] {
            var bytes: [UInt8] = []
            VarInt.append(value, to: &bytes)
            #expect(bytes.count == VarInt.length(of: value))
            #expect(bytes.count == 1 || bytes.last != 0)
            var index = 0
            #expect(VarInt.read(bytes, at: &index, end: bytes.count) == value)
        }
    }

    @Test("§4.2 82 00 does not decode as 1")
    func overlongIntegerPayload() {
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode(Int.self, from: [3, 0x82, 0]) }
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode(String.self, from: [0x81, 0]) }
    }

    @Test("§4.3 Int is 64 bits: Int.max and Int.min take ten bytes and decode back")
    func intIsSixtyFourBits() throws {
        for value in [Int.max, Int.min] {
            let bytes = try BinaryEncoder().encode(value)
            #expect(bytes.count == 11)
            #expect(try BinaryDecoder().decode(Int.self, from: bytes) == value)
            #expect(try BinaryDecoder().decode(Int64.self, from: bytes) == Int64(value))
        }
    }

    @Test("§4.3 every NaN encodes as the canonical NaN, and no other NaN decodes")
    func canonicalNaN() throws {
        let doubles = [Double.nan, -Double.nan, .signalingNaN, Double(bitPattern: 0x7FF8_0000_0000_0ABC)]
        for value in doubles {
            #expect(try BinaryEncoder().encode(value) == [9, 0, 0, 0, 0, 0, 0, 0xF8, 0x7F])
            #expect(try BinaryEncoder().encode([value]) == [10, 9, 0, 0, 0, 0, 0, 0, 0xF8, 0x7F])
        }
        for value in [Float.nan, -Float.nan, .signalingNaN] {
            #expect(try BinaryEncoder().encode(value) == [5, 0, 0, 0xC0, 0x7F])
        }
        #expect(
            try BinaryEncoder().encode(Date(timeIntervalSinceReferenceDate: .nan)) == [9, 0, 0, 0, 0, 0, 0, 0xF8, 0x7F]
        )
        #expect(throws: DecodingError.self) {
            try BinaryDecoder().decode(Date.self, from: [9, 1, 0, 0, 0, 0, 0, 0xF8, 0x7F])
        }
        #expect(try BinaryDecoder().decode(Double.self, from: [9, 0, 0, 0, 0, 0, 0, 0xF8, 0x7F]).isNaN)
    }

    @Test("§4.4 nested optionals: every nil layer is the nil slot, and decodes as the outer nil")
    func nestedOptionals() throws {
        let bytes = try BinaryEncoder().encode([.some(nil), .some(1), nil] as [Int??])
        #expect(bytes == [5, 0, 2, 2, 0])
        #expect(try BinaryDecoder().decode([Int??].self, from: bytes) == [nil, .some(1), nil])
    }

    @Test("§4.6 a struct with two fields of the same key is refused")
    func duplicateStructKey() throws {
        var bytes = try BinaryEncoder().encode(OrderV1(item: 1, quantity: 2))
        bytes += [8] + Array("quantity".utf8) + [2, 6]
        bytes[0] += 11
        #expect {
            try BinaryDecoder().decode(OrderV1.self, from: bytes)
        } throws: { error in
            "\(error)".contains("duplicate key \"quantity\"")
        }
    }

    @Test("§4.6 a struct with many fields is checked for duplicates too")
    func duplicateKeyAmongManyFields() throws {
        let many = Dictionary(uniqueKeysWithValues: (0..<40).map { ("k\($0)", $0) })
        let bytes = try BinaryEncoder().encode(many)
        #expect(try BinaryDecoder().decode([String: Int].self, from: bytes) == many)
        // The same fields decoded as a struct that reads one of them: 40 fields, then k7 again.
        struct ReadsOne: Decodable {
            enum Keys: String, CodingKey { case k7 }
            init(from decoder: any Decoder) throws {
                _ = try decoder.container(keyedBy: Keys.self).decode(Int.self, forKey: .k7)
            }
        }
        #expect(throws: Never.self) { try BinaryDecoder().decode(ReadsOne.self, from: bytes) }
        var payload = Array(bytes.drop { $0 >= 0x80 }.dropFirst())
        payload += [2] + Array("k7".utf8) + [2, 14]
        var duplicated: [UInt8] = []
        VarInt.append(UInt64(payload.count + 1), to: &duplicated)
        duplicated += payload
        #expect {
            try BinaryDecoder().decode(ReadsOne.self, from: duplicated)
        } throws: { error in
            "\(error)".contains("duplicate key \"k7\"")
        }
    }

    @Test("§4.7 dictionaries and sets encode the same whatever their insertion order or history")
    func dictionaryAndSetOrder() throws {
        let keys = (0..<300).map { "key-\($0 * 7919 % 1000)" }
        var forward: [String: Int] = [:]
        for (index, key) in keys.enumerated() { forward[key] = index }
        var backward: [String: Int] = Dictionary(minimumCapacity: 4096)
        for (index, key) in keys.enumerated().reversed() { backward[key] = index }
        #expect(try BinaryEncoder().encode(forward) == BinaryEncoder().encode(backward))
        var numbers = Set((0..<500).map { $0 * 37 - 9000 })
        let before = try BinaryEncoder().encode(numbers)
        numbers.reserveCapacity(10_000)
        #expect(try BinaryEncoder().encode(numbers) == before)
        #expect(try BinaryDecoder().decode(Set<Int>.self, from: before) == numbers)
        #expect(try BinaryDecoder().decode([String: Int].self, from: BinaryEncoder().encode(forward)) == forward)
    }

    @Test("§4.7 dictionaries inside other values are sorted too, and their entries keep their values")
    func nestedDictionaries() throws {
        struct Holder: Codable, Equatable {
            var byName: [String: [Int: String]]
            var tags: Set<String>
            var byValue: [Double: Bool]
        }
        let value = Holder(
            byName: ["zeta": [3: "c", 1: "a", 20: "t"], "alpha": [:], "mid": [-5: "m"]],
            tags: ["b", "a", "ccc", "dd"],
            byValue: [2.5: true, -1: false, 0: true]
        )
        let bytes = try BinaryEncoder().encode(value)
        #expect(try BinaryDecoder().decode(Holder.self, from: bytes) == value)
        let copy = Holder(
            byName: value.byName.merging([:]) { a, _ in a },
            tags: Set(value.tags.reversed()),
            byValue: value.byValue
        )
        #expect(try BinaryEncoder().encode(copy) == bytes)
    }

    @Test("§4.7 a dictionary or set out of canonical order, or with a repeated entry, is refused")
    func unorderedEntriesAreRefused() {
        #expect(throws: DecodingError.self) {
            try BinaryDecoder().decode([String: Int].self, from: [9, 1, 0x62, 2, 2, 1, 0x61, 2, 4])
        }
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode(Set<Int>.self, from: [5, 2, 0, 2, 0]) }
    }

    @Test("§4.10 values nested 64 levels deep decode; 65 levels are refused")
    func nestingLimit() throws {
        let deepest = try BinaryEncoder().encode(Nested.chain(64))
        #expect(try BinaryDecoder().decode(Nested.self, from: deepest) == Nested.chain(64))
        #expect {
            try BinaryDecoder().decode(Nested.self, from: BinaryEncoder().encode(Nested.chain(65)))
        } throws: { error in
            "\(error)".contains("nesting deeper than 64")
        }
    }

    @Test("§2 the hello's flags are a big-endian u16")
    func helloFlagsAreBigEndian() throws {
        var buffer = ByteBuffer()
        Hello(role: .client, flags: 0x0102).write(to: &buffer)
        #expect(Array(buffer.readableBytesView) == [0x50, 0x59, 0x47, 0x4D, 1, 1, 1, 2])
        #expect(try Hello.parse(buffer.readableBytesView).flags == 0x0102)
    }
}
