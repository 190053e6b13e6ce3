import NIOCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Decodes any `Decodable` value from Pygmy's binary format (see `BinaryEncoder` and `Protocol/PROTOCOL.md`).
///
/// Built for hostile input: every length is checked against the bytes that remain, nesting is capped at
/// `maxDepth`, and every malformed input throws a `DecodingError` that says what was wrong and where.
/// Nothing is allocated in proportion to a declared count; collections grow only as elements are read.
public struct BinaryDecoder: Sendable {
    /// The deepest nesting of containers accepted. Deeper input throws rather than recursing further.
    public var maxDepth: Int = 64
    /// Values made available to `init(from:)` implementations through `Decoder.userInfo`.
    public var userInfo: [CodingUserInfoKey: any Sendable] = [:]

    public init() {}

    /// Decodes one top-level slot that must span `bytes` exactly.
    public func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try bytes.withUnsafeBytes { try decode(type, from: $0) }
    }

    /// Decodes one top-level slot that must span the readable bytes of `buffer`.
    public func decode<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
        try buffer.withUnsafeReadableBytes { try decode(type, from: $0) }
    }

    /// Decodes one top-level slot that must span `data`.
    public func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        try data.withUnsafeBytes { try decode(type, from: $0) }
    }

    /// Decodes one top-level slot that must span `bytes` exactly. The bytes are only read during the call.
    func decode<T: Decodable>(_ type: T.Type, from bytes: UnsafeRawBufferPointer) throws -> T {
        guard let base = bytes.baseAddress, !bytes.isEmpty else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: [], debugDescription: "truncated varint: the input is empty, with no slot header")
            )
        }
        let input = InputBytes(base: base.assumingMemoryBound(to: UInt8.self), count: bytes.count)
        var index = 0
        let slot: Slot
        do throws(DecodeFailure) {
            slot = try input.readSlot(at: &index, end: input.count)
        } catch {
            throw error.at([])
        }
        guard index == input.count else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: [],
                    debugDescription: "\(input.count - index) trailing bytes after the top-level value"
                )
            )
        }
        if InputBytes.isLeaf(type) {
            do throws(DecodeFailure) {
                return try input.decodeLeaf(type, slot)
            } catch {
                throw error.at([])
            }
        }
        let storage = DecoderStorage.checkOut(input: input, maxDepth: maxDepth, userInfo: userInfo)
        defer { storage.checkIn() }
        return try storage.decodeNonLeaf(type, slot: slot, depth: 1, parent: -1, component: .none)
    }
}

/// A slot located in the input: its payload is `bytes[start..<end]`, or it is nil.
struct Slot {
    var start: Int
    var end: Int
    var isNil: Bool
}

/// A field of a keyed container: where its key text and its slot are, and where the next field starts.
struct Field {
    var key: Range<Int>
    var slot: Slot
    var next: Int
}

/// Why a read failed, without the coding path: the container that asked adds the path, so that no path is
/// built unless something fails. Thrown as a typed error, so the success path pays nothing for it.
struct DecodeFailure: Error, @unchecked Sendable {
    enum Kind {
        /// A nil slot where a value of this type was expected.
        case missing(Any.Type)
        case corrupted(String)
    }

    var kind: Kind

    static func corrupted(_ message: String) -> DecodeFailure { DecodeFailure(kind: .corrupted(message)) }

    func at(_ path: [any CodingKey]) -> DecodingError {
        switch kind {
        case .missing(let type):
            DecodingError.valueNotFound(type, .init(codingPath: path, debugDescription: "expected \(type), found nil"))
        case .corrupted(let message):
            DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: message))
        }
    }
}

/// The input of one decoding run, read through a pointer that is valid for the duration of the run.
///
/// Every read is bounded by an `end` that was itself checked against `count`.
struct InputBytes {
    let base: UnsafePointer<UInt8>
    let count: Int

    /// No input: what an idle storage holds.
    static var empty: InputBytes { InputBytes(base: UnsafePointer(bitPattern: 0x1)!, count: 0) }

    /// Reads a varint starting at `index`, not reading at or past `end` (see `VarInt.read`).
    @inline(__always)
    func readVarInt(at index: inout Int, end: Int) -> UInt64? {
        if index < end {
            let byte = base[index]
            if byte < 0x80 {
                index += 1
                return UInt64(byte)
            }
        }
        return readLongVarInt(at: &index, end: end)
    }

    @inline(never)
    func readLongVarInt(at index: inout Int, end: Int) -> UInt64? {
        VarInt.read(from: base, at: &index, end: end)
    }

