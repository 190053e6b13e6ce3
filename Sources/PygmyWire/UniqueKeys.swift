// A struct's keys are unique (`Protocol/PROTOCOL.md`, §4.6): a decoder that looked fields up by key would
// otherwise see the first of two fields with the same key and ignore the second, and two decoders could
// disagree on a message's value. Checked once per keyed value, when its first keyed container is made.

extension InputBytes {
    /// Structs with at most this many fields are checked pairwise, with the keys on the stack.
    static let pairwiseKeyLimit = 16

    /// Throws when two fields of `slot` have the same key, or a field is malformed.
    func checkUniqueKeys(_ slot: Slot) throws(DecodeFailure) {
        let failure = withUnsafeTemporaryAllocation(of: Range<Int>.self, capacity: Self.pairwiseKeyLimit) {
            keys -> DecodeFailure? in
            var i = slot.start
            var n = 0
            while i < slot.end {
                let field: Field
                do throws(DecodeFailure) {
                    field = try readField(at: i, end: slot.end)
                } catch {
                    return error
                }
                if n == Self.pairwiseKeyLimit { return checkManyKeys(slot) }
                for j in 0..<n where sameText(keys[j], field.key) { return duplicate(field.key) }
                keys[n] = field.key
                n += 1
                i = field.next
            }
            return nil
        }
        if let failure { throw failure }
    }

    /// The check for a struct with many fields: sort the keys, then compare neighbours.
    @inline(never)
    private func checkManyKeys(_ slot: Slot) -> DecodeFailure? {
        var keys: [Range<Int>] = []
        var i = slot.start
        while i < slot.end {
            do throws(DecodeFailure) {
                let field = try readField(at: i, end: slot.end)
                keys.append(field.key)
                i = field.next
            } catch {
                return error
            }
        }
        keys.sort { order($0, $1) < 0 }
        for index in keys.indices.dropFirst() where order(keys[index - 1], keys[index]) == 0 {
            return duplicate(keys[index])
        }
        return nil
    }

    private func sameText(_ a: Range<Int>, _ b: Range<Int>) -> Bool {
        a.count == b.count && Self.bytesEqual(base + a.lowerBound, base + b.lowerBound, count: a.count)
    }

    /// Orders two keys by length, then bytes.
    private func order(_ a: Range<Int>, _ b: Range<Int>) -> Int {
        if a.count != b.count { return a.count - b.count }
        for offset in 0..<a.count where base[a.lowerBound + offset] != base[b.lowerBound + offset] {
            return base[a.lowerBound + offset] < base[b.lowerBound + offset] ? -1 : 1
        }
        return 0
    }

    private func duplicate(_ key: Range<Int>) -> DecodeFailure {
        let text = makeString(base + key.lowerBound, count: key.count) ?? "(not UTF-8)"
        return .corrupted("duplicate key \"\(text)\" in a struct")
    }
}

extension DecoderStorage {
    /// Checks the keys of `frame`'s slot once (see `InputBytes.checkUniqueKeys`).
    @inline(__always)
    func checkUniqueKeys(frame: Int32) throws {
        let f = frames + Int(frame)
        guard !f.pointee.keysChecked else { return }
        do throws(DecodeFailure) {
            try input.checkUniqueKeys(f.pointee.slot)
        } catch {
            throw error.at(codingPath(of: frame))
        }
        f.pointee.keysChecked = true
    }
}
