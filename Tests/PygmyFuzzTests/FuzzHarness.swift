// The fuzz targets, shared by the libFuzzer binaries (fuzz/build.sh compiles this file into them) and by
// the regression tests of this module (which replay saved inputs through exactly the same code).
//
// Each target takes arbitrary bytes and must never crash: malformed input has to come back as a thrown
// error (or, for the connection pipeline, an error frame and a closed connection). Beyond "no crash",
// every target checks properties that must hold for any input, and calls `fuzzCheck` (a trap, which
// libFuzzer reports as a crash) when one does not:
//
// - frames, stream: decoding is independent of how the bytes are split into reads; every decoded frame
//   re-encodes (FrameWriter) to bytes that decode to the same frame; no frame exceeds the length limit.
// - hello: `Hello.parse` and the decoder's incremental magic check agree; a wrong magic is refused at the
//   first wrong byte; after the hello the decoder reads frames exactly like a decoder that expects none.
// - messages: a payload that decodes re-encodes to bytes that decode to the same value, and encoding
//   is deterministic.
// - pipeline: a server connection (FrameDeadlineHandler + FrameDecoder + ServerConnectionHandler on an
//   EmbeddedChannel) only ever writes well-formed output: one hello first, then frames a server may send,
//   answers only to requests that were made (at most one per request, never on stream 0), pongs only for
//   pings, at most one connection-level error.
//
// Uses `@testable import PygmyRPC` for `ServerConnectionHandler` and `RPCRouter.handlers`, so PygmyRPC
// must be built with testing enabled (debug builds are; fuzz/build.sh passes -enable-testing).

import Foundation
import Logging
import NIOCore
import NIOEmbedded
import PygmyBookstore
import PygmyWire
import Synchronization

@testable import PygmyRPC

/// A property that must hold for every input failed: crash, so that libFuzzer saves the input.
func fuzzCheck(
    _ condition: @autoclosure () -> Bool,
    _ message: @autoclosure () -> String,
    file: StaticString = #fileID,
    line: UInt = #line
) {
    if !condition() {
        FileHandleStderr.write("fuzz property violated: \(message())\n")
        fatalError("fuzz property violated: \(message())", file: file, line: line)
    }
}

enum FileHandleStderr {
    static func write(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = Foundation.write(2, bytes.baseAddress! + offset, bytes.count - offset)
                if n <= 0 { return }
                offset += n
            }
        }
    }
}

/// What a target made of one input, for the regression tests.
struct FuzzOutcome: Sendable, Equatable, CustomStringConvertible {
    /// The input was refused: the decoder threw, or the server closed the connection with an error.
    var rejected: Bool
    /// What happened, in words.
    var detail: String

    var description: String { "\(rejected ? "rejected" : "accepted"): \(detail)" }
}

/// The fuzz targets. The raw value is the name used by fuzz/run.sh, the corpus and artifact folders.
enum FuzzTarget: String, CaseIterable, Sendable, Codable {
    /// `FrameDecoder.decodeMessage` over a byte stream of frames (no hello expected).
    case frames
    /// `FrameDecoder.decodeMessage` over a whole connection's inbound stream: hello, then frames.
    case stream
    /// The handshake: `Hello.parse` and the decoder's hello state.
    case hello
    /// `BinaryDecoder` for every message type the nodes accept (first byte picks the type).
    case messages
    /// A server connection pipeline on an EmbeddedChannel (first byte picks the configuration).
    case pipeline

    func run(_ bytes: [UInt8]) -> FuzzOutcome {
        switch self {
        case .frames: return FrameTargets.frames(bytes)
        case .stream: return FrameTargets.stream(bytes)
        case .hello: return FrameTargets.hello(bytes)
        case .messages: return MessageTargets.messages(bytes)
        case .pipeline: return PipelineTarget.run(bytes)
        }
    }
}

// MARK: - Frames, stream, hello

/// The shared `SeededRandom`, seeded from the input's bytes, so that the same input always splits the same way.
struct FuzzRandom {
    var random: SeededRandom

    init(seed bytes: some Collection<UInt8>) {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for b in bytes {
            h ^= UInt64(b)
            h &*= 0x100_0000_01b3
        }
        random = SeededRandom(seed: h)
    }

    mutating func next() -> UInt64 { random.next() }

    mutating func next(upTo bound: Int) -> Int { Int(next() % UInt64(max(1, bound))) }
}

/// The result of decoding a byte stream to its end.
struct DecodeRun: Equatable {
    var messages: [WireMessage] = []
    var error: WireError?
    /// Bytes left in the buffer when more were needed (a partial message at the end).
    var leftover = 0

    /// Equal messages and equal error codes: the text of an error may legitimately depend on how much of
    /// the input had arrived (the bad-magic message quotes the bytes seen so far).
    func sameOutcome(as other: DecodeRun) -> Bool {
        messages == other.messages && error?.code == other.error?.code
            && (error != nil || leftover == other.leftover)
    }
}

enum FrameTargets {
    /// Decodes `bytes` delivered in the given chunks, as `ByteToMessageHandler` would: append each read to
    /// one cumulation buffer and decode until the decoder needs more.
    static func decode(
        _ bytes: [UInt8],
        chunks: [Int]? = nil,
        expectHello: Bool,
        maxFrameLength: Int = Frame.defaultMaxLength
    ) -> DecodeRun {
        var decoder = FrameDecoder(maxFrameLength: maxFrameLength, expectHello: expectHello)
        var progress = FrameProgress(expectHello: expectHello)
        var run = DecodeRun()
        var buffer = ByteBuffer()
        var offset = 0
        var sizes = chunks ?? [bytes.count]
        if sizes.reduce(0, +) < bytes.count { sizes.append(bytes.count - sizes.reduce(0, +)) }
        for size in sizes where offset < bytes.count {
            let end = min(bytes.count, offset + max(size, 0))
            buffer.writeBytes(bytes[offset..<end])
            progress.advance(over: ByteBuffer(bytes: bytes[offset..<end]).readableBytesView)
            offset = end
            do {
                while let message = try decoder.decodeMessage(&buffer) {
                    run.messages.append(message)
                }
                // FrameProgress (the frame deadline's view of the stream) agrees with the decoder.
                fuzzCheck(
                    progress.completedMessages == run.messages.count
                        && progress.isInsideMessage == (buffer.readableBytes > 0),
                    "FrameProgress \(progress) disagrees with the decoder: \(run.messages.count) messages, "
                        + "\(buffer.readableBytes) bytes waiting"
                )
            } catch let error as WireError {
                run.error = error
                return run
            } catch {
                fuzzCheck(false, "FrameDecoder threw a non-WireError: \(error)")
            }
        }
        run.leftover = buffer.readableBytes
        return run
    }

