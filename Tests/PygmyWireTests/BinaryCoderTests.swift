import Foundation
import PygmyWire
import Testing

func roundTrip<T: Codable & Equatable>(_ value: T) throws -> T {
    let bytes = try BinaryEncoder().encode(value)
    return try BinaryDecoder().decode(T.self, from: bytes)
}

@Suite struct BinaryCoderTests {
    @Test func primitivesRoundTripAtTheirExtremes() throws {
        let extremes = [
            AllPrimitives(
                bool: true,
                int: .min,
                int8: .min,
                int16: .min,
                int32: .min,
                int64: .min,
                uint: .max,
                uint8: .max,
                uint16: .max,
                uint32: .max,
                uint64: .max,
                float: -.infinity,
                double: .greatestFiniteMagnitude,
                string: "ünïcødé 📚 书"
            ),
            AllPrimitives(
                bool: false,
                int: .max,
                int8: .max,
                int16: .max,
                int32: .max,
                int64: .max,
                uint: 0,
                uint8: 0,
                uint16: 0,
                uint32: 0,
                uint64: 0,
                float: .leastNonzeroMagnitude,
                double: -0.0,
                string: ""
            ),
        ]
        for value in extremes {
            #expect(try roundTrip(value) == value)
        }
    }

    @Test func nanSurvivesBitForBit() throws {
        let bytes = try BinaryEncoder().encode(Double.nan)
        #expect(try BinaryDecoder().decode(Double.self, from: bytes).isNaN)
    }

    @Test func containersOptionalsAndFoundationTypes() throws {
        let value = Containers(
            optionalPresent: "here",
            optionalAbsent: nil,
            list: [0, -1, 1, Int.max, Int.min],
            listOfOptionals: ["a", nil, "", nil],
            nested: [[], [1, 2, 255], [0]],
            byName: ["one": 1, "": 0, "zwölf": 12],
            byNumber: [1: "a", -7: "b"],
            byUUID: [UUID(): true],
            data: Data([0, 1, 2, 0xFF]),
            date: Date(timeIntervalSinceReferenceDate: 123_456.789),
            uuid: UUID(),
            empty: []
        )
        #expect(try roundTrip(value) == value)
    }

    @Test func enumsWithAssociatedValues() throws {
        let shapes: [Shape] = [
            .point, .circle(radius: 2.5), .rectangle(1, -2), .labelled("x", tags: nil),
            .labelled("", tags: ["a", "b"]),
            .group([.point, .group([.circle(radius: 0)])]),
        ]
        #expect(try roundTrip(shapes) == shapes)
    }

    @Test func classHierarchyThroughSuperEncoder() throws {
        let dog = Dog(name: "Rex", goodBoy: true)
        let bytes = try BinaryEncoder().encode(dog)
        let back = try BinaryDecoder().decode(Dog.self, from: bytes)
        #expect(back.name == "Rex" && back.goodBoy)
    }

    @Test func handWrittenNestedContainers() throws {
        let value = HandWritten(a: -3, pairs: [("x", 1), ("y", 2)], inner: "box")
        #expect(try roundTrip(value) == value)
    }

    @Test func topLevelOptionalAndEmptyValues() throws {
        #expect(try roundTrip(String?.none) == nil)
        #expect(try roundTrip(String?.some("")) == "")
        #expect(try roundTrip([Int]()) == [])
        #expect(try roundTrip([Int?]([nil, nil])) == [nil, nil])
        #expect(try BinaryEncoder().encode(String?.none) == [0x00])
    }

    @Test func encodingIsDeterministic() throws {
        let a = try BinaryEncoder().encode(Book.sample)
        let b = try BinaryEncoder().encode(Book.sample)
        #expect(a == b)
    }

    @Test func writingToAContainerAfterItsParentMovedOnIsRefused() {
        #expect(throws: EncodingError.self) { try BinaryEncoder().encode(Interleaved()) }
        #expect(throws: EncodingError.self) { try BinaryEncoder().encode(InterleavedNested()) }
    }

