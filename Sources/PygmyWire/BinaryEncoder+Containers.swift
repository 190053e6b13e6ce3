#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The `Encoder` handed to `encode(to:)`: a view of one open slot of the shared `EncoderState`.
struct _BinaryEncoder: Encoder {
    let state: EncoderState
    let depth: Int
    let slotID: UInt32
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { state.userInfo }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(
            KeyedBinaryEncodingContainer<Key>(state: state, depth: depth, slotID: slotID, codingPath: codingPath)
        )
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        UnkeyedBinaryEncodingContainer(state: state, depth: depth, slotID: slotID, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleValueBinaryEncodingContainer(state: state, depth: depth, slotID: slotID, codingPath: codingPath)
    }
}

/// A keyed container: writes `key, slot` pairs into its slot, in the order of the calls.
struct KeyedBinaryEncodingContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let state: EncoderState
    let depth: Int
    let slotID: UInt32
    let codingPath: [any CodingKey]

    /// Writes the key and opens the field's slot.
    @inline(__always)
    private func beginField(_ key: Key) throws {
        try state.prepareWrite(depth: depth, slotID: slotID, codingPath: codingPath)
        state.appendKey(key)
        state.beginSlot()
    }

    @inline(__always)
    private func endField() { state.finishSlots(downTo: depth) }

    mutating func encodeNil(forKey key: Key) throws {
        try beginField(key)
        try state.markNil(depth: depth + 1, slotID: state.currentSlotID, codingPath: codingPath)
        endField()
    }
    mutating func encode(_ value: Bool, forKey key: Key) throws {
        try beginField(key)
        state.appendBool(value)
        endField()
    }
    mutating func encode(_ value: String, forKey key: Key) throws {
        try beginField(key)
        state.appendString(value)
        endField()
    }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        try beginField(key)
        state.appendUInt64LE(value.bitPattern)
        endField()
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        try beginField(key)
        state.appendUInt32LE(value.bitPattern)
        endField()
    }
    mutating func encode(_ value: Int, forKey key: Key) throws { try encodeSigned(Int64(value), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { try encodeSigned(Int64(value), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { try encodeSigned(Int64(value), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { try encodeSigned(Int64(value), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { try encodeSigned(value, key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { try encodeUnsigned(UInt64(value), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { try encodeUnsigned(UInt64(value), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { try encodeUnsigned(UInt64(value), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { try encodeUnsigned(UInt64(value), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { try encodeUnsigned(value, key) }

    @inline(__always)
    private func encodeSigned(_ value: Int64, _ key: Key) throws {
        try beginField(key)
        state.appendSigned(value)
        endField()
    }

    @inline(__always)
    private func encodeUnsigned(_ value: UInt64, _ key: Key) throws {
        try beginField(key)
        state.appendVarInt(value)
        endField()
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try beginField(key)
        try state.encodeValue(value, depth: depth + 1, codingPath: codingPath + [key])
        endField()
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type,
        forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        let encoder = nestedEncoder(key)
        return encoder.container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        nestedEncoder(key).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { nestedEncoder(BinaryCodingKey.super) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { nestedEncoder(key) }

    /// Opens a field slot that stays open until this container (or an ancestor) writes again.
    private func nestedEncoder(_ key: some CodingKey) -> _BinaryEncoder {
        // Creating a nested container cannot throw; an ordering error is thrown at the end of `encode`.
        state.prepareNested(depth: depth, slotID: slotID, codingPath: codingPath)
        state.appendKey(key)
        state.beginSlot()
        return _BinaryEncoder(
            state: state,
            depth: depth + 1,
            slotID: state.currentSlotID,
            codingPath: codingPath + [key]
        )
    }
}

/// An unkeyed container: one slot per element, no count (the enclosing slot's length bounds it).
struct UnkeyedBinaryEncodingContainer: UnkeyedEncodingContainer {
    let state: EncoderState
    let depth: Int
    let slotID: UInt32
    let codingPath: [any CodingKey]
    private(set) var count: Int = 0

    init(state: EncoderState, depth: Int, slotID: UInt32, codingPath: [any CodingKey]) {
        self.state = state
        self.depth = depth
        self.slotID = slotID
        self.codingPath = codingPath
    }

    @inline(__always)
    private mutating func beginElement() throws {
        try state.prepareWrite(depth: depth, slotID: slotID, codingPath: codingPath)
        state.beginSlot()
        count += 1
    }

    @inline(__always)
    private func endElement() { state.finishSlots(downTo: depth) }

    mutating func encodeNil() throws {
        try beginElement()
        try state.markNil(depth: depth + 1, slotID: state.currentSlotID, codingPath: codingPath)
        endElement()
    }
    mutating func encode(_ value: Bool) throws {
        try beginElement()
        state.appendBool(value)
        endElement()
    }
    mutating func encode(_ value: String) throws {
        try beginElement()
        state.appendString(value)
        endElement()
    }
    mutating func encode(_ value: Double) throws {
        try beginElement()
        state.appendUInt64LE(value.bitPattern)
        endElement()
    }
    mutating func encode(_ value: Float) throws {
        try beginElement()
        state.appendUInt32LE(value.bitPattern)
        endElement()
    }
    mutating func encode(_ value: Int) throws { try encodeSigned(Int64(value)) }
    mutating func encode(_ value: Int8) throws { try encodeSigned(Int64(value)) }
    mutating func encode(_ value: Int16) throws { try encodeSigned(Int64(value)) }
    mutating func encode(_ value: Int32) throws { try encodeSigned(Int64(value)) }
    mutating func encode(_ value: Int64) throws { try encodeSigned(value) }
    mutating func encode(_ value: UInt) throws { try encodeUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt8) throws { try encodeUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt16) throws { try encodeUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt32) throws { try encodeUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt64) throws { try encodeUnsigned(value) }

    private mutating func encodeSigned(_ value: Int64) throws {
        try beginElement()
        state.appendSigned(value)
        endElement()
    }
    private mutating func encodeUnsigned(_ value: UInt64) throws {
        try beginElement()
        state.appendVarInt(value)
        endElement()
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try beginElement()
        try state.encodeValue(
            value,
            depth: depth + 1,
            codingPath: codingPath + [BinaryCodingKey(index: count - 1)]
        )
        endElement()
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type
    ) -> KeyedEncodingContainer<NestedKey> {
        nestedEncoder().container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { nestedEncoder().unkeyedContainer() }
    mutating func superEncoder() -> any Encoder { nestedEncoder() }

    private mutating func nestedEncoder() -> _BinaryEncoder {
        state.prepareNested(depth: depth, slotID: slotID, codingPath: codingPath)
        state.beginSlot()
        count += 1
        return _BinaryEncoder(
            state: state,
            depth: depth + 1,
            slotID: state.currentSlotID,
            codingPath: codingPath + [BinaryCodingKey(index: count - 1)]
        )
    }
}

/// A single-value container writes its value straight into the slot it was created for.
struct SingleValueBinaryEncodingContainer: SingleValueEncodingContainer {
    let state: EncoderState
    let depth: Int
    let slotID: UInt32
    let codingPath: [any CodingKey]

    @inline(__always)
    private func prepare() throws { try state.prepareWrite(depth: depth, slotID: slotID, codingPath: codingPath) }

    mutating func encodeNil() throws { try state.markNil(depth: depth, slotID: slotID, codingPath: codingPath) }
    mutating func encode(_ value: Bool) throws {
        try prepare()
        state.appendBool(value)
    }
    mutating func encode(_ value: String) throws {
        try prepare()
        state.appendString(value)
    }
    mutating func encode(_ value: Double) throws {
        try prepare()
        state.appendUInt64LE(value.bitPattern)
    }
    mutating func encode(_ value: Float) throws {
        try prepare()
        state.appendUInt32LE(value.bitPattern)
    }
    mutating func encode(_ value: Int) throws { try encodeSigned(Int64(value)) }
    mutating func encode(_ value: Int8) throws { try encodeSigned(Int64(value)) }
    mutating func encode(_ value: Int16) throws { try encodeSigned(Int64(value)) }
    mutating func encode(_ value: Int32) throws { try encodeSigned(Int64(value)) }
    mutating func encode(_ value: Int64) throws { try encodeSigned(value) }
    mutating func encode(_ value: UInt) throws { try encodeUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt8) throws { try encodeUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt16) throws { try encodeUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt32) throws { try encodeUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt64) throws { try encodeUnsigned(value) }

    private func encodeSigned(_ value: Int64) throws {
        try prepare()
        state.appendSigned(value)
    }
    private func encodeUnsigned(_ value: UInt64) throws {
        try prepare()
        state.appendVarInt(value)
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try prepare()
        try state.encodeValue(value, depth: depth, codingPath: codingPath)
    }
}

/// Coding keys the coder makes up itself: array indices and `super`.
struct BinaryCodingKey: CodingKey {
    let stringValue: String
    let intValue: Int?

    init(stringValue: String) {
        self.stringValue = stringValue
        self.intValue = nil
    }
    init(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }
    init(index: Int) { self.init(intValue: index) }

    static let `super` = BinaryCodingKey(stringValue: "super")
}