    /// Split points: byte by byte, or random reads of 1...max bytes.
    static func chunks(for bytes: [UInt8], maxChunk: Int) -> [Int] {
        var random = FuzzRandom(seed: bytes)
        var sizes: [Int] = []
        var total = 0
        while total < bytes.count {
            let n = 1 + random.next(upTo: maxChunk)
            sizes.append(n)
            total += n
        }
        return sizes
    }

    /// The checks shared by `frames` and `stream`.
    static func decodeAndCheck(_ bytes: [UInt8], expectHello: Bool) -> FuzzOutcome {
        let whole = decode(bytes, expectHello: expectHello)
        // Splitting the stream into reads must not change what comes out.
        for split in [chunks(for: bytes, maxChunk: 7), chunks(for: bytes, maxChunk: 300)] {
            let pieces = decode(bytes, chunks: split, expectHello: expectHello)
            fuzzCheck(
                pieces.sameOutcome(as: whole),
                "reads of \(split.prefix(8))… decode to \(pieces), one read to \(whole)"
            )
        }
        if bytes.count <= 64 {
            let byteByByte = decode(bytes, chunks: Array(repeating: 1, count: bytes.count), expectHello: expectHello)
            fuzzCheck(byteByByte.sameOutcome(as: whole), "byte-by-byte decoding differs: \(byteByByte) vs \(whole)")
        }
        // A small limit refuses exactly the frames above it.
        let limit = 16
        let limited = decode(bytes, expectHello: expectHello, maxFrameLength: limit)
        for message in limited.messages {
            if case .frame(let frame) = message {
                let length = encodedLength(frame)
                fuzzCheck(
                    length <= limit || isUnknown(frame),
                    "a \(length)-byte frame passed a \(limit)-byte limit"
                )
            }
        }
        // Every decoded frame re-encodes to bytes that decode to the same frame.
        for message in whole.messages {
            switch message {
            case .hello(let hello):
                var buffer = ByteBuffer()
                hello.write(to: &buffer)
                let again = try? Hello.parse(buffer.readableBytesView)
                fuzzCheck(again == hello, "hello \(hello) re-parses as \(String(describing: again))")
            case .frame(let frame):
                var buffer = ByteBuffer()
                FrameWriter.write(frame, to: &buffer)
                let again = decode(Array(buffer.readableBytesView), expectHello: false)
                fuzzCheck(
                    again.error == nil && again.messages == [.frame(frame)] && again.leftover == 0,
                    "frame \(frame) re-encodes to bytes that decode to \(again)"
                )
            }
        }
        if let error = whole.error {
            return FuzzOutcome(rejected: true, detail: "\(whole.messages.count) messages, then \(error)")
        }
        return FuzzOutcome(
            rejected: false,
            detail: "\(whole.messages.count) messages, \(whole.leftover) bytes waiting for more"
        )
    }

    static func isUnknown(_ frame: Frame) -> Bool {
        if case .unknown = frame { return true }
        return false
    }

    /// The length prefix FrameWriter writes for `frame` (unknown kinds lose their body, so the limit
    /// check above skips them).
    static func encodedLength(_ frame: Frame) -> Int {
        var buffer = ByteBuffer()
        FrameWriter.write(frame, to: &buffer)
        return buffer.readableBytes - Frame.lengthPrefixLength
    }

    static func frames(_ bytes: [UInt8]) -> FuzzOutcome {
        decodeAndCheck(bytes, expectHello: false)
    }

    static func stream(_ bytes: [UInt8]) -> FuzzOutcome {
        decodeAndCheck(bytes, expectHello: true)
    }

    static func hello(_ bytes: [UInt8]) -> FuzzOutcome {
        // 0. Hello.parse on the whole input, whatever its length, throws rather than traps.
        do {
            _ = try Hello.parse(ByteBuffer(bytes: bytes).readableBytesView)
            fuzzCheck(bytes.count == Hello.length, "Hello.parse accepted \(bytes.count) bytes")
        } catch let error as WireError {
            fuzzCheck(
                bytes.count == Hello.length || error.code == .malformedFrame,
                "Hello.parse of \(bytes.count) bytes failed with \(error)"
            )
        } catch {
            fuzzCheck(false, "Hello.parse threw a non-WireError: \(error)")
        }
        // 1. Hello.parse on the first eight bytes agrees with the decoder's hello state.
        var parsed: Result<Hello, WireError>?
        if bytes.count >= Hello.length {
            let buffer = ByteBuffer(bytes: bytes[0..<Hello.length])
            do {
                parsed = .success(try Hello.parse(buffer.readableBytesView))
            } catch let error as WireError {
                parsed = .failure(error)
            } catch {
                fuzzCheck(false, "Hello.parse threw a non-WireError: \(error)")
            }
        }
        // 2. Fed byte by byte, the decoder refuses at the first byte that breaks the magic, not later.
        var decoder = FrameDecoder(expectHello: true)
        var buffer = ByteBuffer()
        var hello: Hello?
        var refusedAt: Int?
        for (index, byte) in bytes.prefix(Hello.length).enumerated() {
            buffer.writeInteger(byte)
            do {
                if let message = try decoder.decodeMessage(&buffer) {
                    guard case .hello(let h) = message else {
                        fuzzCheck(false, "first message is not a hello: \(message)")
                        break
                    }
                    hello = h
                }
            } catch let error as WireError {
                fuzzCheck(error.code == .badMagic, "a hello fails with \(error)")
                refusedAt = index
                break
            } catch {
                fuzzCheck(false, "FrameDecoder threw a non-WireError: \(error)")
            }
        }
        let firstBad = bytes.prefix(4).enumerated().first { $0.element != Hello.magic[$0.offset] }?.offset
        fuzzCheck(
            refusedAt == firstBad,
            "magic refused at \(String(describing: refusedAt)), first bad byte \(String(describing: firstBad))"
        )
        if let parsed {
            switch parsed {
            case .success(let h):
                fuzzCheck(hello == h, "decoder hello \(String(describing: hello)) != Hello.parse \(h)")
                fuzzCheck(h.version == bytes[4], "version byte lost")
                fuzzCheck(h.flags == UInt16(bytes[6]) << 8 | UInt16(bytes[7]), "flags lost")
                fuzzCheck(
                    h.role.rawValue == bytes[5] || (h.role == .unspecified && PeerRole(rawValue: bytes[5]) == nil),
                    "role mangled"
                )
                var out = ByteBuffer()
                h.write(to: &out)
                fuzzCheck(Array(out.readableBytesView.prefix(5)) == Array(bytes.prefix(5)), "hello does not re-encode")
            case .failure(let error):
                fuzzCheck(
                    error.code == .badMagic && hello == nil,
                    "Hello.parse failed with \(error), decoder gave \(String(describing: hello))"
                )
            }
        }
        // 3. After the hello the decoder reads frames exactly like a decoder that expects no hello.
        if hello != nil {
            let rest = Array(bytes.dropFirst(Hello.length))
            let afterHello = FrameTargets.decode(bytes, expectHello: true)
            let framesOnly = FrameTargets.decode(rest, expectHello: false)
            fuzzCheck(
                Array(afterHello.messages.dropFirst()) == framesOnly.messages
                    && afterHello.error?.code == framesOnly.error?.code,
                "frames after the hello decode differently: \(afterHello) vs \(framesOnly)"
            )
        }
        // 4. Every hello round-trips.
        let sample = Hello(
            version: bytes.first ?? 1,
            role: PeerRole(rawValue: (bytes.last ?? 0) % 6) ?? .unspecified,
            flags: UInt16(bytes.count & 0xffff)
        )
        var out = ByteBuffer()
        sample.write(to: &out)
        fuzzCheck((try? Hello.parse(out.readableBytesView)) == sample, "\(sample) does not round-trip")
        if let refusedAt { return FuzzOutcome(rejected: true, detail: "bad magic at byte \(refusedAt)") }
        if let hello { return FuzzOutcome(rejected: false, detail: "hello \(hello)") }
        return FuzzOutcome(rejected: false, detail: "incomplete hello")
    }
}

