#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// Decoders and containers name their value's frame in the shared `DecoderStorage` (with the frame's serial,
// so one kept too long is refused rather than misread). None of them stores a coding path: errors and
// `codingPath` rebuild it from the frames. `_BinaryDecoder` fits in an existential's inline buffer, so
// handing it to `init(from:)` allocates nothing, and the structs are plain values (the storage is a
// pointer, see `DecoderStorage`), so copying one costs no reference counting.

/// The `Decoder` handed to `init(from:)`: a view of one frame of the input.
struct _BinaryDecoder: Decoder {
    let storage: DecoderStorage
    let frame: Int32
    /// Whether this decoder was handed to a value's `init(from:)`, so that its keyed container may be a
    /// reused one (see `ContainerCache`).
    let reusable: Bool
    let serial: UInt64

    var codingPath: [any CodingKey] { storage.isLive(frame, serial) ? storage.codingPath(of: frame) : [] }
    var userInfo: [CodingUserInfoKey: Any] { storage.userInfo }

    /// Throws `valueNotFound` when the slot is nil.
    @inline(__always)
    private func requirePresent(_ type: Any.Type) throws {
        try storage.checkLive(frame, serial)
        if storage.frames[Int(frame)].slot.isNil {
            throw DecodeFailure(kind: .missing(type)).at(storage.codingPath(of: frame))
        }
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        try requirePresent([String: Int].self)
        try storage.checkUniqueKeys(frame: frame)
        return storage.keyedContainer(Key.self, frame: frame, serial: serial, reusable: reusable)
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try requirePresent([Int].self)
        return UnkeyedBinaryDecodingContainer(storage: storage, frame: frame, serial: serial)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        try storage.checkLive(frame, serial)
        return SingleValueBinaryDecodingContainer(storage: storage, frame: frame, serial: serial)
    }
}

