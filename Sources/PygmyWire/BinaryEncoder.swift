#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Encodes any `Encodable` value into Pygmy's compact binary format.
///
/// The format is specified in `Protocol/PROTOCOL.md` ("Binary encoding"). In short: every value sits in a
/// *slot* (a varint header that is 0 for nil, otherwise the payload length + 1); integers are varints
/// (ZigZag for signed types); keyed containers are a sequence of `key, slot` pairs; unkeyed containers are
/// a sequence of slots. Output is deterministic: the same value always gives the same bytes.
///
/// The encoder is a value type and cheap to create; it holds no state between calls.
public struct BinaryEncoder: Sendable {
    /// Values made available to `encode(to:)` implementations through `Encoder.userInfo`.
    public var userInfo: [CodingUserInfoKey: any Sendable] = [:]

    public init() {}

    /// Encodes `value` as one top-level slot and returns the bytes.
    public func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let state = EncoderState.checkOut(userInfo: userInfo)
        defer { state.checkIn() }
        try state.encodeTopLevel(value)
        return state.makeArray()
    }

    /// Encodes `value` as one top-level slot, appending to `bytes`. When encoding throws, `bytes` is left
    /// as it was.
    public func encode<T: Encodable>(_ value: T, appendingTo bytes: inout [UInt8]) throws {
        let state = EncoderState.checkOut(userInfo: userInfo)
        defer { state.checkIn() }
        try state.encodeTopLevel(value)
        state.append(to: &bytes)
    }
}

/// A slot that was opened for a nested value: where its placeholder header sits, which slot encloses it,
/// and the key or index it was opened for (for coding paths).
///
/// Records are never removed during an encoding run, so a container can always name its path, even after
/// its slot was closed. Leaf values (integers, strings, …) get no record: their slot is written whole.
struct SlotRecord {
    /// The offset of the slot's one-byte placeholder header.
    var start: Int
    /// The enclosing slot's record, or -1 for the top-level slot.
    var parent: Int32
    /// The number of slots open while this one is innermost (the top-level slot is at depth 1).
    var depth: Int32
    var isNil: Bool
    var isOpen: Bool
    var component: StoredComponent
}

/// The shared, mutable state of one encoding run: the output bytes and the slots opened for nested values.
///
/// Containers write straight into the buffer. A nested value's slot header is written as one placeholder
/// byte when the slot opens and patched (widened if the payload reached 127 bytes) when it closes; a leaf
/// value's slot is written with its final header at once. The open slots form a chain from `current` up
/// through `parent`. Containers remember the slot they write into; writing to a container closes every
/// slot opened after its own, which is how nested containers are finished.
///
/// Speed: the state is a pointer to an `EncoderContext`, so encoders and containers (which the standard
/// library's boxes copy on every call) are plain values that copy without reference counting, and no access
/// pays for a dynamic exclusivity check. Contexts are recycled through a pool and never freed, so a pointer
/// always points at a live context. Each run has its own `run` number; an encoder or container kept past
/// its run carries an old number, and every write through it throws instead of touching the context.
struct EncoderState {
    let context: UnsafeMutablePointer<EncoderContext>

    /// A state ready for a new run: its context from the pool, or new.
    static func checkOut(userInfo: [CodingUserInfoKey: any Sendable]) -> EncoderState {
        let state = EncoderState(context: EncoderContext.pool.take())
        state.run &+= 1
        if !userInfo.isEmpty { state.context.pointee.userInfo = userInfo }
        return state
    }

    /// Ends the run and returns the context to the pool.
    func checkIn() {
        run &+= 1  // anything kept from this run is stale from now on
        context.pointee.reset()
        EncoderContext.pool.give(context)
    }

    @inline(__always) private var base: UnsafeMutablePointer<UInt8> {
        get { context.pointee.base }
        nonmutating set { context.pointee.base = newValue }
    }
    @inline(__always) private var count: Int {
        get { context.pointee.count }
        nonmutating set { context.pointee.count = newValue }
    }
    @inline(__always) private var capacity: Int {
        get { context.pointee.capacity }
        nonmutating set { context.pointee.capacity = newValue }
    }
    @inline(__always) private var records: UnsafeMutablePointer<SlotRecord> {
        get { context.pointee.records }
        nonmutating set { context.pointee.records = newValue }
    }
    @inline(__always) private var recordCount: Int {
        get { context.pointee.recordCount }
        nonmutating set { context.pointee.recordCount = newValue }
    }
    @inline(__always) private var recordCapacity: Int {
        get { context.pointee.recordCapacity }
        nonmutating set { context.pointee.recordCapacity = newValue }
    }
    /// The innermost open slot's record, or -1 when no slot is open.
    @inline(__always) private(set) var current: Int {
        get { context.pointee.current }
        nonmutating set { context.pointee.current = newValue }
    }
    /// Tells this run from earlier runs of the same (recycled) context.
    @inline(__always) private(set) var run: UInt32 {
        get { context.pointee.run }
        nonmutating set { context.pointee.run = newValue }
    }
    /// An ordering error found where the Codable API cannot throw (creating a nested container); the
    /// top-level `encode` throws it at the end.
    private var deferredError: (any Error)? {
        get { context.pointee.deferredError }
        nonmutating set { context.pointee.deferredError = newValue }
    }