// MARK: - Messages

/// One message type the fuzzer decodes: its name (a method or push topic, or a synthetic codec type) and
/// a check that decodes a payload and verifies the round trip.
struct FuzzMessage: Sendable {
    /// The method (or push topic) whose payload this is; synthetic types have a `codec.` name.
    var name: String
    /// `String(reflecting:)` of the Swift type, for the test that keeps this table in step with the nodes.
    var typeName: String
    /// Whether a node accepts it (a request type of a method it serves).
    var isRequest: Bool
    /// Decodes the payload; nil when it decodes, the error when it does not. Traps on a broken round trip.
    var check: @Sendable ([UInt8]) -> (any Error)?
    /// A valid payload (for seeds). Made on demand: a sample kept in this static table would hold boxes of
    /// indirect enums, whose tagged pointers LeakSanitizer does not recognise (a false leak report).
    var sample: @Sendable () -> [UInt8]

    /// A type whose decoded values compare with `==` (no floating point, so no NaN). `deterministic`:
    /// equal values encode to equal bytes (not so for dictionaries and sets, whose order may differ).
    static func value<T: Codable & Hashable & Sendable>(
        _ name: String,
        _ type: T.Type,
        request: Bool,
        deterministic: Bool = true,
        sample: @escaping @Sendable @autoclosure () -> T
    ) -> FuzzMessage {
        FuzzMessage(
            name: name,
            typeName: String(reflecting: T.self),
            isRequest: request,
            check: { bytes in
                let value: T
                do {
                    value = try BinaryDecoder().decode(T.self, from: bytes)
                } catch {
                    return error
                }
                let encoded = fuzzEncode(value, name)
                let again: T
                do {
                    again = try BinaryDecoder().decode(T.self, from: encoded)
                } catch {
                    fuzzCheck(false, "\(name): re-encoded \(T.self) does not decode: \(error)")
                    return nil
                }
                fuzzCheck(again == value, "\(name): \(value) round-trips to \(again)")
                if deterministic {
                    fuzzCheck(fuzzEncode(again, name) == encoded, "\(name): encoding \(T.self) is not deterministic")
                }
                return nil
            },
            sample: { fuzzEncode(sample(), name) }
        )
    }

    /// A type compared by its encoding (it holds floating point values, where NaN != NaN).
    static func bytes<T: Codable & Sendable>(
        _ name: String,
        _ type: T.Type,
        request: Bool,
        sample: @escaping @Sendable @autoclosure () -> T
    ) -> FuzzMessage {
        FuzzMessage(
            name: name,
            typeName: String(reflecting: T.self),
            isRequest: request,
            check: { bytes in
                let value: T
                do {
                    value = try BinaryDecoder().decode(T.self, from: bytes)
                } catch {
                    return error
                }
                let encoded = fuzzEncode(value, name)
                do {
                    let again = try BinaryDecoder().decode(T.self, from: encoded)
                    fuzzCheck(fuzzEncode(again, name) == encoded, "\(name): \(T.self) does not round-trip")
                } catch {
                    fuzzCheck(false, "\(name): re-encoded \(T.self) does not decode: \(error)")
                }
                return nil
            },
            sample: { fuzzEncode(sample(), name) }
        )
    }
}

func fuzzEncode<T: Encodable>(_ value: T, _ what: String) -> [UInt8] {
    do {
        return try BinaryEncoder().encode(value)
    } catch {
        fuzzCheck(false, "\(what): a decoded \(T.self) does not encode: \(error)")
        return []
    }
}

/// Synthetic types that reach the decoder paths the bookstore messages do not use: every leaf type,
/// nested optionals, unkeyed and nested containers, dictionaries, enums with associated values,
/// recursion up to the depth limit, and superclass coding.
struct CodecLeaves: Codable, Sendable {
    var b: Bool
    var i: Int
    var i8: Int8
    var i16: Int16
    var i32: Int32
    var i64: Int64
    var u: UInt
    var u8: UInt8
    var u16: UInt16
    var u32: UInt32
    var u64: UInt64
    var f: Float
    var d: Double
    var s: String
    var data: Data
    var date: Date
    var uuid: UUID
    var optional: Int?
    var nested: [[String?]]
    var doubles: [Double]
}

struct CodecShapes: Codable, Sendable, Hashable {
    enum Shape: Codable, Sendable, Hashable {
        case point
        case circle(radius: Int)
        case rectangle(Int, Int)
        case labelled(name: String, tags: [String])
    }
    indirect enum Tree: Codable, Sendable, Hashable {
        case leaf(Int)
        case node([Tree])
    }
    var shapes: [Shape]
    var byName: [String: Int]
    var byNumber: [Int: String]
    var set: Set<Int8>
    var tree: Tree
    var maybe: [Int?]?
    var child: CodecChild?
}

/// A class that codes its superclass through `superEncoder()`/`superDecoder()`, and reads its fields
/// out of order through a nested container.
class CodecBase: Codable, @unchecked Sendable, Hashable {
    var base: Int
    init(base: Int) { self.base = base }
    static func == (a: CodecBase, b: CodecBase) -> Bool { a.isEqual(to: b) }
    func isEqual(to other: CodecBase) -> Bool { base == other.base && type(of: self) == type(of: other) }
    func hash(into hasher: inout Hasher) { hasher.combine(base) }
}