/// A keyed container: a run of `key, slot` fields. Lookups try the field after the last one read first
/// (the frame's cursor), so decoding in encoding order (as synthesized `Codable` does) is a single pass that
/// compares each key's bytes once; any other order, and unknown fields from newer peers, fall back to a scan.
///
/// Small, since the standard library's box copies the container for every call: the slot bounds and depth
/// are read from the frame, and a reused container (see `ContainerCache`) reads its frame from its binding.
struct KeyedBinaryDecodingContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let storage: DecoderStorage
    private let binding: UnsafeMutablePointer<FrameBinding>?
    private let ownFrame: Int32
    private let ownSerial: UInt64

    init(storage: DecoderStorage, binding: UnsafeMutablePointer<FrameBinding>?, frame: Int32, serial: UInt64) {
        self.storage = storage
        self.binding = binding
        self.ownFrame = frame
        self.ownSerial = serial
    }

    var frame: Int32 { binding?.pointee.frame ?? ownFrame }
    var serial: UInt64 { binding?.pointee.serial ?? ownSerial }

    // Valid once the frame is known to be live.
    private var start: Int { storage.frames[Int(frame)].slot.start }
    private var end: Int { storage.frames[Int(frame)].slot.end }
    private var depth: Int { Int(storage.frames[Int(frame)].depth) }

    var codingPath: [any CodingKey] { storage.isLive(frame, serial) ? storage.codingPath(of: frame) : [] }

    /// The coding path of the field `key`, for errors.
    private func path(_ key: Key) -> [any CodingKey] { storage.codingPath(of: frame, then: .key(key)) }

    /// Finds `key`'s slot, or nil when the container has no such field.
    @inline(__always)
    private func find(_ key: Key) throws -> Slot? {
        try storage.checkLive(frame, serial)
        let input = storage.input
        let cursor = storage.frames[Int(frame)].cursor
        let end = end
        do throws(DecodeFailure) {
            if cursor < end {
                let f = try input.readField(at: cursor, end: end)
                if input.keyMatches(f.key, key, storage.keyMemo) {
                    storage.frames[Int(frame)].cursor = f.next
                    return f.slot
                }
            }
            return try scan(for: key)
        } catch {
            throw error.at(storage.codingPath(of: frame))
        }
    }

    @inline(never)
    private func scan(for key: some CodingKey) throws(DecodeFailure) -> Slot? {
        let input = storage.input
        let end = end
        var i = start
        while i < end {
            let f = try input.readField(at: i, end: end)
            if input.keyMatches(f.key, key, storage.keyMemo) {
                storage.frames[Int(frame)].cursor = f.next
                return f.slot
            }
            i = f.next
        }
        return nil
    }

    @inline(__always)
    private func require(_ key: Key) throws -> Slot {
        guard let slot = try find(key) else {
            throw DecodingError.keyNotFound(
                key,
                .init(codingPath: storage.codingPath(of: frame), debugDescription: "no field \"\(key.stringValue)\"")
            )
        }
        return slot
    }

    var allKeys: [Key] {
        guard storage.isLive(frame, serial) else { return [] }
        let input = storage.input
        let end = end
        var keys: [Key] = []
        var i = start
        while i < end, let f = try? input.readField(at: i, end: end) {
            let text = input.makeString(input.base + f.key.lowerBound, count: f.key.count)
            if let text, let key = Key(stringValue: text) { keys.append(key) }
            i = f.next
        }
        return keys
    }

    func contains(_ key: Key) -> Bool { (try? find(key)) != nil }

    func decodeNil(forKey key: Key) throws -> Bool { try require(key).isNil }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
        if let slot = fastSlot(key), let value = try? storage.input.bool(slot) { return value }
        return try leaf(key) { input, slot throws(DecodeFailure) in try input.bool(slot) }
    }
    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        if let slot = fastSlot(key), let value = try? storage.input.string(slot) { return value }
        return try leaf(key) { input, slot throws(DecodeFailure) in try input.string(slot) }
    }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
        if let slot = fastSlot(key), let value = try? storage.input.double(slot) { return value }
        return try leaf(key) { input, slot throws(DecodeFailure) in try input.double(slot) }
    }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float {
        if let slot = fastSlot(key), let value = try? storage.input.float(slot) { return value }
        return try leaf(key) { input, slot throws(DecodeFailure) in try input.float(slot) }
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
        if let slot = fastSlot(key), let value = try? storage.input.integer(type, slot) { return value }
        return try leaf(key) { input, slot throws(DecodeFailure) in try input.integer(type, slot) }
    }

    /// The slot of `key` when all is regular: the container is live and the field at the cursor is `key`'s,
    /// with a one-byte key length and slot header (the cursor moves past it). Nil otherwise; the caller then
    /// takes `leaf`, which finds the field however it is placed and throws the right error. Nothing here
    /// throws, so the common case runs without the error paths' bookkeeping.
    @inline(__always)
    private func fastSlot(_ key: Key) -> Slot? {
        let context = storage.context
        guard Int(frame) < context.pointee.frameCount else { return nil }
        let f = context.pointee.frames + Int(frame)
        guard f.pointee.serial == serial else { return nil }
        let input = context.pointee.input
        let end = f.pointee.slot.end
        var i = f.pointee.cursor
        guard i < end else { return nil }
        let keyLength = Int(input.base[i])
        guard keyLength < 0x80, keyLength < end - i - 1 else { return nil }
        let keyStart = i + 1
        i = keyStart + keyLength
        let header = Int(input.base[i])
        i += 1
        guard header < 0x80, header <= end - i + 1 else { return nil }
        guard input.keyMatches(keyStart..<(keyStart + keyLength), key, context.pointee.keyMemo) else { return nil }
        if header == 0 {
            f.pointee.cursor = i
            return Slot(start: i, end: i, isNil: true)
        }
        f.pointee.cursor = i + header - 1
        return Slot(start: i, end: i + header - 1, isNil: false)
    }

    /// Decodes the leaf field `key` with `read`, throwing a descriptive error for anything amiss.
    @inline(never)
    private func leaf<R>(_ key: Key, _ read: (InputBytes, Slot) throws(DecodeFailure) -> R) throws -> R {
        let slot = try require(key)
        do throws(DecodeFailure) { return try read(storage.input, slot) } catch { throw error.at(path(key)) }
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let slot = try require(key)
        return try storage.decodeValue(type, slot: slot, depth: depth + 1, parent: frame, component: .key(key))
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
        return try storage.decodeValue(type, slot: slot, depth: depth + 1, parent: frame, component: .key(key))
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type,
        forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try nestedDecoder(require(key), .key(key)).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try nestedDecoder(require(key), .key(key)).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        try storage.checkLive(frame, serial)
        let superKey = BinaryCodingKey.super
        let found: Slot?
        do throws(DecodeFailure) {
            found = try findAny(superKey)
        } catch {
            throw error.at(storage.codingPath(of: frame))
        }
        guard let slot = found else {
            throw DecodingError.keyNotFound(
                superKey,
                .init(codingPath: storage.codingPath(of: frame), debugDescription: "no field \"super\"")
            )
        }
        return try nestedDecoder(slot, .key(superKey))
    }

    func superDecoder(forKey key: Key) throws -> any Decoder { try nestedDecoder(require(key), .key(key)) }

    /// Finds a field without moving the cursor.
    private func findAny(_ key: some CodingKey) throws(DecodeFailure) -> Slot? {
        let input = storage.input
        let end = end
        var i = start
        while i < end {
            let f = try input.readField(at: i, end: end)
            if input.keyMatches(f.key, key, storage.keyMemo) { return f.slot }
            i = f.next
        }
        return nil
    }

    private func nestedDecoder(_ slot: Slot, _ component: PathComponent) throws -> _BinaryDecoder {
        try storage.nestedDecoder(slot: slot, depth: depth + 1, parent: frame, component: component)
    }
}