    /// Reads a slot header at `index` and returns the slot, leaving `index` just past its payload.
    @inline(__always)
    func readSlot(at index: inout Int, end: Int) throws(DecodeFailure) -> Slot {
        guard let header = readVarInt(at: &index, end: end) else {
            throw .corrupted("\(VarInt.failure(from: base, at: index, end: end)) in the slot header at byte \(index)")
        }
        if header == 0 { return Slot(start: index, end: index, isNil: true) }
        let length = header - 1
        guard length <= UInt64(end - index) else {
            throw .corrupted("slot at byte \(index) declares \(length) bytes but only \(end - index) remain")
        }
        let start = index
        index += Int(length)
        return Slot(start: start, end: index, isNil: false)
    }

    /// Reads a key (varint length + UTF-8) at `index`, returning the byte range of its text.
    @inline(__always)
    func readKey(at index: inout Int, end: Int) throws(DecodeFailure) -> Range<Int> {
        guard let length = readVarInt(at: &index, end: end) else {
            throw .corrupted("\(VarInt.failure(from: base, at: index, end: end)) in the key length at byte \(index)")
        }
        guard length <= UInt64(end - index) else {
            throw .corrupted("key at byte \(index) declares \(length) bytes but only \(end - index) remain")
        }
        let start = index
        index += Int(length)
        return start..<index
    }

    /// Reads the `key, slot` field at `index`.
    @inline(__always)
    func readField(at index: Int, end: Int) throws(DecodeFailure) -> Field {
        var i = index
        let key = try readKey(at: &i, end: end)
        let slot = try readSlot(at: &i, end: end)
        return Field(key: key, slot: slot, next: i)
    }

    /// Whether the key text at `range` equals `key.stringValue`, compared as bytes.
    @inline(__always)
    func keyMatches(_ range: Range<Int>, _ key: some CodingKey, _ memo: KeyMemo) -> Bool {
        if let entry = memo.entry(for: key) {
            let length = range.count
            guard entry.pointee.length == length else { return false }
            let text = KeyMemo.text(of: entry)
            // A key is followed by at least a slot header, so a short key can be read as one word when the
            // input extends 8 bytes past its start; the remembered text is zero-padded, the input is masked.
            if length <= 8 && range.lowerBound + 8 <= count {
                let word = UnsafeRawPointer(base + range.lowerBound).loadUnaligned(as: UInt64.self)
                let mask: UInt64 = length == 8 ? ~0 : (1 << (8 * UInt64(length))) &- 1
                return UInt64(littleEndian: word) & mask == UInt64(littleEndian: text.load(as: UInt64.self))
            }
            return Self.bytesEqual(base + range.lowerBound, text.assumingMemoryBound(to: UInt8.self), count: length)
        }
        var text = key.stringValue
        return text.withUTF8 { utf8 in
            guard utf8.count == range.count else { return false }
            guard let expected = utf8.baseAddress else { return true }
            return Self.bytesEqual(base + range.lowerBound, expected, count: range.count)
        }
    }

    // MARK: Leaf payloads

    @inline(__always)
    func requirePresent(_ slot: Slot, _ type: Any.Type) throws(DecodeFailure) {
        if slot.isNil { throw DecodeFailure(kind: .missing(type)) }
    }

    @inline(__always)
    func unsigned(_ slot: Slot) throws(DecodeFailure) -> UInt64 {
        try requirePresent(slot, UInt64.self)
        var index = slot.start
        guard let v = readVarInt(at: &index, end: slot.end) else {
            throw .corrupted("\(VarInt.failure(from: base, at: slot.start, end: slot.end)) in an integer")
        }
        guard index == slot.end else {
            throw .corrupted(
                "trailing bytes: an integer's varint of \(index - slot.start) bytes in a slot of \(slot.end - slot.start)"
            )
        }
        return v
    }

    @inline(__always)
    func signed(_ slot: Slot) throws(DecodeFailure) -> Int64 {
        VarInt.unZigZag(try unsigned(slot))
    }

    @inline(__always)
    func integer<I: FixedWidthInteger>(_ type: I.Type, _ slot: Slot) throws(DecodeFailure) -> I {
        if I.isSigned {
            let v = try signed(slot)
            guard let r = I(exactly: v) else { throw .corrupted("\(v) does not fit in \(I.self)") }
            return r
        } else {
            let v = try unsigned(slot)
            guard let r = I(exactly: v) else { throw .corrupted("\(v) does not fit in \(I.self)") }
            return r
        }
    }

