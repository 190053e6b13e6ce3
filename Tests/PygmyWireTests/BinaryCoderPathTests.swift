import Foundation
import NIOCore
import PygmyWire
import Testing

// Coding paths are built only when an error or a caller asks for one, and keyed containers are reused
// from value to value: these tests pin down that errors and `codingPath` still name the right place, that
// containers used out of turn or after their value still throw, and that concurrent runs do not mix.

private struct ItemA: Codable, Equatable {
    var v: Int?

    enum CodingKeys: String, CodingKey { case v }

    init(v: Int?) { self.v = v }

    /// Writes a nil `v` as a nil slot rather than leaving the field out.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(v, forKey: .v)
    }
}

private struct ItemB: Codable, Equatable {
    var v: UInt8
}

private struct WireA: Codable, Equatable {
    var name: String
    var items: [ItemA]
}

private struct WireB: Codable, Equatable {
    var name: String
    var items: [ItemB]
}

private func path(_ error: any Error) -> [String] {
    let context: DecodingError.Context? =
        switch error as? DecodingError {
        case .dataCorrupted(let context): context
        case .keyNotFound(_, let context): context
        case .valueNotFound(_, let context): context
        case .typeMismatch(_, let context): context
        default: nil
        }
    return context?.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue } ?? ["<not a DecodingError>"]
}

/// Records the coding paths its coders report, from inside `encode(to:)` and `init(from:)`.
private final class PathLog: @unchecked Sendable {
    var paths: [[String]] = []
}

private struct Probe: Codable {
    static let userInfoKey = CodingUserInfoKey(rawValue: "log")!
    var id: Int

    enum CodingKeys: String, CodingKey { case id }

    init(id: Int) { self.id = id }

    init(from decoder: any Decoder) throws {
        (decoder.userInfo[Self.userInfoKey] as? PathLog)?.paths.append(decoder.codingPath.map(\.stringValue))
        id = try decoder.container(keyedBy: CodingKeys.self).decode(Int.self, forKey: .id)
    }

    func encode(to encoder: any Encoder) throws {
        (encoder.userInfo[Self.userInfoKey] as? PathLog)?.paths.append(encoder.codingPath.map(\.stringValue))
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
    }
}

private struct Probes: Codable {
    var group: [String: [Probe]]
}

/// Writes to a keyed container after a sibling keyed container of the same key type was opened.
private struct InterleavedKeyed: Encodable {
    enum Keys: String, CodingKey { case a, b, x }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        var a = c.nestedContainer(keyedBy: Keys.self, forKey: .a)
        try a.encode(1, forKey: .x)
        var b = c.nestedContainer(keyedBy: Keys.self, forKey: .b)
        try b.encode(2, forKey: .x)
        try a.encode(3, forKey: .x)
    }
}

/// Keeps its container past `init(from:)` / `encode(to:)`.
private final class Stash: @unchecked Sendable {
    var decoding: KeyedDecodingContainer<Pair.CodingKeys>?
    var encoding: KeyedEncodingContainer<Pair.CodingKeys>?
}

private struct Pair: Codable, Equatable {
    static let key = CodingUserInfoKey(rawValue: "stash")!
    var a: Int
    var b: String

    enum CodingKeys: String, CodingKey { case a, b }

    init(a: Int, b: String) {
        self.a = a
        self.b = b
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        (decoder.userInfo[Self.key] as? Stash)?.decoding = container
        a = try container.decode(Int.self, forKey: .a)
        b = try container.decode(String.self, forKey: .b)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(a, forKey: .a)
        try container.encode(b, forKey: .b)
        (encoder.userInfo[Self.key] as? Stash)?.encoding = container
    }
}

/// A singly linked list: every level asks for a container of the same key type while its parent's is in use.
private final class Node: Codable, Equatable {
    var value: Int
    var next: Node?

    init(_ value: Int, next: Node?) {
        self.value = value
        self.next = next
    }

    static func == (a: Node, b: Node) -> Bool { a.value == b.value && a.next == b.next }
}