    @Test func aMessageCanGainAnOptionalField() throws {
        let old = OrderV1(item: 3, quantity: 2)
        let new = OrderV2(item: 3, giftNote: "for you", quantity: 2)
        // A new peer reads an old message: the missing field is nil.
        let fromOld = try BinaryDecoder().decode(OrderV2.self, from: BinaryEncoder().encode(old))
        #expect(fromOld == OrderV2(item: 3, giftNote: nil, quantity: 2))
        // An old peer reads a new message: the unknown field is skipped.
        let fromNew = try BinaryDecoder().decode(OrderV1.self, from: BinaryEncoder().encode(new))
        #expect(fromNew == old)
    }

    @Test func keysMayBeDecodedInAnyOrder() throws {
        struct Reversed: Decodable, Equatable {
            var item: Int
            var title: String
            enum CodingKeys: String, CodingKey { case item, title, cost }
            init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                #expect(c.contains(.cost))
                title = try c.decode(String.self, forKey: .title)
                item = try c.decode(Int.self, forKey: .item)
            }
        }
        let back = try BinaryDecoder().decode(Reversed.self, from: BinaryEncoder().encode(Book.sample))
        #expect(back.item == 1 && back.title == Book.sample.title)
    }

    @Test func missingRequiredFieldIsKeyNotFound() throws {
        let bytes = try BinaryEncoder().encode(["item": 1])
        #expect {
            try BinaryDecoder().decode(Book.self, from: bytes)
        } throws: { error in
            guard case DecodingError.keyNotFound(let key, _) = error else { return false }
            return key.stringValue == "title"
        }
    }

    @Test func narrowingOverflowIsAnError() throws {
        let bytes = try BinaryEncoder().encode(Int(300))
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode(UInt8.self, from: bytes) }
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode(Int8.self, from: bytes) }
        #expect(try BinaryDecoder().decode(Int16.self, from: bytes) == 300)
    }

    @Test func deepNestingIsRefusedNotRecursedInto() throws {
        // 10,000 nested single-element arrays: header 0x02 then element slot ... ends with an empty array.
        var bytes: [UInt8] = []
        let depth = 10_000
        // Build from the inside out: each level wraps the previous payload in a slot.
        var payload: [UInt8] = []
        for _ in 0..<depth {
            var slot: [UInt8] = []
            VarInt.append(UInt64(payload.count) + 1, to: &slot)
            payload = slot + payload
        }
        VarInt.append(UInt64(payload.count) + 1, to: &bytes)
        bytes += payload
        indirect enum Nest: Codable {
            case leaf
            case node([Nest])
        }
        struct Deep: Decodable {
            init(from decoder: any Decoder) throws {
                var c = try decoder.unkeyedContainer()
                while !c.isAtEnd { _ = try c.decode(Deep.self) }
            }
        }
        #expect {
            try BinaryDecoder().decode(Deep.self, from: bytes)
        } throws: { error in
            "\(error)".contains("nesting deeper than 64")
        }
    }

    @Test func trailingBytesAreRejected() throws {
        let bytes = try BinaryEncoder().encode(Book.sample) + [0]
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode(Book.self, from: bytes) }
    }

    @Test func invalidUTF8IsRejected() throws {
        // Slot of 2 bytes: 0xC3 0x28 is an invalid two-byte sequence.
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode(String.self, from: [0x03, 0xC3, 0x28]) }
    }

    @Test func varintEdgeCases() {
        for value: UInt64 in [0, 1, 127, 128, 300, 1 << 35, .max] {
            var bytes: [UInt8] = []
            VarInt.append(value, to: &bytes)
            #expect(bytes.count == VarInt.length(of: value))
            var index = 0
            #expect(VarInt.read(bytes, at: &index, end: bytes.count) == value)
            #expect(index == bytes.count)
        }
        // Eleven continuation bytes, and a tenth byte carrying more than the top bit, both overflow.
        var index = 0
        #expect(VarInt.read([UInt8](repeating: 0xFF, count: 11), at: &index, end: 11) == nil)
        index = 0
        #expect(VarInt.read([UInt8](repeating: 0xFF, count: 9) + [0x02], at: &index, end: 10) == nil)
        for value: Int64 in [0, -1, 1, -64, 64, .min, .max] {
            #expect(VarInt.unZigZag(VarInt.zigZag(value)) == value)
        }
        #expect(VarInt.zigZag(-1) == 1 && VarInt.zigZag(1) == 2)
    }
}