final class CodecChild: CodecBase, @unchecked Sendable {
    var name: String
    var extra: [UInt16]

    enum Keys: String, CodingKey { case name, inner, extra }
    enum InnerKeys: String, CodingKey { case extra }

    init(base: Int, name: String, extra: [UInt16]) {
        self.name = name
        self.extra = extra
        super.init(base: base)
    }

    required init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Keys.self)
        let inner = try container.nestedContainer(keyedBy: InnerKeys.self, forKey: .inner)
        var list = try inner.nestedUnkeyedContainer(forKey: .extra)
        var extra: [UInt16] = []
        while !list.isAtEnd { extra.append(try list.decode(UInt16.self)) }
        self.extra = extra
        self.name = try container.decode(String.self, forKey: .name)  // after the nested one: out of order
        try super.init(from: container.superDecoder())
    }

    override func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(name, forKey: .name)
        var inner = container.nestedContainer(keyedBy: InnerKeys.self, forKey: .inner)
        var list = inner.nestedUnkeyedContainer(forKey: .extra)
        for e in extra { try list.encode(e) }
        try super.encode(to: container.superEncoder())
    }

    override func isEqual(to other: CodecBase) -> Bool {
        guard let other = other as? CodecChild else { return false }
        return base == other.base && name == other.name && extra == other.extra
    }
}

enum MessageTargets {
    /// Every request type the nodes accept, by method name (kept in step with
    /// Sources/PygmyNodes/Methods.swift by `FuzzRegressionTests.messageTableMatchesMethods`), then the
    /// response and push types clients decode, then synthetic codec types.
    static let table: [FuzzMessage] = {
        let book = Book(item: 2, title: "RPCs for Dummies", topic: "distributed systems", stock: 4, cost: 40)
        let order = OrderRecord(
            order: 7,
            requestId: "r-1",
            item: 1,
            quantity: 2,
            unitCost: 30,
            timeMicros: 1_700_000_000_000_000,
            coordinator: "order-1"
        )
        let rejection = Rejection(requestId: "r-2", code: .outOfStock, message: "none left")
        let search = SearchRequest(topic: "distributed systems")
        let lookup = LookupRequest(item: 1)
        let buy = BuyRequest(item: 1, quantity: 1, requestId: "c-1")
        let orders = OrdersRequest(after: 0)
        let restock = RestockRequest(item: 1, count: 5, opId: "op-1")
        let setCost = SetCostRequest(item: 1, cost: 35, opId: "op-2", version: 1_700_000_000_000_000)
        let ballot = Ballot(round: 2, proposer: "order-1")
        let membership = Membership(epoch: 2, catalogs: ["catalog-1", "catalog-2"])
        let committed = CommittedBuy(requestId: "r-1", item: 1, quantity: 2)
        let snapshot = CatalogSnapshot(
            books: [CatalogSeed.original[0]],
            prices: [PriceSetting(item: 1, cost: 31, version: 2, opId: "p")],
            holds: [Hold(requestId: "h", item: 1, quantity: 1, coordinator: "order-2", createdMicros: 5)],
            committed: [committed],
            restocks: [Restock(opId: "o", item: 1, count: 3)]
        )
        let status = NodeStatus(
            name: "catalog-1",
            role: "catalog",
            address: "127.0.0.1:7101",
            state: "ready",
            uptimeSeconds: 1.5,
            cacheHits: 3,
            latencies: [LatencySummary(operation: "lookup", count: 2, meanMicros: 12.5, p50Micros: 10, p99Micros: 20)],
            peersUp: ["order-1"],
            stock: [ItemStock(item: 1, onHand: 10, held: 1)],
            orderCount: 4
        )
        return [
            // Requests: what the nodes decode from untrusted peers (Methods.swift).
            .value("frontend.search", SearchRequest.self, request: true, sample: search),
            .value("frontend.lookup", LookupRequest.self, request: true, sample: lookup),
            .value("frontend.buy", BuyRequest.self, request: true, sample: buy),
            .value("frontend.orders", OrdersRequest.self, request: true, sample: orders),
            .value(
                "frontend.ordersPage",
                OrderPageRequest.self,
                request: true,
                sample: OrderPageRequest(limit: 100, cursor: "order-1:7", item: 1)
            ),
            .value("frontend.restock", RestockRequest.self, request: true, sample: restock),
            .value("frontend.setCost", SetCostRequest.self, request: true, sample: setCost),
            .value("frontend.status", Empty.self, request: true, sample: Empty()),
            .value("catalog.search", SearchRequest.self, request: true, sample: search),
            .value("catalog.lookup", LookupRequest.self, request: true, sample: lookup),
            .value("catalog.inspect", LookupRequest.self, request: true, sample: lookup),
            .value(
                "catalog.hold",
                HoldRequest.self,
                request: true,
                sample: HoldRequest(requestId: "r-1", item: 1, quantity: 2, coordinator: "order-1")
            ),
            .value("catalog.commit", CommittedBuy.self, request: true, sample: committed),
            .value(
                "catalog.abort",
                AbortRequest.self,
                request: true,
                sample: AbortRequest(requestId: "r-1", coordinator: "order-1")
            ),
            .value("catalog.restock", RestockRequest.self, request: true, sample: restock),
            .value("catalog.setCost", SetCostRequest.self, request: true, sample: setCost),
            .value("catalog.snapshot", SnapshotRequest.self, request: true, sample: SnapshotRequest(limit: 100)),
            .value("catalog.subscribe", Empty.self, request: true, sample: Empty()),
            .value("order.buy", BuyRequest.self, request: true, sample: buy),
            .value("order.list", OrdersRequest.self, request: true, sample: orders),
            .value("order.page", OrderPageRequest.self, request: true, sample: OrderPageRequest(limit: 100)),
            .value(
                "order.replicate",
                ReplicateRequest.self,
                request: true,
                sample: ReplicateRequest(orders: [order], rejections: [rejection])
            ),
            .value("order.resolve", ResolveRequest.self, request: true, sample: ResolveRequest(requestId: "r-1")),
            .value("order.join", JoinRequest.self, request: true, sample: JoinRequest(catalog: "catalog-2")),
            .value("node.health", Empty.self, request: true, sample: Empty()),
            .value(
                "membership.prepare",
                PrepareRequest.self,
                request: true,
                sample: PrepareRequest(ballot: ballot, known: membership)
            ),
            .value(
                "membership.accept",
                AcceptRequest.self,
                request: true,
                sample: AcceptRequest(
                    ballot: ballot,
                    value: Membership(epoch: 3, catalogs: ["catalog-2"]),
                    known: membership
                )
            ),
            .value("membership.learn", Membership.self, request: true, sample: membership),
            // Responses and pushes: what clients and peers decode from servers.
            .value(
                "response.search",
                SearchResponse.self,
                request: false,
                sample: SearchResponse(items: [BookSummary(item: 1, title: "t")])
            ),
            .value("response.book", Book.self, request: false, sample: book),
            .value(
                "response.buy",
                BuyResponse.self,
                request: false,
                sample: BuyResponse(order: 7, item: 1, quantity: 2, cost: 60, requestId: "r-1")
            ),
            .value("response.orders", OrdersResponse.self, request: false, sample: OrdersResponse(orders: [order])),
            .value("response.hold", HoldOutcome.self, request: false, sample: .held(unitCost: 30, checked: true)),
            .value("response.resolution", Resolution.self, request: false, sample: .committed(committed)),
            .value("response.snapshot", CatalogSnapshot.self, request: false, sample: snapshot),
            .value(
                "response.orderLog",
                OrderLogSnapshot.self,
                request: false,
                sample: OrderLogSnapshot(orders: [order], rejections: [rejection])
            ),
            .bytes("response.nodeStatus", NodeStatus.self, request: false, sample: status),
            .bytes(
                "response.clusterStatus",
                ClusterStatus.self,
                request: false,
                sample: ClusterStatus(nodes: [status], unreachable: ["order-2"])
            ),
            .value(
                "catalog.invalidated",
                Invalidation.self,
                request: false,
                sample: Invalidation(item: 1, topic: "graduate school")
            ),
            // Synthetic codec types.
            .bytes(
                "codec.leaves",
                CodecLeaves.self,
                request: false,
                sample: CodecLeaves(
                    b: true,
                    i: -3,
                    i8: -128,
                    i16: 300,
                    i32: -70000,
                    i64: .min,
                    u: 1,
                    u8: 255,
                    u16: 65535,
                    u32: 1 << 31,
                    u64: .max,
                    f: 1.5,
                    d: -0.0,
                    s: "héllo",
                    data: Data([0, 1, 2]),
                    date: Date(timeIntervalSinceReferenceDate: 12.5),
                    uuid: UUID(uuid: (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)),
                    optional: nil,
                    nested: [["a", nil], []],
                    doubles: [1, .infinity]
                )
            ),
            .value(
                "codec.shapes",
                CodecShapes.self,
                request: false,
                deterministic: false,
                sample: CodecShapes(
                    shapes: [.point, .circle(radius: 2), .rectangle(1, 2), .labelled(name: "n", tags: ["x"])],
                    byName: ["a": 1],
                    byNumber: [3: "c"],
                    set: [1, -1],
                    tree: .node([.leaf(1), .node([.leaf(2)])]),
                    maybe: [1, nil],
                    child: CodecChild(base: 9, name: "kid", extra: [1, 2])
                )
            ),
            .value("codec.string", String.self, request: false, sample: "hi"),
            .value("codec.optionalInts", [Int?].self, request: false, sample: [1, nil, -2]),
        ]
    }()