@Suite struct BinaryCoderPathTests {
    private let wire = WireA(name: "w", items: [ItemA(v: 0), ItemA(v: 1), ItemA(v: 300), ItemA(v: nil)])

    @Test func aValueThatDoesNotFitNamesItsFieldAndIndex() throws {
        let bytes = try BinaryEncoder().encode(wire)
        #expect {
            try BinaryDecoder().decode(WireB.self, from: bytes)
        } throws: { error in
            path(error) == ["items", "2", "v"] && "\(error)".contains("does not fit in UInt8")
        }
    }

    @Test func aNilFieldIsValueNotFoundAtItsPath() throws {
        var wire = wire
        wire.items[2].v = 2
        let bytes = try BinaryEncoder().encode(wire)
        #expect {
            try BinaryDecoder().decode(WireB.self, from: bytes)
        } throws: { error in
            guard case DecodingError.valueNotFound = error else { return false }
            return path(error) == ["items", "3", "v"]
        }
    }

    @Test func aMissingFieldIsKeyNotFoundInItsContainer() throws {
        struct Empty: Codable {}
        struct Holder: Codable { var items: [Empty] }
        let bytes = try BinaryEncoder().encode(Holder(items: [Empty(), Empty()]))
        #expect {
            try BinaryDecoder().decode(WireB.self, from: bytes)
        } throws: { error in
            guard case DecodingError.keyNotFound(let key, _) = error else { return false }
            return key.stringValue == "name" && path(error) == []
        }
        struct Named: Codable {
            var name: String
            var items: [Empty]
        }
        let named = try BinaryEncoder().encode(Named(name: "n", items: [Empty(), Empty()]))
        #expect {
            try BinaryDecoder().decode(WireB.self, from: named)
        } throws: { error in
            guard case DecodingError.keyNotFound(let key, _) = error else { return false }
            return key.stringValue == "v" && path(error) == ["items", "0"]
        }
    }

    @Test func corruptionInsideAnElementNamesTheElement() throws {
        let bytes = try BinaryEncoder().encode([Book.sample, Book.sample, Book.sample])
        // The third book's title: flip its first byte to an invalid UTF-8 lead byte.
        let title = Array(Book.sample.title.utf8)
        let starts = (0..<bytes.count).filter { bytes[$0...].starts(with: title) }
        #expect(starts.count == 3)
        var corrupted = bytes
        corrupted[starts[2]] = 0xFF
        #expect {
            try BinaryDecoder().decode([Book].self, from: corrupted)
        } throws: { error in
            path(error) == ["2", "title"] && "\(error)".contains("not valid UTF-8")
        }
    }

    @Test func codersReportTheirPathsToConformances() throws {
        let log = PathLog()
        var encoder = BinaryEncoder()
        encoder.userInfo[Probe.userInfoKey] = log
        let bytes = try encoder.encode(Probes(group: ["g": [Probe(id: 1), Probe(id: 2)]]))
        #expect(log.paths == [["group", "g", "0"], ["group", "g", "1"]])

        let decoded = PathLog()
        var decoder = BinaryDecoder()
        decoder.userInfo[Probe.userInfoKey] = decoded
        let back = try decoder.decode(Probes.self, from: bytes)
        #expect(back.group["g"]?.map(\.id) == [1, 2])
        #expect(decoded.paths == [["group", "g", "0"], ["group", "g", "1"]])
    }

    @Test func writingToAKeyedContainerAfterASiblingOpenedIsRefused() throws {
        #expect {
            try BinaryEncoder().encode(InterleavedKeyed())
        } throws: { error in
            guard case EncodingError.invalidValue(_, let context) = error else { return false }
            return context.codingPath.map(\.stringValue) == ["a"]
        }
    }

    @Test func containersKeptPastTheirValueThrowInsteadOfReadingOrWriting() throws {
        let stash = Stash()
        let pair = Pair(a: 1, b: "one")
        var decoder = BinaryDecoder()
        decoder.userInfo[Pair.key] = stash
        let bytes = try BinaryEncoder().encode(pair)
        #expect(try decoder.decode(Pair.self, from: bytes) == pair)
        let kept = try #require(stash.decoding)
        #expect(throws: DecodingError.self) { try kept.decode(String.self, forKey: .b) }
        #expect(kept.allKeys.isEmpty)
        #expect(!kept.contains(.b))
        #expect(kept.codingPath.isEmpty)

        var encoder = BinaryEncoder()
        encoder.userInfo[Pair.key] = stash
        #expect(try encoder.encode(pair) == bytes)
        var keptForWriting = try #require(stash.encoding)
        #expect(throws: EncodingError.self) { try keptForWriting.encode(2, forKey: .a) }
        // The next runs (which reuse the same coders' state) are unaffected.
        #expect(try BinaryEncoder().encode(pair) == bytes)
        #expect(try BinaryDecoder().decode(Pair.self, from: bytes) == pair)
    }

    @Test func recursiveValuesGetTheirOwnContainers() throws {
        var list: Node? = nil
        for value in (0..<40).reversed() { list = Node(value, next: list) }
        let head = try #require(list)
        let back = try BinaryDecoder().decode(Node.self, from: BinaryEncoder().encode(head))
        #expect(back == head)
    }

    @Test func everyInputTypeDecodesTheSame() throws {
        let books = [Book.sample, Book(item: 2, title: "ünïcødé 📚", topic: "", stock: -1, cost: 0)]
        let bytes = try BinaryEncoder().encode(books)
        #expect(try BinaryDecoder().decode([Book].self, from: bytes) == books)
        #expect(try BinaryDecoder().decode([Book].self, from: Data(bytes)) == books)
        var buffer = ByteBuffer(bytes: [9, 9])
        buffer.moveReaderIndex(forwardBy: 2)
        buffer.writeBytes(bytes)
        #expect(try BinaryDecoder().decode([Book].self, from: buffer) == books)
        var appended: [UInt8] = [7]
        try BinaryEncoder().encode(books, appendingTo: &appended)
        #expect(appended == [7] + bytes)
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode([Book].self, from: [UInt8]()) }
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode(Int.self, from: Data()) }
    }

    @Test func aFailedEncodingLeavesTheOutputAlone() throws {
        var bytes: [UInt8] = [1, 2, 3]
        #expect(throws: EncodingError.self) { try BinaryEncoder().encode(Interleaved(), appendingTo: &bytes) }
        #expect(bytes == [1, 2, 3])
    }

    @Test func arraysOfNilSlotsAreNotReservedInFullUpFront() throws {
        // 2^20 nil slots: one byte each. Reserving them all would take 9 MiB for `[Int?]` and far more for
        // larger elements, so such arrays grow as they are read; the results are the same.
        func arrayOfNils(_ count: Int) -> [UInt8] {
            var bytes: [UInt8] = []
            VarInt.append(UInt64(count) + 1, to: &bytes)
            bytes += [UInt8](repeating: 0, count: count)
            return bytes
        }
        for count in [3, 1 << 20] {
            let bytes = arrayOfNils(count)
            let nils = try BinaryDecoder().decode([Int?].self, from: bytes)
            #expect(nils.count == count && nils.allSatisfy { $0 == nil })
            #expect(try BinaryEncoder().encode(nils) == bytes)
            #expect(throws: DecodingError.self) { try BinaryDecoder().decode([Book].self, from: bytes) }
        }
    }

    @Test func concurrentRunsDoNotMix() async throws {
        let books = (0..<50).map {
            Book(item: $0, title: "title \($0)", topic: "topic \($0 % 3)", stock: $0, cost: -$0)
        }
        let expected = try BinaryEncoder().encode(books)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for round in 0..<300 {
                        let slice = Array(books[(task + round) % 10..<books.count])
                        let bytes = try BinaryEncoder().encode(slice)
                        let back = try BinaryDecoder().decode([Book].self, from: bytes)
                        #expect(back == slice)
                        if slice.count == books.count { #expect(bytes == expected) }
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}
