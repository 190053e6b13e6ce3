// Arrays take a shortcut through the coders: the bytes are exactly those of `Array`'s own `Codable`
// conformance (an unkeyed container of the elements), but the elements are coded in a loop here instead
// of through an unkeyed container existential, and decoding reserves the array's storage once. In
// `Array.init(from:)`, which the standard library runs unspecialized, every append looks up `Array`'s
// metadata and the array grows by doubling.

/// An array whose elements the encoder codes directly.
protocol BinaryEncodableArray {
    func encodeElements(to state: EncoderState, record: Int, depth: Int, run: UInt32) throws
}

/// An array whose elements the decoder codes directly.
protocol BinaryDecodableArray {
    static func decodeElements(from storage: DecoderStorage, frame: Int32, serial: UInt64) throws -> Self
}

extension Array: BinaryEncodableArray where Element: Encodable {
    func encodeElements(to state: EncoderState, record: Int, depth: Int, run: UInt32) throws {
        for index in indices {
            try state.prepareWrite(record: record, depth: depth, run: run)
            try state.encodeChild(self[index], parent: record, depth: depth, component: .index(index))
        }
    }
}

extension Array: BinaryDecodableArray where Element: Decodable {
    static func decodeElements(from storage: DecoderStorage, frame: Int32, serial: UInt64) throws -> [Element] {
        let slot = storage.frames[Int(frame)].slot
        let depth = Int(storage.frames[Int(frame)].depth)
        guard !slot.isNil else {
            throw DecodeFailure(kind: .missing([Int].self)).at(storage.codingPath(of: frame))
        }
        // Count the elements present (each takes at least one byte, so the count is bounded by the input);
        // a malformed slot ends the count, and its error is thrown when the loop below reaches it.
        let input = storage.input
        var count = 0
        var i = slot.start
        while i < slot.end, (try? input.readSlot(at: &i, end: slot.end)) != nil { count += 1 }
        // Reserving every element up front costs `stride` bytes per element, and a nil element takes one
        // input byte: hostile input could make the decoder allocate far more than it was sent before the
        // first element fails. Beyond a budget, the array grows as elements are read instead (the standard
        // library's `init(from:)`, through an unkeyed container: the same bytes, decoded more slowly).
        guard count <= maxReserved(forPayload: slot.end - slot.start) else {
            return try [Element](from: _BinaryDecoder(storage: storage, frame: frame, reusable: false, serial: serial))
        }
        return try [Element](unsafeUninitializedCapacity: count) { elements, initialized in
            var position = slot.start
            var index = 0
            while position < slot.end {
                let element: Slot
                do throws(DecodeFailure) {
                    element = try input.readSlot(at: &position, end: slot.end)
                } catch {
                    throw error.at(storage.codingPath(of: frame, then: .index(index)))
                }
                guard index < count else {
                    throw DecodingError.dataCorrupted(
                        .init(
                            codingPath: storage.codingPath(of: frame),
                            debugDescription: "array changed while decoding"
                        )
                    )
                }
                (elements.baseAddress! + index).initialize(
                    to: try storage.decodeValue(
                        Element.self,
                        slot: element,
                        depth: depth + 1,
                        parent: frame,
                        component: .index(index)
                    )
                )
                index += 1
                initialized = index
            }
        }
    }
}

extension Array where Element: Decodable {
    /// The most elements reserved at once for an array whose payload is `payload` bytes: at most 64 KiB, or
    /// 8 bytes of memory per input byte, whichever is more.
    @inline(__always)
    static func maxReserved(forPayload payload: Int) -> Int {
        Swift.max(64 * 1024, 8 * payload) / Swift.max(1, MemoryLayout<Element>.stride)
    }
}

extension EncoderState {
    /// Encodes an array's elements straight into its slot (see `BinaryEncodableArray`); false for any
    /// other type. Only pointer-sized types are checked, so most values skip the conformance lookup.
    @inline(__always)
    func encodeArray<T: Encodable>(_ value: T, record: Int, depth: Int) throws -> Bool {
        guard MemoryLayout<T>.size == MemoryLayout<[Int]>.size,
            let arrayType = T.self as? any BinaryEncodableArray.Type
        else { return false }
        try encodeArray(value, as: arrayType, record: record, depth: depth)
        return true
    }

    private func encodeArray<T, A: BinaryEncodableArray>(_ value: T, as type: A.Type, record: Int, depth: Int) throws {
        try unsafeBitCast(value, to: A.self).encodeElements(to: self, record: record, depth: depth, run: run)
    }
}

extension DecoderStorage {
    /// `T` as an array the decoder decodes directly (see `BinaryDecodableArray`), or nil. Only pointer-sized
    /// types are checked, so most values skip the conformance lookup.
    @inline(__always)
    func arrayType<T>(_ type: T.Type) -> (any BinaryDecodableArray.Type)? {
        guard MemoryLayout<T>.size == MemoryLayout<[Int]>.size else { return nil }
        return T.self as? any BinaryDecodableArray.Type
    }

    /// Decodes the array `T` (which is `arrayType`) from the slot of `frame`.
    func decodeArray<A: BinaryDecodableArray, T>(
        as arrayType: A.Type,
        _ type: T.Type,
        frame: Int32,
        serial: UInt64
    ) throws -> T {
        unsafeBitCast(try A.decodeElements(from: self, frame: frame, serial: serial), to: T.self)
    }
}
