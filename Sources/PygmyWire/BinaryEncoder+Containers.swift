#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// Every encoder and container below is a small struct that names one slot of the shared `EncoderState`
// by its record, and the run it belongs to. None of them stores a coding path: `codingPath` is rebuilt from
// the records on demand, so the fast path never builds key arrays. Each fits in an existential's inline
// buffer (three words), so handing one out allocates nothing, and each is a plain value (the state is a
// pointer, see `EncoderState`), so copying one costs no reference counting.

/// The `Encoder` handed to `encode(to:)`: a view of one open slot of the shared `EncoderState`.
struct _BinaryEncoder: Encoder {
    let state: EncoderState
    let record: Int32
    let depth: Int32
    let run: UInt32
    /// Whether this encoder was handed to a value's `encode(to:)`, so that its keyed container may be a
    /// reused one (see `ContainerCache`).
    let reusable: Bool

    var codingPath: [any CodingKey] { state.codingPath(of: Int(record), run: run) }
    var userInfo: [CodingUserInfoKey: Any] { state.isCurrent(run: run) ? state.userInfo : [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        state.keyedContainer(Key.self, record: record, depth: depth, run: run, reusable: reusable)
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        UnkeyedBinaryEncodingContainer(state: state, record: record, depth: depth, run: run)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleValueBinaryEncodingContainer(state: state, record: record, depth: depth, run: run)
    }
}

extension EncoderState {
    /// Opens a slot for a nested container (after `key`, in a keyed container). Creating a nested container
    /// cannot throw: an ordering error is thrown at the end of `encode`, and the encoder returned writes
    /// nothing (every write through it throws).
    func nestedEncoder(
        record: Int32,
        depth: Int32,
        run: UInt32,
        key: (some CodingKey)?,
        component: PathComponent
    ) -> _BinaryEncoder {
        let record = Int(record)
        let depth = Int(depth)
        let nested: Int
        if prepareNested(record: record, depth: depth, run: run) {
            if let key { appendKey(key) }
            nested = openSlot(parent: record, depth: depth + 1, component: component)
        } else if isCurrent(run: run) {
            nested = detachedRecord(parent: record, depth: depth + 1, component: component)
        } else {
            nested = -1  // from an earlier run: leave this run's state alone
        }
        return _BinaryEncoder(state: self, record: Int32(nested), depth: Int32(depth + 1), run: run, reusable: false)
    }
}

/// A keyed container: writes `key, slot` pairs into its slot, in the order of the calls.
///
/// A reused container (see `ContainerCache`) reads its slot from its binding.
struct KeyedBinaryEncodingContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let state: EncoderState
    private let binding: UnsafeMutablePointer<RecordBinding>?
    private let ownRecord: Int32
    private let ownDepth: Int32
    private let ownRun: UInt32

    init(state: EncoderState, binding: UnsafeMutablePointer<RecordBinding>?, record: Int32, depth: Int32, run: UInt32) {
        self.state = state
        self.binding = binding
        self.ownRecord = record
        self.ownDepth = depth
        self.ownRun = run
    }

    var record: Int32 { binding?.pointee.record ?? ownRecord }
    var depth: Int32 { binding?.pointee.depth ?? ownDepth }
    var run: UInt32 { binding?.pointee.run ?? ownRun }

    var codingPath: [any CodingKey] { state.codingPath(of: Int(record), run: run) }

    /// Checks the container may write, then writes the key.
    @inline(__always)
    private func beginField(_ key: Key) throws {
        try state.prepareWrite(record: Int(record), depth: Int(depth), run: run)
        state.appendKey(key)
    }

