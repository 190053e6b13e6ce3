#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The `Decoder` handed to `init(from:)`: a view of one slot of the input.
final class _BinaryDecoder: Decoder {
    let storage: DecoderStorage
    let slot: Slot
    let depth: Int
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { storage.userInfo }

    init(storage: DecoderStorage, slot: Slot, depth: Int, codingPath: [any CodingKey]) {
        self.storage = storage
        self.slot = slot
        self.depth = depth
        self.codingPath = codingPath
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        try storage.requirePresent(slot, [String: Int].self, codingPath)
        return KeyedDecodingContainer(KeyedBinaryDecodingContainer<Key>(decoder: self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try storage.requirePresent(slot, [Int].self, codingPath)
        return UnkeyedBinaryDecodingContainer(decoder: self)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleValueBinaryDecodingContainer(decoder: self)
    }
}

/// A field of a keyed container: where its key text and its slot are.
struct Field {
    var key: Range<Int>
    var slot: Slot
    var next: Int
}

/// A keyed container: a run of `key, slot` fields. Lookups try the field after the last one read first,
/// so decoding in encoding order (as synthesized `Codable` does) is a single pass; any other order, and
/// unknown fields from newer peers, fall back to a scan.
final class KeyedBinaryDecodingContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: _BinaryDecoder
    var storage: DecoderStorage { decoder.storage }
    var codingPath: [any CodingKey] { decoder.codingPath }
    /// Where the field after the last one found starts.
    private var cursor: Int

    init(decoder: _BinaryDecoder) {
        self.decoder = decoder
        self.cursor = decoder.slot.start
    }

    private func field(at index: Int) throws -> Field {
        var i = index
        let end = decoder.slot.end
        let key = try storage.readKey(at: &i, end: end, codingPath: codingPath)
        let slot = try storage.readSlot(at: &i, end: end, codingPath: codingPath)
        return Field(key: key, slot: slot, next: i)
    }

    /// Finds `key`'s slot, or nil when the container has no such field.
    private func find(_ key: Key) throws -> Slot? {
        let end = decoder.slot.end
        if cursor < end {
            let f = try field(at: cursor)
            if storage.keyMatches(f.key, key) {
                cursor = f.next
                return f.slot
            }
        }
        var i = decoder.slot.start
        while i < end {
            let f = try field(at: i)
            if storage.keyMatches(f.key, key) {
                cursor = f.next
                return f.slot
            }
            i = f.next
        }
        return nil
    }

    private func require(_ key: Key) throws -> Slot {
        guard let slot = try find(key) else {
            throw DecodingError.keyNotFound(
                key,
                .init(codingPath: codingPath, debugDescription: "no field \"\(key.stringValue)\"")
            )
        }
        return slot
    }

    var allKeys: [Key] {
        var keys: [Key] = []
        var i = decoder.slot.start
        let end = decoder.slot.end
        while i < end, let f = try? field(at: i) {
            if let text = try? storage.keyString(f.key, codingPath: codingPath), let key = Key(stringValue: text) {
                keys.append(key)
            }
            i = f.next
        }
        return keys
    }

    func contains(_ key: Key) -> Bool { (try? find(key)) != nil }

    func decodeNil(forKey key: Key) throws -> Bool { try require(key).isNil }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
        try storage.bool(require(key), codingPath + [key])
    }
    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        try storage.string(require(key), codingPath + [key])
    }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
        try storage.double(require(key), codingPath + [key])
    }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float {
        try storage.float(require(key), codingPath + [key])
    }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try integer(type, key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try integer(type, key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try integer(type, key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try integer(type, key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try integer(type, key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try integer(type, key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try integer(type, key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try integer(type, key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try integer(type, key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try integer(type, key) }

    @inline(__always)
    private func integer<I: FixedWidthInteger>(_ type: I.Type, _ key: Key) throws -> I {
        try storage.integer(type, require(key), codingPath + [key])
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try storage.decodeValue(type, slot: require(key), depth: decoder.depth + 1, codingPath: codingPath + [key])
    }

    // Absent fields and nil slots both decode as nil: this is what lets a message gain optional fields.
    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? { try present(type, key) }
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? { try present(type, key) }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? { try present(type, key) }
    func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? { try present(type, key) }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try present(type, key) }
    func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { try present(type, key) }
    func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? { try present(type, key) }
    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { try present(type, key) }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try present(type, key) }
    func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { try present(type, key) }
    func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? { try present(type, key) }
    func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? { try present(type, key) }
    func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? { try present(type, key) }
    func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? { try present(type, key) }
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? { try present(type, key) }

    @inline(__always)
    private func present<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T? {
        guard let slot = try find(key), !slot.isNil else { return nil }
        return try storage.decodeValue(type, slot: slot, depth: decoder.depth + 1, codingPath: codingPath + [key])
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type,
        forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try nestedDecoder(require(key), key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try nestedDecoder(require(key), key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        let superKey = BinaryCodingKey.super
        guard let slot = try findAny(superKey) else {
            throw DecodingError.keyNotFound(
                superKey,
                .init(codingPath: codingPath, debugDescription: "no field \"super\"")
            )
        }
        return try nestedDecoder(slot, superKey)
    }

    func superDecoder(forKey key: Key) throws -> any Decoder { try nestedDecoder(require(key), key) }

    private func findAny(_ key: some CodingKey) throws -> Slot? {
        var i = decoder.slot.start
        while i < decoder.slot.end {
            let f = try field(at: i)
            if storage.keyMatches(f.key, key) { return f.slot }
            i = f.next
        }
        return nil
    }

    private func nestedDecoder(_ slot: Slot, _ key: some CodingKey) throws -> _BinaryDecoder {
        guard decoder.depth < storage.maxDepth else {
            throw storage.corrupted(codingPath, "nesting deeper than \(storage.maxDepth) levels")
        }
        return _BinaryDecoder(storage: storage, slot: slot, depth: decoder.depth + 1, codingPath: codingPath + [key])
    }
}

/// An unkeyed container: slots one after another until the enclosing slot ends.
final class UnkeyedBinaryDecodingContainer: UnkeyedDecodingContainer {
    let decoder: _BinaryDecoder
    var storage: DecoderStorage { decoder.storage }
    var codingPath: [any CodingKey] { decoder.codingPath }
    private(set) var currentIndex: Int = 0
    private var position: Int
    private lazy var elementCount: Int? = countElements()

    init(decoder: _BinaryDecoder) {
        self.decoder = decoder
        self.position = decoder.slot.start
    }

    var count: Int? { elementCount }
    var isAtEnd: Bool { position >= decoder.slot.end }

    /// Counts the slots; nil if the payload is malformed (the error surfaces when that element is read).
    private func countElements() -> Int? {
        var i = decoder.slot.start
        var n = 0
        while i < decoder.slot.end {
            guard (try? storage.readSlot(at: &i, end: decoder.slot.end, codingPath: codingPath)) != nil else {
                return nil
            }
            n += 1
        }
        return n
    }

    private var elementPath: [any CodingKey] { codingPath + [BinaryCodingKey(index: currentIndex)] }

    private func next<T>(_ type: T.Type) throws -> Slot {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(
                type,
                .init(codingPath: elementPath, debugDescription: "unkeyed container is at its end")
            )
        }
        let slot = try storage.readSlot(at: &position, end: decoder.slot.end, codingPath: elementPath)
        currentIndex += 1
        return slot
    }

    func decodeNil() throws -> Bool {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(
                Any?.self,
                .init(codingPath: elementPath, debugDescription: "unkeyed container is at its end")
            )
        }
        if storage.bytes[position] == 0 {
            position += 1
            currentIndex += 1
            return true
        }
        return false
    }

    func decode(_ type: Bool.Type) throws -> Bool { try storage.bool(next(type), elementPath) }
    func decode(_ type: String.Type) throws -> String { try storage.string(next(type), elementPath) }
    func decode(_ type: Double.Type) throws -> Double { try storage.double(next(type), elementPath) }
    func decode(_ type: Float.Type) throws -> Float { try storage.float(next(type), elementPath) }
    func decode(_ type: Int.Type) throws -> Int { try storage.integer(type, next(type), elementPath) }
    func decode(_ type: Int8.Type) throws -> Int8 { try storage.integer(type, next(type), elementPath) }
    func decode(_ type: Int16.Type) throws -> Int16 { try storage.integer(type, next(type), elementPath) }
    func decode(_ type: Int32.Type) throws -> Int32 { try storage.integer(type, next(type), elementPath) }
    func decode(_ type: Int64.Type) throws -> Int64 { try storage.integer(type, next(type), elementPath) }
    func decode(_ type: UInt.Type) throws -> UInt { try storage.integer(type, next(type), elementPath) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try storage.integer(type, next(type), elementPath) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try storage.integer(type, next(type), elementPath) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try storage.integer(type, next(type), elementPath) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try storage.integer(type, next(type), elementPath) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let path = elementPath
        let slot = try next(type)
        return try storage.decodeValue(type, slot: slot, depth: decoder.depth + 1, codingPath: path)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey>
    {
        try nestedDecoder().container(keyedBy: type)
    }
    func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try nestedDecoder().unkeyedContainer() }
    func superDecoder() throws -> any Decoder { try nestedDecoder() }

    private func nestedDecoder() throws -> _BinaryDecoder {
        let path = elementPath
        let slot = try next(Any.self)
        guard decoder.depth < storage.maxDepth else {
            throw storage.corrupted(path, "nesting deeper than \(storage.maxDepth) levels")
        }
        return _BinaryDecoder(storage: storage, slot: slot, depth: decoder.depth + 1, codingPath: path)
    }
}

/// A single-value container reads the whole slot its decoder was made for.
struct SingleValueBinaryDecodingContainer: SingleValueDecodingContainer {
    let decoder: _BinaryDecoder
    var storage: DecoderStorage { decoder.storage }
    var codingPath: [any CodingKey] { decoder.codingPath }
    var slot: Slot { decoder.slot }

    func decodeNil() -> Bool { slot.isNil }
    func decode(_ type: Bool.Type) throws -> Bool { try storage.bool(slot, codingPath) }
    func decode(_ type: String.Type) throws -> String { try storage.string(slot, codingPath) }
    func decode(_ type: Double.Type) throws -> Double { try storage.double(slot, codingPath) }
    func decode(_ type: Float.Type) throws -> Float { try storage.float(slot, codingPath) }
    func decode(_ type: Int.Type) throws -> Int { try storage.integer(type, slot, codingPath) }
    func decode(_ type: Int8.Type) throws -> Int8 { try storage.integer(type, slot, codingPath) }
    func decode(_ type: Int16.Type) throws -> Int16 { try storage.integer(type, slot, codingPath) }
    func decode(_ type: Int32.Type) throws -> Int32 { try storage.integer(type, slot, codingPath) }
    func decode(_ type: Int64.Type) throws -> Int64 { try storage.integer(type, slot, codingPath) }
    func decode(_ type: UInt.Type) throws -> UInt { try storage.integer(type, slot, codingPath) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try storage.integer(type, slot, codingPath) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try storage.integer(type, slot, codingPath) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try storage.integer(type, slot, codingPath) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try storage.integer(type, slot, codingPath) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        // Same slot, one level deeper, so a chain of wrappers still counts against the depth limit.
        try storage.decodeValue(type, slot: slot, depth: decoder.depth + 1, codingPath: codingPath)
    }
}