    @inline(__always)
    func bool(_ slot: Slot) throws(DecodeFailure) -> Bool {
        try requirePresent(slot, Bool.self)
        guard slot.end - slot.start == 1, base[slot.start] <= 1 else {
            throw .corrupted("a Bool is one byte, 0 or 1")
        }
        return base[slot.start] == 1
    }

    @inline(__always)
    func fixed64(_ slot: Slot, _ what: StaticString) throws(DecodeFailure) -> UInt64 {
        try requirePresent(slot, UInt64.self)
        guard slot.end - slot.start == 8 else {
            throw .corrupted("\(what) takes 8 bytes, found \(slot.end - slot.start)")
        }
        return UInt64(littleEndian: UnsafeRawPointer(base + slot.start).loadUnaligned(as: UInt64.self))
    }

    @inline(__always)
    func fixed32(_ slot: Slot, _ what: StaticString) throws(DecodeFailure) -> UInt32 {
        try requirePresent(slot, UInt32.self)
        guard slot.end - slot.start == 4 else {
            throw .corrupted("\(what) takes 4 bytes, found \(slot.end - slot.start)")
        }
        return UInt32(littleEndian: UnsafeRawPointer(base + slot.start).loadUnaligned(as: UInt32.self))
    }

    @inline(__always)
    func double(_ slot: Slot, _ what: StaticString = "a Double") throws(DecodeFailure) -> Double {
        let bits = try fixed64(slot, what)
        let value = Double(bitPattern: bits)
        if value.isNaN && bits != CanonicalNaN.double { throw .corrupted("non-canonical NaN in \(what)") }
        return value
    }

    @inline(__always)
    func float(_ slot: Slot) throws(DecodeFailure) -> Float {
        let bits = try fixed32(slot, "a Float")
        let value = Float(bitPattern: bits)
        if value.isNaN && bits != CanonicalNaN.float { throw .corrupted("non-canonical NaN in a Float") }
        return value
    }

    @inline(__always)
    func string(_ slot: Slot) throws(DecodeFailure) -> String {
        try requirePresent(slot, String.self)
        guard let s = makeString(base + slot.start, count: slot.end - slot.start) else {
            throw .corrupted("string is not valid UTF-8")
        }
        return s
    }

    /// The text of `count` bytes at `start`, or nil when they are not valid UTF-8.
    ///
    /// `String(validating:as:)` costs about twice `String(decoding:as:)`, which repairs instead of refusing.
    /// ASCII needs no repair, so it takes `String(decoding:as:)`, and so does any other text whose decoded
    /// bytes come out identical to the input (a repaired string never does: repairing replaces bytes).
    @inline(__always)
    func makeString(_ start: UnsafePointer<UInt8>, count: Int) -> String? {
        let bytes = UnsafeBufferPointer(start: start, count: count)
        if Self.isASCII(start, count: count) { return String(decoding: bytes, as: UTF8.self) }
        return Self.makeNonASCIIString(bytes)
    }

    @inline(never)
    static func makeNonASCIIString(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        var s = String(decoding: bytes, as: UTF8.self)
        let unchanged = s.withUTF8 { utf8 in
            utf8.count == bytes.count && bytesEqual(utf8.baseAddress!, bytes.baseAddress!, count: bytes.count)
        }
        return unchanged ? s : nil
    }