    /// First byte: which type (modulo the table); the rest: the payload.
    static func messages(_ bytes: [UInt8]) -> FuzzOutcome {
        guard let selector = bytes.first else { return FuzzOutcome(rejected: true, detail: "empty input") }
        let entry = table[Int(selector) % table.count]
        let payload = Array(bytes.dropFirst())
        if let error = entry.check(payload) {
            return FuzzOutcome(rejected: true, detail: "\(entry.name): \(error)")
        }
        return FuzzOutcome(rejected: false, detail: "\(entry.name): decoded")
    }

    /// The selector byte of the entry named `name`.
    static func selector(of name: String) -> UInt8 {
        UInt8(table.firstIndex { $0.name == name }!)
    }
}

// MARK: - Connection pipeline

/// Calls parked by the `fuzz.wait` method until the harness lets them go: they keep calls in flight
/// across reads, so cancellation, deadlines, back-pressure and closing with calls in flight all happen.
final class FuzzGates: Sendable {
    private let parked = Mutex<[CheckedContinuation<Void, Never>]>([])

    func park() async {
        await withCheckedContinuation { continuation in parked.withLock { $0.append(continuation) } }
    }

    func releaseAll() {
        let all = parked.withLock { list in
            defer { list.removeAll() }
            return list
        }
        for continuation in all { continuation.resume() }
    }

    var count: Int { parked.withLock { $0.count } }

    /// Methods whose handler started after the connection had closed (and was not cancelled).
    private let late = Mutex<[String]>([])
    func recordLateStart(_ method: String) { late.withLock { $0.append(method) } }
    var startedAfterClose: [String] { late.withLock { $0 } }

    /// Properties not to trap on (PYGMY_FUZZ_ALLOW=after-close,…), to keep fuzzing past a known bug.
    static let allowed = Set(
        (ProcessInfo.processInfo.environment["PYGMY_FUZZ_ALLOW"] ?? "").split(separator: ",").map(String.init)
    )
}

enum PipelineTarget {
    enum Echo: RPCMethod {
        typealias Request = String
        typealias Response = String
        static let name = "fuzz.echo"
    }
    enum Fail: RPCMethod {
        typealias Request = Int
        typealias Response = Int
        static let name = "fuzz.fail"
    }
    enum Wait: RPCMethod {
        typealias Request = Int
        typealias Response = Int
        static let name = "fuzz.wait"
    }
    enum Push: RPCMethod {
        typealias Request = String
        typealias Response = Empty
        static let name = "fuzz.push"
    }
    enum Note: RPCPushTopic {
        typealias Message = String
        static let name = "fuzz.note"
    }
    struct Boom: Error {}

    /// Every bookstore method (decoding its real request type), plus methods that echo, fail, wait and push.
    /// `fuzz.wait` parks on `gates`: one set per run, so runs on different threads never touch each other.
    static func router(_ gates: FuzzGates) -> RPCRouter {
        var router = RPCRouter()
        for entry in MessageTargets.table where entry.isRequest {
            let check = entry.check
            let name = entry.name
            router.handlers[name] = AnyRPCHandler { payload, _ in
                if let error = check(Array(payload.readableBytesView)) {
                    throw RPCError(.invalidArgument, "cannot decode the request for \(name): \(error)")
                }
                return [1]  // Empty
            }
        }
        router.register(Echo.self) { text, _ in text }
        router.register(Fail.self) { code, _ in
            if code == 0 { throw Boom() }
            throw RPCError(RPCError.Code(rawValue: UInt16(truncatingIfNeeded: code)), "failed on purpose")
        }
        router.register(Wait.self) { n, _ in
            await gates.park()
            try Task.checkCancellation()
            return n
        }
        router.register(Push.self) { text, context in
            try context.connection.enqueuePush(Note.self, text)
            return Empty()
        }
        // A call may only start on an open connection: closing it cancels every call it has, so a handler
        // that begins on a closed connection without being cancelled was started after the close.
        for (name, handler) in router.handlers {
            router.handlers[name] = AnyRPCHandler { payload, context in
                if !context.connection.isActive && !Task.isCancelled { gates.recordLateStart(name) }
                return try await handler.run(payload, context)
            }
        }
        return router
    }