/// An unkeyed container: slots one after another until the enclosing slot ends.
///
/// A class, so that the existential holding it is one allocation however many fields it has, and so that
/// `count` can be worked out once.
final class UnkeyedBinaryDecodingContainer: UnkeyedDecodingContainer {
    let storage: DecoderStorage
    let frame: Int32
    let serial: UInt64
    private let start: Int
    private let end: Int
    private let depth: Int
    @exclusivity(unchecked) private(set) var currentIndex: Int = 0
    @exclusivity(unchecked) private var position: Int
    @exclusivity(unchecked) private var countedElements: Int?? = .none

    init(storage: DecoderStorage, frame: Int32, serial: UInt64) {
        self.storage = storage
        self.frame = frame
        self.serial = serial
        let slot = storage.frames[Int(frame)].slot
        self.start = slot.start
        self.end = slot.end
        self.depth = Int(storage.frames[Int(frame)].depth)
        self.position = slot.start
    }

    var codingPath: [any CodingKey] { storage.isLive(frame, serial) ? storage.codingPath(of: frame) : [] }

    var count: Int? {
        if case .some(let n) = countedElements { return n }
        let n = countElements()
        countedElements = .some(n)
        return n
    }

    var isAtEnd: Bool { position >= end }

    /// Counts the slots; nil if the payload is malformed (the error surfaces when that element is read).
    private func countElements() -> Int? {
        guard storage.isLive(frame, serial) else { return nil }
        let input = storage.input
        var i = start
        var n = 0
        while i < end {
            guard (try? input.readSlot(at: &i, end: end)) != nil else { return nil }
            n += 1
        }
        return n
    }

    /// The coding path of element `index`, for errors.
    private func path(_ index: Int) -> [any CodingKey] { storage.codingPath(of: frame, then: .index(index)) }

    /// Reads the next element's slot.
    @inline(__always)
    private func next(_ type: Any.Type) throws -> Slot {
        try storage.checkLive(frame, serial)
        guard position < end else {
            throw DecodingError.valueNotFound(
                type,
                .init(codingPath: path(currentIndex), debugDescription: "unkeyed container is at its end")
            )
        }
        var i = position
        let slot: Slot
        do throws(DecodeFailure) {
            slot = try storage.input.readSlot(at: &i, end: end)
        } catch {
            throw error.at(path(currentIndex))
        }
        position = i
        currentIndex += 1
        return slot
    }

    func decodeNil() throws -> Bool {
        try storage.checkLive(frame, serial)
        guard position < end else {
            throw DecodingError.valueNotFound(
                Any?.self,
                .init(codingPath: path(currentIndex), debugDescription: "unkeyed container is at its end")
            )
        }
        if storage.input.base[position] == 0 {
            position += 1
            currentIndex += 1
            return true
        }
        return false
    }