    /// Whether `count` bytes at `a` and at `b` are equal, compared a word at a time.
    @inline(__always)
    static func bytesEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, count: Int) -> Bool {
        let ra = UnsafeRawPointer(a)
        let rb = UnsafeRawPointer(b)
        var i = 0
        while i + 8 <= count {
            if ra.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                != rb.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            {
                return false
            }
            i += 8
        }
        while i < count {
            if a[i] != b[i] { return false }
            i += 1
        }
        return true
    }

    @inline(__always)
    static func isASCII(_ start: UnsafePointer<UInt8>, count: Int) -> Bool {
        let raw = UnsafeRawPointer(start)
        var high: UInt64 = 0
        if count >= 8 {
            // Whole words, then the last word again (overlapping) for the tail.
            var i = 0
            while i + 8 <= count {
                high |= raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                i += 8
            }
            high |= raw.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
        } else {
            for i in 0..<count { high |= UInt64(start[i]) }
        }
        return high & 0x8080_8080_8080_8080 == 0
    }

    /// Whether `T` is one of the types whose binary form the spec fixes. Metatype comparisons are pointer
    /// compares, and every leaf type is at most 16 bytes, so a larger type pays one size check only.
    @inline(__always)
    static func isLeaf<T>(_ type: T.Type) -> Bool {
        guard MemoryLayout<T>.size <= 16 else { return false }
        return T.self == String.self || T.self == Int.self || T.self == Bool.self || T.self == Data.self
            || T.self == Date.self || T.self == UUID.self || T.self == Double.self || T.self == Float.self
            || T.self == Int64.self || T.self == UInt64.self || T.self == UInt.self || T.self == Int32.self
            || T.self == UInt32.self || T.self == Int16.self || T.self == UInt16.self || T.self == Int8.self
            || T.self == UInt8.self
    }

    /// Decodes a leaf type (`isLeaf(T.self)` must hold). Returning `T` rather than `T?` keeps the caller
    /// from needing `Optional<T>`'s metadata, a runtime lookup, for every value.
    @inline(__always)
    func decodeLeaf<T: Decodable>(_ type: T.Type, _ slot: Slot) throws(DecodeFailure) -> T {
        if T.self == String.self { return unsafeBitCast(try string(slot), to: T.self) }
        if T.self == Int.self { return unsafeBitCast(try integer(Int.self, slot), to: T.self) }
        if T.self == Bool.self { return unsafeBitCast(try bool(slot), to: T.self) }
        if T.self == Data.self {
            try requirePresent(slot, Data.self)
            return unsafeBitCast(Data(bytes: base + slot.start, count: slot.end - slot.start), to: T.self)
        }
        if T.self == Date.self {
            let seconds = try double(slot, "a Date")
            return unsafeBitCast(Date(timeIntervalSinceReferenceDate: seconds), to: T.self)
        }
        if T.self == UUID.self {
            try requirePresent(slot, UUID.self)
            guard slot.end - slot.start == 16 else {
                throw .corrupted("a UUID takes 16 bytes, found \(slot.end - slot.start)")
            }
            let b = base + slot.start
            let uuid = UUID(
                uuid: (
                    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                    b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
                )
            )
            return unsafeBitCast(uuid, to: T.self)
        }
        if T.self == Double.self { return unsafeBitCast(try double(slot), to: T.self) }
        if T.self == Float.self { return unsafeBitCast(try float(slot), to: T.self) }
        if T.self == Int64.self { return unsafeBitCast(try integer(Int64.self, slot), to: T.self) }
        if T.self == UInt64.self { return unsafeBitCast(try integer(UInt64.self, slot), to: T.self) }
        if T.self == UInt.self { return unsafeBitCast(try integer(UInt.self, slot), to: T.self) }
        if T.self == Int32.self { return unsafeBitCast(try integer(Int32.self, slot), to: T.self) }
        if T.self == UInt32.self { return unsafeBitCast(try integer(UInt32.self, slot), to: T.self) }
        if T.self == Int16.self { return unsafeBitCast(try integer(Int16.self, slot), to: T.self) }
        if T.self == UInt16.self { return unsafeBitCast(try integer(UInt16.self, slot), to: T.self) }
        if T.self == Int8.self { return unsafeBitCast(try integer(Int8.self, slot), to: T.self) }
        if T.self == UInt8.self { return unsafeBitCast(try integer(UInt8.self, slot), to: T.self) }
        preconditionFailure("\(T.self) is not a leaf type")
    }
}

/// One value being decoded through its `init(from:)`: its slot, its place in the coding path, and the
/// keyed-lookup cursor its keyed containers share.
struct DecodeFrame {
    var slot: Slot
    /// Where the field after the last one a keyed container found starts: lookups try it first, so decoding
    /// in encoding order (as synthesized `Codable` does) is a single pass.
    var cursor: Int
    /// The frame of the enclosing value, or -1 at the top level.
    var parent: Int32
    var depth: Int32
    /// Tells this frame from an earlier one at the same index: decoders and containers hold the serial of
    /// their frame and refuse to work once it was popped.
    var serial: UInt64
    var component: StoredComponent
    /// How many keys the key stack held before this frame was pushed (popping the frame pops back to it).
    var keysBefore: Int
    /// Whether the slot's fields are known to have unique keys (checked when a keyed container is made).
    var keysChecked = false
}