    static let logger = Logger(label: "pygmy.fuzz", factory: { _ in SwiftLogNoOpLogHandler() })
    /// PYGMY_FUZZ_VERBOSE=1: print both directions of the conversation (for reading a saved input).
    static let verbose = ProcessInfo.processInfo.environment["PYGMY_FUZZ_VERBOSE"] == "1"
    /// The frame deadline in front of the decoder (RPCServer's default): the 11-s clock steps pass it.
    static let frameTimeout: TimeAmount = .seconds(5)

    /// Byte 0 picks the configuration: bits 0-1 the calls in flight per connection (1, 2, 4, 256), bits 2-3
    /// the frame limit (4 MiB, 64, 256, 4096 bytes), bits 4-5 how the rest arrives (one read, reads of
    /// 1-7, 1-64 or 1-512 bytes), bits 6-7 how far the clock moves after each read (0, 1 ms, 300 ms, 11 s).
    /// Bytes 1…: what a client sends, hello first.
    static func run(_ input: [UInt8]) -> FuzzOutcome {
        guard let config = input.first else { return FuzzOutcome(rejected: true, detail: "empty input") }
        let bytes = Array(input.dropFirst())
        var configuration = RPCServer.Configuration()
        configuration.role = .catalog
        configuration.maxConcurrentCallsPerConnection = [1, 2, 4, 256][Int(config & 3)]
        configuration.maxFrameLength = [Frame.defaultMaxLength, 64, 256, 4096][Int(config >> 2 & 3)]
        let chunkMax = [0, 7, 64, 512][Int(config >> 4 & 3)]
        let step: TimeAmount = [.zero, .milliseconds(1), .milliseconds(300), .seconds(11)][Int(config >> 6 & 3)]

        let gates = FuzzGates()
        let routes = Self.router(gates)
        let loop = EmbeddedEventLoop()
        // The handler measures deadlines with the real clock; start the loop's clock there too.
        loop.advanceTime(to: .now())
        let channel = EmbeddedChannel(loop: loop)
        do {
            try channel.pipeline.syncOperations.addHandler(ClosedChannelWrites())
            try channel.pipeline.syncOperations.addHandler(
                FrameDeadlineHandler(timeout: Self.frameTimeout, logger: logger)
            )
            try channel.pipeline.syncOperations.addHandler(
                ByteToMessageHandler(FrameDecoder(maxFrameLength: configuration.maxFrameLength))
            )
            try channel.pipeline.syncOperations.addHandler(
                ServerConnectionHandler(router: routes, configuration: configuration, connectionID: 1, logger: logger)
            )
        } catch {
            fuzzCheck(false, "cannot build the pipeline: \(error)")
        }
        channel.connect(to: try! SocketAddress(ipAddress: "127.0.0.1", port: 9), promise: nil)
        loop.run()

        var monitor = OutputMonitor(maxFrameLength: configuration.maxFrameLength)
        let split = chunkMax == 0 ? [bytes.count] : FrameTargets.chunks(for: bytes, maxChunk: chunkMax)
        var offset = 0
        for (index, size) in split.enumerated() where offset < bytes.count {
            guard channel.isActive else { break }
            let end = min(bytes.count, offset + size)
            monitor.sent(Array(bytes[offset..<end]))
            do {
                _ = try channel.writeInbound(channel.allocator.buffer(bytes: bytes[offset..<end]))
                channel.read()  // as a socket channel with auto-read asks for more after each read
            } catch {
                monitor.inboundError = "\(error)"
            }
            offset = end
            loop.run()
            if step != .zero { loop.advanceTime(by: step) }
            monitor.drain(channel)
            // Let the parked calls go every other read, so some finish while others are still parked.
            if index % 2 == 1 {
                gates.releaseAll()
                loop.run()
                monitor.drain(channel)
            }
        }
        // Finish every call, fire every deadline, then hang up.
        gates.releaseAll()
        loop.run()
        loop.advanceTime(by: .seconds(30))
        monitor.drain(channel)
        let closedByServer = !channel.isActive
        _ = try? channel.finish(acceptAlreadyClosed: true)
        // Calls may start one after another (those that waited for a free slot): release until none is left.
        var rounds = 0
        repeat {
            gates.releaseAll()
            loop.run()
            rounds += 1
        } while gates.count > 0 && rounds < 100_000
        monitor.drain(channel)
        fuzzCheck(gates.count == 0, "calls still parked after the connection closed")
        let lateCalls = gates.startedAfterClose
        fuzzCheck(
            lateCalls.isEmpty || FuzzGates.allowed.contains("after-close"),
            "the server started calls after it had closed the connection: \(lateCalls.prefix(5))"
        )
        try? loop.syncShutdownGracefully()
        monitor.finish()
        let detail =
            "\(monitor.requests) requests, \(monitor.answers) answers, \(monitor.pongs) pongs, "
            + "\(monitor.pushes) pushes, connection-level error: \(monitor.connectionError ?? "none"), "
            + (closedByServer ? "closed by the server" : "still open")
        return FuzzOutcome(rejected: monitor.connectionError != nil || monitor.refused, detail: detail)
    }