    var userInfo: [CodingUserInfoKey: Any] { context.pointee.userInfo }

    /// Whether an encoder or container made in `run` may still use this state.
    @inline(__always)
    func isCurrent(run: UInt32) -> Bool { self.run == run }

    /// Whether the slot of `record`, from `run`, is still open.
    @inline(__always)
    func isOpen(record: Int32, run: UInt32) -> Bool {
        self.run == run && record >= 0 && Int(record) < recordCount && records[Int(record)].isOpen
    }

    func makeArray() -> [UInt8] {
        [UInt8](UnsafeBufferPointer(start: base, count: count))
    }

    func append(to bytes: inout [UInt8]) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: base, count: count))
    }

    /// Encodes `value` as the top-level slot.
    func encodeTopLevel<T: Encodable>(_ value: T) throws {
        if appendLeaf(value, slot: true) { return }
        let record = openSlot(parent: -1, depth: 1, component: .none)
        try encodeNonLeaf(value, record: record, depth: 1)
        closeSlots(downTo: 0)
        if let deferredError { throw deferredError }
    }

    // MARK: Raw output

    @inline(never)
    private func grow(toHold extra: Int) {
        var newCapacity = capacity * 2
        while newCapacity < count + extra { newCapacity *= 2 }
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.update(from: base, count: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    @inline(__always)
    private func reserve(_ extra: Int) {
        if capacity - count < extra { grow(toHold: extra) }
    }

    @inline(__always)
    func appendByte(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    @inline(__always)
    func appendVarInt(_ value: UInt64) {
        reserve(VarInt.maxLength)
        var v = value
        var i = count
        while v >= 0x80 {
            base[i] = UInt8(truncatingIfNeeded: v) | 0x80
            v >>= 7
            i += 1
        }
        base[i] = UInt8(truncatingIfNeeded: v)
        count = i + 1
    }

    @inline(__always)
    func appendBytes(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        reserve(bytes.count)
        UnsafeMutableRawPointer(base + count).copyMemory(from: source, byteCount: bytes.count)
        count += bytes.count
    }

    // MARK: Slots

    /// Opens a slot (one placeholder header byte) for a nested value and makes it the innermost one.
    @inline(__always)
    func openSlot(parent: Int, depth: Int, component: PathComponent) -> Int {
        let record = addRecord(
            SlotRecord(
                start: count,
                parent: Int32(truncatingIfNeeded: parent),
                depth: Int32(truncatingIfNeeded: depth),
                isNil: false,
                isOpen: true,
                component: context.pointee.keys.store(component)
            )
        )
        current = record
        appendByte(0)
        return record
    }

    /// A record for a container that could not be opened in order: it writes nothing, and every write to it
    /// throws, but it still knows its coding path.
    func detachedRecord(parent: Int, depth: Int, component: PathComponent) -> Int {
        addRecord(
            SlotRecord(
                start: count,
                parent: Int32(truncatingIfNeeded: parent),
                depth: Int32(truncatingIfNeeded: depth),
                isNil: false,
                isOpen: false,
                component: context.pointee.keys.store(component)
            )
        )
    }

    @inline(__always)
    private func addRecord(_ record: SlotRecord) -> Int {
        if recordCount == recordCapacity { growRecords() }
        precondition(recordCount < Int(Int32.max), "too many nested values in one encoding")
        (records + recordCount).initialize(to: record)
        recordCount += 1
        return recordCount - 1
    }

    @inline(never)
    private func growRecords() {
        let newCapacity = recordCapacity * 2
        let newRecords = UnsafeMutablePointer<SlotRecord>.allocate(capacity: newCapacity)
        newRecords.moveInitialize(from: records, count: recordCount)  // records are plain values
        records.deallocate()
        records = newRecords
        recordCapacity = newCapacity
    }

    /// Closes open slots until the innermost one is at `depth` or shallower.
    @inline(__always)
    func closeSlots(downTo depth: Int) {
        while current >= 0 && Int(records[current].depth) > depth { closeCurrent() }
    }

    /// Closes the innermost open slot: patches its header with the payload length.
    private func closeCurrent() {
        let record = records + current
        record.pointee.isOpen = false
        current = Int(record.pointee.parent)
        let start = record.pointee.start
        let payloadLength = count - start - 1
        if record.pointee.isNil && payloadLength == 0 {
            base[start] = 0
            return
        }
        let header = UInt64(payloadLength) + 1
        if header < 0x80 {
            base[start] = UInt8(header)
        } else {
            widenHeader(at: start, payloadLength: payloadLength, header: header)
        }
    }

    /// Replaces the one-byte placeholder at `start` with the multi-byte varint `header`, moving the payload.
    @inline(never)
    private func widenHeader(at start: Int, payloadLength: Int, header: UInt64) {
        let extra = VarInt.length(of: header) - 1
        reserve(extra)
        (base + start + 1 + extra).update(from: base + start + 1, count: payloadLength)
        var v = header
        var i = start
        while v >= 0x80 {
            base[i] = UInt8(truncatingIfNeeded: v) | 0x80
            v >>= 7
            i += 1
        }
        base[i] = UInt8(truncatingIfNeeded: v)
        count += extra
    }

    /// Marks the slot of `record` as nil (header 0) if it is still empty when it closes.
    func markNil(record: Int, depth: Int, run: UInt32) throws {
        try prepareWrite(record: record, depth: depth, run: run)
        records[record].isNil = true
    }

    /// Called before every write through a container: closes slots opened after the container's own, and
    /// refuses writes to a container whose slot was already closed (an interleaving the format cannot express)
    /// or that belongs to an earlier run.
    @inline(__always)
    func prepareWrite(record: Int, depth: Int, run: UInt32) throws {
        if current != record || self.run != run { try prepareWriteSlow(record: record, depth: depth, run: run) }
    }

    @inline(never)
    private func prepareWriteSlow(record: Int, depth: Int, run: UInt32) throws {
        guard self.run == run else {
            throw EncodingError.invalidValue(
                (),
                EncodingError.Context(
                    codingPath: [],
                    debugDescription: "an encoder or container was used after the encoding it was made for ended"
                )
            )
        }
        closeSlots(downTo: depth)
        guard current == record else {
            throw EncodingError.invalidValue(
                (),
                EncodingError.Context(
                    codingPath: codingPath(of: record),
                    debugDescription:
                        "Wrote to a container after a sibling or parent container had moved on; the binary format writes containers in order"
                )
            )
        }
    }

    /// `prepareWrite` for the places that cannot throw: remembers the error for the end of the run.
    func prepareNested(record: Int, depth: Int, run: UInt32) -> Bool {
        do {
            try prepareWrite(record: record, depth: depth, run: run)
            return true
        } catch {
            if isCurrent(run: run) && deferredError == nil { deferredError = error }
            return false
        }
    }

    /// The coding path of the value whose slot `record` is.
    func codingPath(of record: Int, run: UInt32) -> [any CodingKey] {
        guard self.run == run else { return [] }
        return codingPath(of: record)
    }

    /// The coding path of the value whose slot `record` is.
    func codingPath(of record: Int) -> [any CodingKey] {
        var reversed: [any CodingKey] = []
        var i = record
        while i >= 0 && i < recordCount {
            context.pointee.keys.append(records[i].component, to: &reversed)
            i = Int(records[i].parent)
        }
        return reversed.reversed()
    }

    // MARK: Values

    /// Appends a key: varint byte length, then the key's `stringValue` in UTF-8.
    @inline(__always)
    func appendKey(_ key: some CodingKey) {
        if let entry = context.pointee.keyMemo.entry(for: key) {
            // At most 32 bytes: one length byte, then the text, copied as four words (the bytes past the
            // text are overwritten by whatever comes next).
            reserve(1 + KeyMemo.maxLength)
            let length = entry.pointee.length
            base[count] = UInt8(truncatingIfNeeded: length)
            let source = KeyMemo.text(of: entry)
            let target = UnsafeMutableRawPointer(base + count + 1)
            for word in 0..<4 {
                target.storeBytes(
                    of: source.load(fromByteOffset: 8 * word, as: UInt64.self),
                    toByteOffset: 8 * word,
                    as: UInt64.self
                )
            }
            count += 1 + length
            return
        }
        var text = key.stringValue
        text.withUTF8 { utf8 in
            appendVarInt(UInt64(utf8.count))
            appendBytes(UnsafeRawBufferPointer(utf8))
        }
    }

    // Each `append…` below writes a value's payload, preceded by its slot header when `slot` is true (a
    // field or element gets a slot of its own; a single-value container writes into its open slot). A leaf's
    // length is known before it is written, so its header is written once, never patched.

    @inline(__always)
    func appendBytes(_ bytes: UnsafeRawBufferPointer, slot: Bool) {
        if slot { appendVarInt(UInt64(bytes.count) + 1) }
        appendBytes(bytes)
    }

    @inline(__always)
    func appendString(_ value: String, slot: Bool) {
        var text = value
        text.withUTF8 { appendBytes(UnsafeRawBufferPointer($0), slot: slot) }
    }

    @inline(__always)
    func appendUnsigned(_ value: UInt64, slot: Bool) {
        if slot {
            reserve(1)
            base[count] = UInt8(VarInt.length(of: value) + 1)
            count += 1
        }
        appendVarInt(value)
    }

    @inline(__always)
    func appendSigned(_ value: Int64, slot: Bool) { appendUnsigned(VarInt.zigZag(value), slot: slot) }

    @inline(__always)
    func appendBool(_ value: Bool, slot: Bool) {
        reserve(2)
        if slot {
            base[count] = 2
            count += 1
        }
        base[count] = value ? 1 : 0
        count += 1
    }

    @inline(__always)
    func appendFixed64(_ value: UInt64, slot: Bool) {
        reserve(9)
        if slot {
            base[count] = 9
            count += 1
        }
        UnsafeMutableRawPointer(base + count).storeBytes(of: value.littleEndian, as: UInt64.self)
        count += 8
    }

    @inline(__always)
    func appendFixed32(_ value: UInt32, slot: Bool) {
        reserve(5)
        if slot {
            base[count] = 5
            count += 1
        }
        UnsafeMutableRawPointer(base + count).storeBytes(of: value.littleEndian, as: UInt32.self)
        count += 4
    }

    /// Appends a Double; every NaN is written as the one canonical NaN (`CanonicalNaN`).
    @inline(__always)
    func appendDouble(_ value: Double, slot: Bool) {
        appendFixed64(value.isNaN ? CanonicalNaN.double : value.bitPattern, slot: slot)
    }

    /// Appends a Float; every NaN is written as the one canonical NaN (`CanonicalNaN`).
    @inline(__always)
    func appendFloat(_ value: Float, slot: Bool) {
        appendFixed32(value.isNaN ? CanonicalNaN.float : value.bitPattern, slot: slot)
    }

    /// Encodes a nested value into a new slot: whole if it is a leaf, otherwise through its `encode(to:)` in
    /// a slot that stays open until the container it belongs to writes again.
    @inline(__always)
    func encodeChild<T: Encodable>(
        _ value: T,
        parent: Int,
        depth: Int,
        component: @autoclosure () -> PathComponent
    ) throws {
        if appendLeaf(value, slot: true) { return }
        let record = openSlot(parent: parent, depth: depth + 1, component: component())
        try encodeNonLeaf(value, record: record, depth: depth + 1)
        closeSlots(downTo: depth)
    }

    /// Runs `value`'s own `encode(to:)` into the slot of `record` (dictionaries and sets then have their
    /// entries put in canonical order, see `BinaryCanonicalCollection`).
    func encodeNonLeaf<T: Encodable>(_ value: T, record: Int, depth: Int) throws {
        if try encodeArray(value, record: record, depth: depth) { return }
        if let layout = canonicalLayout(T.self) {
            try value.encode(
                to: _BinaryEncoder(state: self, record: Int32(record), depth: Int32(depth), run: run, reusable: true)
            )
            return sortEntries(record: record, depth: depth, layout: layout)
        }
        try value.encode(
            to: _BinaryEncoder(state: self, record: Int32(record), depth: Int32(depth), run: run, reusable: true)
        )
    }

    /// Puts the entries of the dictionary or set just written into the slot of `record` in canonical order.
    @inline(never)
    func sortEntries(record: Int, depth: Int, layout: CanonicalLayout) {
        closeSlots(downTo: depth)  // the last entry's slot may still be open
        guard current == record else { return }
        let start = records[record].start + 1  // the header is a one-byte placeholder while the slot is open
        CanonicalOrder.sort(base + start, count: count - start, layout: layout)
    }

    /// Writes `value` for the types whose binary form is fixed by the spec rather than by their `Encodable`
    /// conformance: a whole slot when `slot` is true, otherwise the payload alone. Returns false, writing
    /// nothing, for every other type. Metatype comparisons are pointer compares, and every leaf type is at
    /// most 16 bytes, so a larger type pays one size check only.
    @inline(__always)
    func appendLeaf<T: Encodable>(_ value: T, slot: Bool) -> Bool {
        guard MemoryLayout<T>.size <= 16 else { return false }
        if T.self == String.self {
            appendString(unsafeBitCast(value, to: String.self), slot: slot)
        } else if T.self == Int.self {
            appendSigned(Int64(unsafeBitCast(value, to: Int.self)), slot: slot)
        } else if T.self == Bool.self {
            appendBool(unsafeBitCast(value, to: Bool.self), slot: slot)
        } else if T.self == Data.self {
            unsafeBitCast(value, to: Data.self).withUnsafeBytes { appendBytes($0, slot: slot) }
        } else if T.self == Date.self {
            appendDouble(unsafeBitCast(value, to: Date.self).timeIntervalSinceReferenceDate, slot: slot)
        } else if T.self == UUID.self {
            withUnsafeBytes(of: unsafeBitCast(value, to: UUID.self).uuid) { appendBytes($0, slot: slot) }
        } else if T.self == Double.self {
            appendDouble(unsafeBitCast(value, to: Double.self), slot: slot)
        } else if T.self == Float.self {
            appendFloat(unsafeBitCast(value, to: Float.self), slot: slot)
        } else if T.self == Int64.self {
            appendSigned(unsafeBitCast(value, to: Int64.self), slot: slot)
        } else if T.self == UInt64.self {
            appendUnsigned(unsafeBitCast(value, to: UInt64.self), slot: slot)
        } else if T.self == UInt.self {
            appendUnsigned(UInt64(unsafeBitCast(value, to: UInt.self)), slot: slot)
        } else if T.self == Int32.self {
            appendSigned(Int64(unsafeBitCast(value, to: Int32.self)), slot: slot)
        } else if T.self == UInt32.self {
            appendUnsigned(UInt64(unsafeBitCast(value, to: UInt32.self)), slot: slot)
        } else if T.self == Int16.self {
            appendSigned(Int64(unsafeBitCast(value, to: Int16.self)), slot: slot)
        } else if T.self == UInt16.self {
            appendUnsigned(UInt64(unsafeBitCast(value, to: UInt16.self)), slot: slot)
        } else if T.self == Int8.self {
            appendSigned(Int64(unsafeBitCast(value, to: Int8.self)), slot: slot)
        } else if T.self == UInt8.self {
            appendUnsigned(UInt64(unsafeBitCast(value, to: UInt8.self)), slot: slot)
        } else {
            return false
        }
        return true
    }
}

/// The memory behind an `EncoderState`.
struct EncoderContext {
    var base: UnsafeMutablePointer<UInt8>
    var count = 0
    var capacity: Int
    var records: UnsafeMutablePointer<SlotRecord>
    var recordCount = 0
    var recordCapacity: Int
    var current = -1
    var run: UInt32 = 0
    var keys = KeyStack()
    let keyMemo = KeyMemo()
    let containers = ContainerCache()
    var userInfo: [CodingUserInfoKey: any Sendable] = [:]
    var deferredError: (any Error)?

    private static let initialCapacity = 256
    private static let initialRecordCapacity = 16
    /// Buffers that grew beyond these are shrunk back when the context returns to the pool.
    private static let retainedCapacity = 64 * 1024
    private static let retainedRecordCapacity = 1024

    /// Idle contexts (see `ContextPool`).
    static let pool = ContextPool<EncoderContext>(make: make)

    static func make() -> UnsafeMutablePointer<EncoderContext> {
        let context = UnsafeMutablePointer<EncoderContext>.allocate(capacity: 1)
        context.initialize(
            to: EncoderContext(
                base: .allocate(capacity: initialCapacity),
                capacity: initialCapacity,
                records: .allocate(capacity: initialRecordCapacity),
                recordCapacity: initialRecordCapacity
            )
        )
        return context
    }

    /// Forgets the run: empties the buffers (shrinking any that grew large) and drops its values.
    mutating func reset() {
        count = 0
        current = -1
        deferredError = nil
        if !userInfo.isEmpty { userInfo = [:] }
        recordCount = 0
        keys.truncate(to: 0)
        if capacity > Self.retainedCapacity {
            base.deallocate()
            capacity = Self.initialCapacity
            base = .allocate(capacity: capacity)
        }
        if recordCapacity > Self.retainedRecordCapacity {
            records.deallocate()
            recordCapacity = Self.initialRecordCapacity
            records = .allocate(capacity: recordCapacity)
        }
    }
}