/// The input and limits shared by every decoder and container of one decoding run, and the stack of frames
/// for the values being decoded.
///
/// A frame is pushed for each non-leaf value and popped when its `init(from:)` returns (frames for nested
/// containers live until the value that made them is done). Coding paths are rebuilt from the frames only
/// when an error or a caller asks for one.
///
/// Speed: the storage is a pointer to a `DecoderContext`, so decoders and containers (which the standard
/// library's boxes copy on every call) are plain values that copy without reference counting, and no access
/// pays for a dynamic exclusivity check. Contexts are recycled through a pool and never freed, so a pointer
/// always points at a live context. Frame serials keep growing across runs, so a decoder or container kept
/// past its value is refused, never pointed at another value's bytes.
struct DecoderStorage {
    let context: UnsafeMutablePointer<DecoderContext>

    /// A storage ready to decode `input`: its context from the pool, or new.
    static func checkOut(
        input: InputBytes,
        maxDepth: Int,
        userInfo: [CodingUserInfoKey: any Sendable]
    ) -> DecoderStorage {
        let context = DecoderContext.pool.take()
        context.pointee.input = input
        context.pointee.maxDepth = maxDepth
        if !userInfo.isEmpty { context.pointee.userInfo = userInfo }
        return DecoderStorage(context: context)
    }

    /// Ends the run (every frame is popped, so everything kept from it is stale) and returns the context to
    /// the pool.
    func checkIn() {
        popFrames(to: 0)
        context.pointee.reset()
        DecoderContext.pool.give(context)
    }

    @inline(__always) var input: InputBytes { context.pointee.input }
    @inline(__always) var maxDepth: Int { context.pointee.maxDepth }
    @inline(__always) private(set) var frames: UnsafeMutablePointer<DecodeFrame> {
        get { context.pointee.frames }
        nonmutating set { context.pointee.frames = newValue }
    }
    @inline(__always) private(set) var frameCount: Int {
        get { context.pointee.frameCount }
        nonmutating set { context.pointee.frameCount = newValue }
    }
    @inline(__always) private var frameCapacity: Int {
        get { context.pointee.frameCapacity }
        nonmutating set { context.pointee.frameCapacity = newValue }
    }
    @inline(__always) private var lastSerial: UInt64 {
        get { context.pointee.lastSerial }
        nonmutating set { context.pointee.lastSerial = newValue }
    }

    var userInfo: [CodingUserInfoKey: Any] { context.pointee.userInfo }
    @inline(__always) var keyMemo: KeyMemo { context.pointee.keyMemo }

    // MARK: Frames

    @inline(__always)
    private func pushFrame(slot: Slot, depth: Int, parent: Int32, component: PathComponent) -> (Int32, UInt64) {
        if frameCount == frameCapacity { growFrames() }
        lastSerial += 1
        let keysBefore = context.pointee.keys.count
        (frames + frameCount).initialize(
            to: DecodeFrame(
                slot: slot,
                cursor: slot.start,
                parent: parent,
                depth: Int32(truncatingIfNeeded: depth),
                serial: lastSerial,
                component: context.pointee.keys.store(component),
                keysBefore: keysBefore
            )
        )
        frameCount += 1
        return (Int32(truncatingIfNeeded: frameCount - 1), lastSerial)
    }

    @inline(never)
    private func growFrames() {
        precondition(frameCount < Int(Int32.max), "too many nested values in one decoding")
        let newCapacity = frameCapacity * 2
        let newFrames = UnsafeMutablePointer<DecodeFrame>.allocate(capacity: newCapacity)
        newFrames.moveInitialize(from: frames, count: frameCount)  // frames are plain values
        frames.deallocate()
        frames = newFrames
        frameCapacity = newCapacity
    }

    @inline(__always)
    private func popFrames(to count: Int) {
        guard count < frameCount else { return }
        context.pointee.keys.truncate(to: frames[count].keysBefore)
        frameCount = count
    }

    /// Whether `frame` is still the frame with `serial`.
    @inline(__always)
    func isLive(_ frame: Int32, _ serial: UInt64) -> Bool {
        Int(frame) < frameCount && frames[Int(frame)].serial == serial
    }