    func decode(_ type: Bool.Type) throws -> Bool {
        try leaf(type) { input, slot throws(DecodeFailure) in try input.bool(slot) }
    }
    func decode(_ type: String.Type) throws -> String {
        try leaf(type) { input, slot throws(DecodeFailure) in try input.string(slot) }
    }
    func decode(_ type: Double.Type) throws -> Double {
        try leaf(type) { input, slot throws(DecodeFailure) in try input.double(slot) }
    }
    func decode(_ type: Float.Type) throws -> Float {
        try leaf(type) { input, slot throws(DecodeFailure) in try input.float(slot) }
    }
    func decode(_ type: Int.Type) throws -> Int { try integer(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }

    @inline(__always)
    private func integer<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
        try leaf(type) { input, slot throws(DecodeFailure) in try input.integer(type, slot) }
    }

    /// Reads the next element as a leaf value; a malformed value fails with the element's coding path.
    @inline(__always)
    private func leaf<R>(_ type: Any.Type, _ read: (InputBytes, Slot) throws(DecodeFailure) -> R) throws -> R {
        let slot = try next(type)
        do throws(DecodeFailure) {
            return try read(storage.input, slot)
        } catch {
            throw error.at(path(currentIndex - 1))
        }
    }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let slot = try next(type)
        let index = currentIndex - 1
        return try storage.decodeValue(type, slot: slot, depth: depth + 1, parent: frame, component: .index(index))
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey>
    {
        try nestedDecoder().container(keyedBy: type)
    }
    func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try nestedDecoder().unkeyedContainer() }
    func superDecoder() throws -> any Decoder { try nestedDecoder() }

    private func nestedDecoder() throws -> _BinaryDecoder {
        let slot = try next(Any.self)
        let index = currentIndex - 1
        return try storage.nestedDecoder(slot: slot, depth: depth + 1, parent: frame, component: .index(index))
    }
}

/// A single-value container reads the whole slot its decoder was made for.
struct SingleValueBinaryDecodingContainer: SingleValueDecodingContainer {
    let storage: DecoderStorage
    let frame: Int32
    let serial: UInt64

    var codingPath: [any CodingKey] { storage.isLive(frame, serial) ? storage.codingPath(of: frame) : [] }

    /// The slot, once the frame is known to be live.
    @inline(__always)
    private func slot() throws -> Slot {
        try storage.checkLive(frame, serial)
        return storage.frames[Int(frame)].slot
    }

    @inline(__always)
    private func read<R>(_ body: (InputBytes, Slot) throws(DecodeFailure) -> R) throws -> R {
        let slot = try slot()
        do throws(DecodeFailure) {
            return try body(storage.input, slot)
        } catch {
            throw error.at(storage.codingPath(of: frame))
        }
    }

    func decodeNil() -> Bool { storage.isLive(frame, serial) && storage.frames[Int(frame)].slot.isNil }
    func decode(_ type: Bool.Type) throws -> Bool {
        try read { input, slot throws(DecodeFailure) in try input.bool(slot) }
    }
    func decode(_ type: String.Type) throws -> String {
        try read { input, slot throws(DecodeFailure) in try input.string(slot) }
    }
    func decode(_ type: Double.Type) throws -> Double {
        try read { input, slot throws(DecodeFailure) in try input.double(slot) }
    }
    func decode(_ type: Float.Type) throws -> Float {
        try read { input, slot throws(DecodeFailure) in try input.float(slot) }
    }
    func decode(_ type: Int.Type) throws -> Int { try integer(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }

    @inline(__always)
    private func integer<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
        try read { input, slot throws(DecodeFailure) in try input.integer(type, slot) }
    }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        // Same slot, one level deeper, so a chain of wrappers still counts against the depth limit.
        let slot = try slot()
        let depth = Int(storage.frames[Int(frame)].depth) + 1
        return try storage.decodeValue(type, slot: slot, depth: depth, parent: frame, component: .none)
    }
}