    /// An EmbeddedChannel keeps accepting writes after it was closed; a socket does not. This handler, next
    /// to the head of the pipeline, fails them as a socket would, so that the output is what a peer receives.
    final class ClosedChannelWrites: ChannelOutboundHandler, Sendable {
        typealias OutboundIn = ByteBuffer

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            guard context.channel.isActive else {
                promise?.fail(ChannelError.ioOnClosedChannel)
                return
            }
            context.write(data, promise: promise)
        }
    }

    /// Decodes both directions and checks what the server wrote against what the client sent.
    struct OutputMonitor {
        let maxFrameLength: Int
        var inbound: FrameDecoder
        var inboundBuffer = ByteBuffer()
        var inboundBroken = false
        var outbound = FrameDecoder(expectHello: true)
        var outboundBuffer = ByteBuffer()
        var inboundError: String?

        var clientHello: Hello?
        var serverHello: Hello?
        var requestsByStream: [UInt32: Int] = [:]
        var answersByStream: [UInt32: Int] = [:]
        var pings: Set<UInt64> = []
        var requests = 0
        var answers = 0
        var pongs = 0
        var pushes = 0
        var connectionError: String?
        var refused = false

        init(maxFrameLength: Int) {
            self.maxFrameLength = maxFrameLength
            self.inbound = FrameDecoder(maxFrameLength: maxFrameLength, expectHello: true)
        }

        /// Tracks what the client sent (as the server's decoder sees it).
        mutating func sent(_ bytes: [UInt8]) {
            guard !inboundBroken else { return }
            inboundBuffer.writeBytes(bytes)
            do {
                while let message = try inbound.decodeMessage(&inboundBuffer) {
                    if PipelineTarget.verbose { FileHandleStderr.write("client → \(message)\n") }
                    switch message {
                    case .hello(let hello): clientHello = hello
                    case .frame(.request(let stream, _, _, _)):
                        requests += 1
                        requestsByStream[stream, default: 0] += 1
                    case .frame(.ping(let value)): pings.insert(value)
                    default: break
                    }
                }
            } catch {
                inboundBroken = true
            }
        }

        mutating func drain(_ channel: EmbeddedChannel) {
            while let buffer = try? channel.readOutbound(as: ByteBuffer.self) {
                outboundBuffer.writeImmutableBuffer(buffer)
            }
            while true {
                let message: WireMessage?
                do {
                    message = try outbound.decodeMessage(&outboundBuffer)
                } catch {
                    fuzzCheck(false, "the server wrote bytes a client cannot decode: \(error)")
                    return
                }
                guard let message else { return }
                check(message)
            }
        }

        mutating func check(_ message: WireMessage) {
            if PipelineTarget.verbose { FileHandleStderr.write("server → \(message)\n") }
            switch message {
            case .hello(let hello):
                fuzzCheck(serverHello == nil, "the server sent two hellos")
                fuzzCheck(clientHello != nil, "the server sent its hello before the client's")
                fuzzCheck(hello.role == .catalog, "the server announced \(hello.role)")
                serverHello = hello
                if hello.version == Hello.refusedVersion {
                    refused = true
                    fuzzCheck(clientHello?.version != Hello.currentVersion, "version 1 was refused")
                } else {
                    fuzzCheck(
                        clientHello?.version == Hello.currentVersion,
                        "version \(clientHello!.version) was accepted"
                    )
                }
            case .frame(let frame):
                fuzzCheck(serverHello != nil, "the server sent \(frame) before its hello")
                fuzzCheck(!refused, "the server sent \(frame) after refusing the client's version")
                switch frame {
                case .response(let stream, _):
                    answer(stream, frame)
                case .error(let stream, let code, let text):
                    // Stream 0 is for connection-level errors only: a request on stream 0 is itself a
                    // protocol violation, answered with one. The frame deadline's error is code 4.
                    if stream == 0 {
                        fuzzCheck(connectionError == nil, "two connection-level errors")
                        fuzzCheck(
                            code == RPCError.Code.protocolViolation.rawValue
                                || code == RPCError.Code.resourceExhausted.rawValue
                                || (code == RPCError.Code.deadlineExceeded.rawValue && text.hasPrefix("frame timeout")),
                            "connection-level error with code \(code): \(text)"
                        )
                        connectionError = "\(code): \(text)"
                    } else {
                        answer(stream, frame)
                    }
                case .pong(let value):
                    pongs += 1
                    fuzzCheck(pings.contains(value), "pong \(value) answers no ping")
                case .push(let topic, _):
                    pushes += 1
                    fuzzCheck(topic == Note.name, "push on topic \(topic)")
                case .goAway:
                    break
                case .request, .cancel, .ping, .unknown, .clusterId:
                    fuzzCheck(false, "the server sent a frame a server never sends: \(frame)")
                }
                fuzzCheck(
                    FrameTargets.encodedLength(frame) <= max(maxFrameLength, Frame.defaultMaxLength) + 64,
                    "the server wrote a frame larger than any limit"
                )
            }
        }

        mutating func answer(_ stream: UInt32, _ frame: Frame) {
            fuzzCheck(stream != 0, "the server answered a request on stream 0: \(frame)")
            answers += 1
            answersByStream[stream, default: 0] += 1
            fuzzCheck(
                answersByStream[stream]! <= requestsByStream[stream, default: 0],
                "\(answersByStream[stream]!) answers on stream \(stream) to \(requestsByStream[stream, default: 0]) requests: \(frame)"
            )
        }

        mutating func finish() {
            if clientHello == nil { fuzzCheck(serverHello == nil, "the server answered a hello it never got") }
        }
    }
}

// MARK: - Seeds

/// Seed inputs: the golden vectors of Protocol/vectors and valid traffic made with the real encoders.
enum FuzzSeeds {
    /// Reads every `.hex` vector under `directory` (by relative path, without extension).
    static func vectors(in directory: String) -> [(name: String, bytes: [UInt8])] {
        let fm = FileManager.default
        guard let walker = fm.enumerator(atPath: directory) else { return [] }
        var out: [(String, [UInt8])] = []
        for case let relative as String in walker where relative.hasSuffix(".hex") {
            guard let text = try? String(contentsOfFile: directory + "/" + relative, encoding: .utf8) else { continue }
            out.append((String(relative.dropLast(4)), parseHex(text)))
        }
        return out.sorted { $0.0 < $1.0 }
    }