    /// Throws unless `frame` is still the frame with `serial`: a decoder or container kept past the
    /// `init(from:)` it was made for no longer has input to read.
    @inline(__always)
    func checkLive(_ frame: Int32, _ serial: UInt64) throws {
        guard isLive(frame, serial) else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: [],
                    debugDescription: "a decoder or container was used after the value it was made for was decoded"
                )
            )
        }
    }

    /// The coding path of the value of `frame`.
    func codingPath(of frame: Int32) -> [any CodingKey] {
        var reversed: [any CodingKey] = []
        var i = Int(frame)
        while i >= 0 && i < frameCount {
            context.pointee.keys.append(frames[i].component, to: &reversed)
            i = Int(frames[i].parent)
        }
        return reversed.reversed()
    }

    /// The coding path of the value of `frame`, then `component`.
    func codingPath(of frame: Int32, then component: PathComponent) -> [any CodingKey] {
        var path = codingPath(of: frame)
        switch component {
        case .none: break
        case .index(let index): path.append(BinaryCodingKey(index: index))
        case .key(let key): path.append(key)
        }
        return path
    }

    // MARK: Values

    /// Decodes a value from `slot`: leaf types directly, anything else through its `init(from:)`.
    /// `component` is the value's key or index in the value of `parent`.
    @inline(__always)
    func decodeValue<T: Decodable>(
        _ type: T.Type,
        slot: Slot,
        depth: Int,
        parent: Int32,
        component: @autoclosure () -> PathComponent
    ) throws -> T {
        if InputBytes.isLeaf(type) {
            do throws(DecodeFailure) {
                return try input.decodeLeaf(type, slot)
            } catch {
                throw error.at(codingPath(of: parent, then: component()))
            }
        }
        return try decodeNonLeaf(type, slot: slot, depth: depth, parent: parent, component: component())
    }

    /// Runs `T.init(from:)` on `slot` in a new frame.
    func decodeNonLeaf<T: Decodable>(
        _ type: T.Type,
        slot: Slot,
        depth: Int,
        parent: Int32,
        component: PathComponent
    ) throws -> T {
        guard depth <= maxDepth else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: codingPath(of: parent, then: component),
                    debugDescription: "nesting deeper than \(maxDepth) levels"
                )
            )
        }
        let mark = frameCount
        let (frame, serial) = pushFrame(slot: slot, depth: depth, parent: parent, component: component)
        defer { popFrames(to: mark) }
        if let arrayType = arrayType(type) {
            return try decodeArray(as: arrayType, type, frame: frame, serial: serial)
        }
        if let layout = canonicalLayout(type), !slot.isNil {
            do throws(DecodeFailure) {
                try CanonicalOrder.check(input.base + slot.start, count: slot.end - slot.start, layout: layout)
            } catch {
                throw error.at(codingPath(of: frame))
            }
            frames[Int(frame)].keysChecked = true  // ascending keys are unique keys
        }
        return try T(from: _BinaryDecoder(storage: self, frame: frame, reusable: true, serial: serial))
    }

    /// A decoder for a nested container's slot. Its frame lives until the value being decoded is done.
    func nestedDecoder(slot: Slot, depth: Int, parent: Int32, component: PathComponent) throws -> _BinaryDecoder {
        guard depth <= maxDepth else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: codingPath(of: parent, then: component),
                    debugDescription: "nesting deeper than \(maxDepth) levels"
                )
            )
        }
        let (frame, serial) = pushFrame(slot: slot, depth: depth, parent: parent, component: component)
        return _BinaryDecoder(storage: self, frame: frame, reusable: false, serial: serial)
    }
}

/// The memory behind a `DecoderStorage`.
struct DecoderContext {
    var input = InputBytes.empty
    var maxDepth = 0
    var userInfo: [CodingUserInfoKey: any Sendable] = [:]
    var frames: UnsafeMutablePointer<DecodeFrame>
    var frameCount = 0
    var frameCapacity: Int
    var lastSerial: UInt64 = 0
    var keys = KeyStack()
    let keyMemo = KeyMemo()
    let containers = ContainerCache()

    private static let initialFrameCapacity = 16
    /// A frame stack that grew beyond this is shrunk back when the context returns to the pool.
    private static let retainedFrameCapacity = 1024

    /// Idle contexts (see `ContextPool`).
    static let pool = ContextPool<DecoderContext>(make: make)

    static func make() -> UnsafeMutablePointer<DecoderContext> {
        let context = UnsafeMutablePointer<DecoderContext>.allocate(capacity: 1)
        context.initialize(
            to: DecoderContext(frames: .allocate(capacity: initialFrameCapacity), frameCapacity: initialFrameCapacity)
        )
        return context
    }

    /// Forgets the run (its frames are already popped), shrinking a frame stack that grew large.
    mutating func reset() {
        input = .empty
        if !userInfo.isEmpty { userInfo = [:] }
        if frameCapacity > Self.retainedFrameCapacity {
            frames.deallocate()
            frameCapacity = Self.initialFrameCapacity
            frames = .allocate(capacity: frameCapacity)
        }
    }
}