    mutating func encodeNil(forKey key: Key) throws {
        try beginField(key)
        state.appendByte(0)
    }
    mutating func encode(_ value: Bool, forKey key: Key) throws {
        try beginField(key)
        state.appendBool(value, slot: true)
    }
    mutating func encode(_ value: String, forKey key: Key) throws {
        try beginField(key)
        state.appendString(value, slot: true)
    }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        try beginField(key)
        state.appendDouble(value, slot: true)
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        try beginField(key)
        state.appendFloat(value, slot: true)
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
        state.appendSigned(value, slot: true)
    }

    @inline(__always)
    private func encodeUnsigned(_ value: UInt64, _ key: Key) throws {
        try beginField(key)
        state.appendUnsigned(value, slot: true)
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try beginField(key)
        try state.encodeChild(value, parent: Int(record), depth: Int(depth), component: .key(key))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type,
        forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        nestedEncoder(key).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        nestedEncoder(key).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { nestedEncoder(BinaryCodingKey.super) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { nestedEncoder(key) }

    /// Opens a field slot that stays open until this container (or an ancestor) writes again.
    private func nestedEncoder(_ key: some CodingKey) -> _BinaryEncoder {
        state.nestedEncoder(record: record, depth: depth, run: run, key: key, component: .key(key))
    }
}

/// An unkeyed container: one slot per element, no count (the enclosing slot's length bounds it).
struct UnkeyedBinaryEncodingContainer: UnkeyedEncodingContainer {
    let state: EncoderState
    let record: Int32
    let depth: Int32
    let run: UInt32
    /// 32 bits keep the container within an existential's inline buffer.
    private var elements: UInt32 = 0

    init(state: EncoderState, record: Int32, depth: Int32, run: UInt32) {
        self.state = state
        self.record = record
        self.depth = depth
        self.run = run
    }

    var count: Int { Int(elements) }
    var codingPath: [any CodingKey] { state.codingPath(of: Int(record), run: run) }

    @inline(__always)
    private mutating func beginElement() throws {
        try state.prepareWrite(record: Int(record), depth: Int(depth), run: run)
        elements &+= 1
    }

    mutating func encodeNil() throws {
        try beginElement()
        state.appendByte(0)
    }
    mutating func encode(_ value: Bool) throws {
        try beginElement()
        state.appendBool(value, slot: true)
    }
    mutating func encode(_ value: String) throws {
        try beginElement()
        state.appendString(value, slot: true)
    }
    mutating func encode(_ value: Double) throws {
        try beginElement()
        state.appendDouble(value, slot: true)
    }
    mutating func encode(_ value: Float) throws {
        try beginElement()
        state.appendFloat(value, slot: true)
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
        state.appendSigned(value, slot: true)
    }
    private mutating func encodeUnsigned(_ value: UInt64) throws {
        try beginElement()
        state.appendUnsigned(value, slot: true)
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try beginElement()
        try state.encodeChild(value, parent: Int(record), depth: Int(depth), component: .index(count - 1))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type
    ) -> KeyedEncodingContainer<NestedKey> {
        nestedEncoder().container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { nestedEncoder().unkeyedContainer() }
    mutating func superEncoder() -> any Encoder { nestedEncoder() }

    private mutating func nestedEncoder() -> _BinaryEncoder {
        let index = count
        elements &+= 1
        return state.nestedEncoder(
            record: record,
            depth: depth,
            run: run,
            key: BinaryCodingKey?.none,
            component: .index(index)
        )
    }
}

/// A single-value container writes its value straight into the slot it was created for.
struct SingleValueBinaryEncodingContainer: SingleValueEncodingContainer {
    let state: EncoderState
    let record: Int32
    let depth: Int32
    let run: UInt32

    var codingPath: [any CodingKey] { state.codingPath(of: Int(record), run: run) }

    @inline(__always)
    private func prepare() throws { try state.prepareWrite(record: Int(record), depth: Int(depth), run: run) }

    mutating func encodeNil() throws { try state.markNil(record: Int(record), depth: Int(depth), run: run) }
    mutating func encode(_ value: Bool) throws {
        try prepare()
        state.appendBool(value, slot: false)
    }
    mutating func encode(_ value: String) throws {
        try prepare()
        state.appendString(value, slot: false)
    }
    mutating func encode(_ value: Double) throws {
        try prepare()
        state.appendDouble(value, slot: false)
    }
    mutating func encode(_ value: Float) throws {
        try prepare()
        state.appendFloat(value, slot: false)
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
        state.appendSigned(value, slot: false)
    }
    private func encodeUnsigned(_ value: UInt64) throws {
        try prepare()
        state.appendUnsigned(value, slot: false)
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try prepare()
        if state.appendLeaf(value, slot: false) { return }
        try state.encodeNonLeaf(value, record: Int(record), depth: Int(depth))
    }
}