    /// The bytes of a vector file: hex pairs after the `#` comment lines.
    static func parseHex(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            for pair in line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }) {
                if let b = UInt8(pair, radix: 16) { bytes.append(b) }
            }
        }
        return bytes
    }

    static func frame(_ frame: Frame) -> [UInt8] {
        var buffer = ByteBuffer()
        FrameWriter.write(frame, to: &buffer)
        return Array(buffer.readableBytesView)
    }

    static let clientHello: [UInt8] = {
        var buffer = ByteBuffer()
        Hello(role: .client).write(to: &buffer)
        return Array(buffer.readableBytesView)
    }()

    static func request(_ stream: UInt32, _ method: String, _ payload: [UInt8], timeout: UInt64 = 0) -> [UInt8] {
        frame(.request(streamID: stream, method: method, timeoutMicros: timeout, payload: ByteBuffer(bytes: payload)))
    }

    /// Valid traffic: a request to every method with a valid payload, and the other frame kinds.
    static func trafficFrames() -> [(name: String, bytes: [UInt8])] {
        var out: [(String, [UInt8])] = []
        for (index, entry) in MessageTargets.table.enumerated() where entry.isRequest {
            out.append(
                ("request-\(entry.name)", request(UInt32(index + 1), entry.name, entry.sample(), timeout: 250_000))
            )
        }
        out.append(("response", frame(.response(streamID: 3, payload: ByteBuffer(bytes: [3, 0x68, 0x69])))))
        out.append(("error", frame(.error(streamID: 3, code: 1003, message: "no books on topic"))))
        out.append(("error-connection", frame(.error(streamID: 0, code: 17, message: "protocolViolation"))))
        out.append(("cancel", frame(.cancel(streamID: 3))))
        out.append(("ping", frame(.ping(0x0102_0304_0506_0708))))
        out.append(("pong", frame(.pong(42))))
        out.append(
            (
                "push",
                frame(
                    .push(
                        topic: "catalog.invalidated",
                        payload: ByteBuffer(
                            bytes: MessageTargets.table.first { $0.name == "catalog.invalidated" }!.sample()
                        )
                    )
                )
            )
        )
        out.append(("go-away", frame(.goAway(reason: "server shutting down"))))
        out.append(("unknown-kind", [0, 0, 0, 9, 0x2a, 0x80, 0, 0, 0, 5, 1, 2, 3]))
        return out
    }

    /// Conversations with the pipeline's methods: calls that echo, fail, wait, push, get cancelled, time
    /// out, reuse a stream id, or call a method nobody serves.
    static func conversations() -> [(name: String, bytes: [UInt8])] {
        func string(_ s: String) -> [UInt8] { fuzzEncode(s, "seed") }
        func int(_ n: Int) -> [UInt8] { fuzzEncode(n, "seed") }
        let h = clientHello
        return [
            ("echo", h + request(1, "fuzz.echo", string("hi"))),
            (
                "echo-ping",
                h + request(1, "fuzz.echo", string("hi")) + frame(.ping(7)) + request(2, "fuzz.echo", string(""))
            ),
            ("fail", h + request(1, "fuzz.fail", int(0)) + request(2, "fuzz.fail", int(1003))),
            (
                "wait-cancel",
                h + request(1, "fuzz.wait", int(1)) + request(2, "fuzz.wait", int(2)) + frame(.cancel(streamID: 1))
            ),
            (
                "wait-deadline",
                h + request(1, "fuzz.wait", int(1), timeout: 1000) + request(2, "fuzz.echo", string("x"))
            ),
            (
                "wait-many",
                h + (1...6).flatMap { request(UInt32($0), "fuzz.wait", int($0)) } + frame(.cancel(streamID: 5))
            ),
            ("duplicate-stream", h + request(1, "fuzz.wait", int(1)) + request(1, "fuzz.echo", string("again"))),
            ("unknown-method", h + request(1, "no.such.method", [1])),
            ("push", h + request(1, "fuzz.push", string("note"))),
            ("bad-payload", h + request(1, "frontend.buy", [5, 1, 2, 3, 4])),
            ("go-away", h + request(1, "fuzz.wait", int(1)) + frame(.goAway(reason: "bye"))),
            ("response-from-client", h + frame(.response(streamID: 1, payload: ByteBuffer()))),
            ("frame-before-hello", request(1, "fuzz.echo", string("hi"))),
            ("version-2", [0x50, 0x59, 0x47, 0x4d, 2, 1, 0, 0] + request(1, "fuzz.echo", string("hi"))),
            ("oversized", h + [0xff, 0xff, 0xff, 0xff, 1, 0]),
            ("tls-client-hello", [0x16, 3, 1, 0, 0xa5, 1, 0, 0]),
            ("truncated", h + Array(request(1, "fuzz.echo", string("hello")).dropLast(2))),
        ]
    }

    /// The seeds of every target. `vectors` is the Protocol/vectors directory.
    static func all(vectors directory: String) -> [FuzzTarget: [(name: String, bytes: [UInt8])]] {
        let vectors = vectors(in: directory)
        let frameVectors = vectors.filter { $0.name.hasPrefix("frames/") }
        let handshakeVectors = vectors.filter { $0.name.hasPrefix("handshake/") }
        let codecVectors = vectors.filter { $0.name.hasPrefix("codec/") }
        let traffic = trafficFrames()
        func clean(_ name: String) -> String { name.replacingOccurrences(of: "/", with: "-") }

        var seeds: [FuzzTarget: [(String, [UInt8])]] = [:]
        seeds[.frames] =
            frameVectors.map { ("vector-\(clean($0.name))", $0.bytes) }
            + traffic.map { ("traffic-\($0.name)", $0.bytes) }
            + [("traffic-all", traffic.flatMap(\.bytes))]
        seeds[.stream] =
            handshakeVectors.map { ("vector-\(clean($0.name))", $0.bytes) }
            + frameVectors.map { ("hello-vector-\(clean($0.name))", clientHello + $0.bytes) }
            + traffic.map { ("hello-traffic-\($0.name)", clientHello + $0.bytes) }
            + [("hello-traffic-all", clientHello + traffic.flatMap(\.bytes))]
        var hellos = handshakeVectors.map { ("vector-\(clean($0.name))", $0.bytes) }
        for role in PeerRole.allCases {
            var buffer = ByteBuffer()
            Hello(role: role).write(to: &buffer)
            hellos.append(("role-\(role)", Array(buffer.readableBytesView)))
        }
        hellos.append(("hello-then-ping", clientHello + frame(.ping(1))))
        hellos.append(("tls", [0x16, 3, 1, 2, 0, 1, 0, 1]))
        hellos.append(("http", Array("GET / HTTP/1.1\r\n".utf8)))
        seeds[.hello] = hellos
        var messages: [(String, [UInt8])] = []
        for (index, entry) in MessageTargets.table.enumerated() {
            messages.append(("\(entry.name)", [UInt8(index)] + entry.sample()))
        }
        let bookIndex = MessageTargets.selector(of: "response.book")
        let leavesIndex = MessageTargets.selector(of: "codec.leaves")
        let shapesIndex = MessageTargets.selector(of: "codec.shapes")
        for vector in codecVectors {
            messages.append(("vector-\(clean(vector.name))", [bookIndex] + vector.bytes))
            messages.append(("vector-leaves-\(clean(vector.name))", [leavesIndex] + vector.bytes))
            messages.append(("vector-shapes-\(clean(vector.name))", [shapesIndex] + vector.bytes))
        }
        seeds[.messages] = messages
        var pipeline: [(String, [UInt8])] = []
        for (name, bytes) in conversations() {
            pipeline.append(("\(name)", [0x00] + bytes))
            pipeline.append(("\(name)-1call-small-reads", [0x11 | 0x40] + bytes))
            pipeline.append(("\(name)-2calls-late", [0x21 | 0x80] + bytes))
        }
        for (name, bytes) in traffic {
            pipeline.append(("traffic-\(name)", [0x00] + clientHello + bytes))
        }
        pipeline.append(("traffic-all", [0x33] + clientHello + traffic.flatMap(\.bytes)))
        seeds[.pipeline] = pipeline
        return seeds
    }
}
