import Foundation
import NIOCore
import PygmyBookstore
import PygmyNodes
import PygmyRPC
import PygmyWire
import Synchronization
import Testing

extension LiveProcessTests {
    /// A hostile network against a live cluster of `pygmy node` processes: while honest clients keep buying and
    /// looking up through the frontend, every node receives random bytes, mutated and truncated frames, a
    /// 4 GiB length prefix, a flood of connections that never finish the handshake, connections that send
    /// one byte at a time, calls to unknown methods and well-formed calls with out-of-range values.
    ///
    /// Passes when no node dies, the honest clients see no error, each node's resident memory stays within
    /// 64 MiB of what it was before the attack, the server answers protocol violations as PROTOCOL.md says
    /// (error frame on stream 0, then close), connections that never complete the handshake are closed
    /// within the handshake timeout (10 s) and half-sent hellos and frames by the frame timeout (5 s): the
    /// nodes run with RPCServer's defaults here; `HostileNetworkLimitsTests` sets them from the topology.
    @Suite("Hostile network", .serialized)
    struct HostileNetworkTests {
        /// Methods an attacker may call on each node that only read, or that validate their input before they
        /// touch any state: mutating them at random is fair game (see `integerLimits` for the ones that are not).
        static let readOnlyCalls: [String: [[UInt8]]] = [
            "frontend": [
                Wire.request(1, Frontend.Lookup.self, LookupRequest(item: 1)),
                Wire.request(1, Frontend.Search.self, SearchRequest(topic: "graduate school")),
                Wire.request(1, Frontend.Orders.self, OrdersRequest(after: 1_000_000)),
                Wire.request(1, NodeMethods.Health.self, Empty()),
            ],
            "catalog": [
                Wire.request(1, Catalog.Lookup.self, LookupRequest(item: 2)),
                Wire.request(1, Catalog.Search.self, SearchRequest(topic: "distributed systems")),
                Wire.request(1, NodeMethods.Health.self, Empty()),
            ],
            "order": [
                Wire.request(1, Order.List.self, OrdersRequest(after: 1_000_000)),
                Wire.request(1, Order.Resolve.self, ResolveRequest(requestId: "nobody")),
                Wire.request(1, NodeMethods.Health.self, Empty()),
            ],
        ]

        @Test("a live cluster survives a hostile network while serving honest clients", .timeLimit(.minutes(2)))
        func hostileNetwork() async throws {
            let cluster = HostileCluster()
            var failed = true
            try await withCleanup {
                try await attack(cluster, failed: &failed)
            } cleanup: {
                await cluster.stop(keep: failed)
                if failed { print("hostile network: logs kept in \(cluster.directory)/logs") }
            }
        }

        /// The body of `hostileNetwork`; `failed` stays true unless every node survived and the honest clients
        /// saw no error (the logs are kept then).
        private func attack(_ cluster: HostileCluster, failed: inout Bool) async throws {
            let started = ContinuousClock.now
            try await cluster.start()
            print("hostile network: cluster healthy after \(ContinuousClock.now - started)")

            // Honest clients: warm up, then measure memory before the attack.
            let honest = HonestClients(cluster: cluster, count: 4)
            honest.start()
            try await Task.sleep(for: .seconds(1))
            var before: [String: Int] = [:]
            for node in cluster.nodes { before[node.name] = cluster.residentKiB(node.name) }

            let report = AttackReport()
            await withTaskGroup(of: Void.self) { group in
                for node in cluster.nodes {
                    let port = node.port
                    let kind = node.role.rawValue
                    let calls = Self.readOnlyCalls[kind]!
                    group.addTask { await Attacks.garbage(port: port, node: node.name, report: report) }
                    group.addTask {
                        await Attacks.mutatedFrames(port: port, node: node.name, calls: calls, report: report)
                    }
                    group.addTask {
                        await Attacks.truncatedFrames(port: port, node: node.name, calls: calls, report: report)
                    }
                    group.addTask { await Attacks.hugeLength(port: port, node: node.name, report: report) }
                    group.addTask { await Attacks.unknownMethods(port: port, node: node.name, report: report) }
                    group.addTask {
                        await Attacks.handshakeFlood(
                            port: port,
                            node: node.name,
                            count: node.role == .frontend ? 200 : 50,
                            report: report
                        )
                    }
                    group.addTask { await Attacks.slowHello(port: port, node: node.name, report: report) }
                    group.addTask { await Attacks.slowFrame(port: port, node: node.name, seconds: 12, report: report) }
                }
                group.addTask { await Attacks.outOfRange(cluster: cluster, report: report) }
            }

            // Connection churn: many short, well-behaved connections to one node. Its memory should not grow
            // with the number of connections it has served (see KnownBugTests.serverConnectionHandlerIsReleased).
            let churnNode = "order-1"
            let churnBefore = cluster.residentKiB(churnNode) ?? 0
            let churned = await Attacks.churn(port: cluster.port(churnNode), count: 3000, report: report)
            let churnAfter = cluster.residentKiB(churnNode) ?? 0
            report.note(
                "\(churnNode): \(churned) connections opened and closed: VmRSS \(churnBefore) → \(churnAfter) KiB "
                    + "(\((churnAfter - churnBefore) * 1024 / max(churned, 1)) bytes per connection)"
            )

            // Let the honest clients run a little past the attack, then stop them.
            try await Task.sleep(for: .seconds(1))
            let honestResult = await honest.stop()
            try await Task.sleep(for: .milliseconds(500))
            var after: [String: Int] = [:]
            for node in cluster.nodes { after[node.name] = cluster.residentKiB(node.name) }

            print("hostile network: \(report.summary())")
            print(
                "hostile network: honest clients: \(honestResult.buys) buys, \(honestResult.lookups) lookups, \(honestResult.errors.count) errors, "
                    + "slowest round \(honestResult.slowest)"
            )
            for node in cluster.nodes {
                print(
                    "hostile network: \(node.name) VmRSS \(before[node.name] ?? -1) KiB → \(after[node.name] ?? -1) KiB"
                )
            }
            print("hostile network: total \(ContinuousClock.now - started)")

            // 1. No node died.
            for name in cluster.deadNodes {
                Issue.record("\(name) died during the attack; its log ends with:\n\(cluster.logTail(name))")
            }
            // 2. The honest clients saw no error and got work done.
            #expect(honestResult.errors.isEmpty, "honest clients saw errors: \(honestResult.errors.prefix(10))")
            #expect(honestResult.buys >= 10 && honestResult.lookups >= 10)
            // 3. Memory stayed bounded.
            for node in cluster.nodes {
                if let b = before[node.name], let a = after[node.name] {
                    #expect(a < b + 64 * 1024, "\(node.name) grew from \(b) KiB to \(a) KiB")
                }
            }
            // 4. The protocol's answers to violations, and the timeouts.
            for problem in report.problems() { Issue.record(Comment(rawValue: problem)) }
            failed = !cluster.deadNodes.isEmpty || !honestResult.errors.isEmpty
        }

        /// Admin writes and peer messages with values at the limits of Int: the frontend and the catalog accept
        /// them and then overflow (see KnownBugTests in PygmyFuzzTests). Fails until those are fixed.
        @Test("integer limits in admin writes and peer messages do not kill nodes", .timeLimit(.minutes(2)))
        func integerLimits() async throws {
            let cluster = HostileCluster()
            try await withCleanup {
                try await cluster.start()
                let frontend = cluster.client(timeout: .seconds(5))
                var outcomes: [String] = []
                func attempt<M: RPCMethod>(
                    _ label: String,
                    _ client: RPCClient,
                    _ method: M.Type,
                    _ request: M.Request
                ) async {
                    do {
                        _ = try await client.call(method, request)
                        outcomes.append("\(label): accepted")
                    } catch {
                        outcomes.append("\(label): \(error)")
                    }
                    try? await Task.sleep(for: .milliseconds(500))
                    outcomes.append("  dead after it: \(cluster.deadNodes)")
                }
                // 1. A price of Int.max, then a buy of two copies: the order replica computes the total.
                await attempt(
                    "setCost Int.max",
                    frontend,
                    Frontend.SetCost.self,
                    SetCostRequest(item: 9, cost: .max, opId: "limits-1", version: .max)
                )
                await attempt(
                    "buy 2 at that price",
                    frontend,
                    Frontend.Buy.self,
                    BuyRequest(item: 9, quantity: 2, requestId: "limits-2")
                )
                // 2. A commit of Int.min copies straight to a catalog replica (plaintext: anyone may call it).
                let catalog = cluster.client("catalog-2", timeout: .seconds(5))
                await attempt(
                    "catalog.commit quantity Int.min",
                    catalog,
                    Catalog.Commit.self,
                    CommittedBuy(requestId: "limits-3", item: 9, quantity: .min)
                )
                // 3. A restock of Int.max copies: every catalog replica adds it to its stock.
                await attempt(
                    "restock Int.max",
                    frontend,
                    Frontend.Restock.self,
                    RestockRequest(item: 9, count: .max, opId: "limits-4")
                )
                await frontend.close()
                await catalog.close()
                print("integer limits:\n" + outcomes.joined(separator: "\n"))
                for name in cluster.deadNodes {
                    Issue.record("\(name) died; its log ends with:\n\(cluster.logTail(name, lines: 6))")
                }
            } cleanup: {
                await cluster.stop(keep: false)
            }
        }
    }
}

extension LiveProcessTests.HostileNetworkTests {
    /// How much memory half-sent frames pin: a frame may be up to 4 MiB and the server buffers it until it
    /// is complete (as it arrives: nothing is reserved from the declared length). The memory is measured
    /// and printed, not judged: it is the frame limit times the connection limit, both settable from the
    /// topology. The frame timeout (5 s by default) must close every such connection and so release it.
    @Test("memory pinned by half-sent 4 MiB frames (measured), released by the frame timeout", .timeLimit(.minutes(2)))
    func halfSentFrames() async throws {
        let cluster = HostileCluster()
        try await withCleanup {
            try await cluster.start()
            let node = "order-2"
            let before = cluster.residentKiB(node) ?? 0
            let count = 16
            var held: [RawConnection] = []
            let length = UInt32(Frame.defaultMaxLength)
            let header = withUnsafeBytes(of: length.bigEndian) { Array($0) } + [1, 0, 0, 0, 0, 1]
            let body = [UInt8](repeating: 0x61, count: Frame.defaultMaxLength - 1024)
            for _ in 0..<count {
                let c = try await RawConnection.connect(port: cluster.port(node))
                await c.send(Wire.clientHello + header + body)
                held.append(c)
            }
            try await Task.sleep(for: .seconds(2))
            let during = cluster.residentKiB(node) ?? 0
            var closedByServer = 0
            for c in held where await c.waitClosed(within: .seconds(10)) { closedByServer += 1 }
            for c in held { await c.close() }
            try await Task.sleep(for: .seconds(1))
            let after = cluster.residentKiB(node) ?? 0
            print(
                "half-sent frames: \(count) connections × \(body.count / 1024) KiB pending: \(node) VmRSS "
                    + "\(before) → \(during) KiB while open (\((during - before) / count) KiB per connection), "
                    + "\(after) KiB after they closed; \(closedByServer) closed by the frame timeout"
            )
            #expect(closedByServer == count, "half-sent frames left open past the frame timeout")
            #expect(cluster.deadNodes.isEmpty)
        } cleanup: {
            await cluster.stop(keep: false)
        }
    }
}

/// Clients that keep buying and looking up through the frontend and record every error.
final class HonestClients: Sendable {
    struct Result {
        var buys = 0
        var lookups = 0
        var errors: [String] = []
        /// The slowest lookup-and-buy round.
        var slowest: Duration = .zero
    }

    let cluster: HostileCluster
    let count: Int
    private let running = Atomic<Bool>(false)
    private let tasks = Mutex<[Task<Result, Never>]>([])

    init(cluster: HostileCluster, count: Int) {
        self.cluster = cluster
        self.count = count
    }

    func start() {
        running.store(true, ordering: .relaxed)
        for index in 0..<count {
            let client = cluster.client(timeout: .seconds(10))
            let task = Task { [self] in
                var result = Result()
                var n = 0
                while self.running.load(ordering: .relaxed) {
                    n += 1
                    let item = 1 + (index + n) % 4
                    let start = ContinuousClock.now
                    defer { result.slowest = max(result.slowest, ContinuousClock.now - start) }
                    do {
                        let book = try await client.call(Frontend.Lookup.self, LookupRequest(item: item))
                        if book.item != item { result.errors.append("lookup \(item) returned item \(book.item)") }
                        result.lookups += 1
                        let id = "honest-\(index)-\(n)-\(UInt32.random(in: 0...UInt32.max))"
                        let bought = try await client.call(
                            Frontend.Buy.self,
                            BuyRequest(item: item, quantity: 1, requestId: id)
                        )
                        if bought.item != item || bought.quantity != 1 || bought.requestId != id {
                            result.errors.append("buy \(id) returned \(bought)")
                        }
                        result.buys += 1
                    } catch {
                        result.errors.append("\(error)")
                    }
                    try? await Task.sleep(for: .milliseconds(20))
                }
                await client.close()
                return result
            }
            tasks.withLock { $0.append(task) }
        }
    }

    func stop() async -> Result {
        running.store(false, ordering: .relaxed)
        var total = Result()
        for task in tasks.withLock({ $0 }) {
            let r = await task.value
            total.buys += r.buys
            total.lookups += r.lookups
            total.errors += r.errors
            total.slowest = max(total.slowest, r.slowest)
        }
        return total
    }
}

/// What the attacks observed, and what the server did that it should not have.
final class AttackReport: Sendable {
    private let counts = Mutex<[String: Int]>([:])
    private let issues = Mutex<[String]>([])
    private let notes = Mutex<[String]>([])

    func count(_ what: String, _ n: Int = 1) { counts.withLock { $0[what, default: 0] += n } }
    func problem(_ text: String) { issues.withLock { $0.append(text) } }
    func note(_ text: String) { notes.withLock { $0.append(text) } }

    func problems() -> [String] { issues.withLock { $0 } }

    func summary() -> String {
        let c = counts.withLock { $0 }.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(
            separator: ", "
        )
        let n = notes.withLock { $0 }
        return c + (n.isEmpty ? "" : "\nnotes:\n  " + n.joined(separator: "\n  "))
    }
}

enum Attacks {
    /// Connects, or records why not (a refused connection is an attack that did not land, not a failure).
    static func open(_ port: Int, _ report: AttackReport) async -> RawConnection? {
        do {
            return try await RawConnection.connect(port: port)
        } catch {
            report.count("connect failures")
            return nil
        }
    }

    /// The server's output must always decode as a valid stream.
    static func checkOutput(_ connection: RawConnection, _ node: String, _ what: String, _ report: AttackReport) {
        if let error = connection.decoded().error {
            report.problem("\(node): after \(what) the server sent bytes a client cannot decode: \(error)")
        }
    }

    /// Random bytes, without and with a valid hello first.
    static func garbage(port: Int, node: String, report: AttackReport) async {
        var random = SystemRandomNumberGenerator()
        for i in 0..<10 {
            guard let c = await open(port, report) else { continue }
            let withHello = i % 2 == 1
            var bytes = Wire.random(16 * 1024, using: &random)
            if withHello { bytes = Wire.clientHello + bytes } else if bytes.starts(with: [0x50]) { bytes[0] = 0x51 }
            await c.send(bytes)
            report.count("random-byte connections")
            if !(await c.waitClosed(within: .seconds(5))) {
                report.problem("\(node): random bytes (hello first: \(withHello)) did not get the connection closed")
            } else if withHello {
                let codes = c.errorFrames().filter { $0.stream == 0 }.map(\.code)
                if !(codes.contains(8) || codes.contains(17)) {
                    report.problem("\(node): random frames after the hello closed without an error frame on stream 0")
                }
            }
            checkOutput(c, node, "random bytes", report)
            await c.close()
        }
    }

    /// Valid read-only calls with one to four bytes changed (anywhere: length, kind, stream id, method,
    /// timeout, payload), each on its own connection. The server answers, refuses or waits for more bytes.
    static func mutatedFrames(port: Int, node: String, calls: [[UInt8]], report: AttackReport) async {
        var random = SystemRandomNumberGenerator()
        var answered = 0
        var closed = 0
        var waiting = 0
        for i in 0..<40 {
            guard let c = await open(port, report) else { continue }
            var frame = calls[i % calls.count]
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let at = Int.random(in: 0..<frame.count, using: &random)
                frame[at] = UInt8.random(in: 0...255, using: &random)
            }
            await c.send(Wire.clientHello + frame)
            let done = await c.waitFor(within: .milliseconds(700)) { bytes in
                bytes.count > Hello.length  // the hello and something after it
            }
            if c.isClosed {
                closed += 1
            } else if done {
                answered += 1
            } else {
                waiting += 1
            }
            checkOutput(c, node, "a mutated frame", report)
            await c.close()
        }
        report.count("mutated frames", 40)
        report.note(
            "\(node): mutated frames: \(answered) answered, \(closed) closed, \(waiting) waiting for more bytes"
        )
    }

    /// The start of a valid call, then silence, then a hang-up; and a hello followed by half a frame that
    /// stays half-open until the end of the attack.
    static func truncatedFrames(port: Int, node: String, calls: [[UInt8]], report: AttackReport) async {
        var random = SystemRandomNumberGenerator()
        var halfOpen: [RawConnection] = []
        for i in 0..<10 {
            guard let c = await open(port, report) else { continue }
            let frame = calls[i % calls.count]
            let cut = Int.random(in: 1..<frame.count, using: &random)
            await c.send(Wire.clientHello + Array(frame.prefix(cut)))
            report.count("truncated frames")
            if i < 5 {
                try? await Task.sleep(for: .milliseconds(300))
                if c.isClosed {
                    report.problem("\(node): the server closed a connection waiting for the rest of a frame")
                }
                await c.close()
            } else {
                halfOpen.append(c)
            }
        }
        try? await Task.sleep(for: .seconds(3))
        for c in halfOpen { await c.close() }
    }

    /// Length prefixes of 4 GiB − 1 and of the limit plus one: refused at once with resourceExhausted.
    static func hugeLength(port: Int, node: String, report: AttackReport) async {
        for prefix: [UInt8] in [[0xff, 0xff, 0xff, 0xff], [0x00, 0x40, 0x00, 0x01]] {
            guard let c = await open(port, report) else { continue }
            await c.send(Wire.clientHello + prefix + [1, 0, 0, 0, 0, 1])
            report.count("oversized length prefixes")
            let closed = await c.waitClosed(within: .seconds(3))
            let codes = c.errorFrames().filter { $0.stream == 0 }.map(\.code)
            if !closed || codes != [RPCError.Code.resourceExhausted.rawValue] {
                report.problem("\(node): length prefix \(prefix): closed \(closed), stream-0 error codes \(codes)")
            }
            checkOutput(c, node, "an oversized length", report)
            await c.close()
        }
    }

    /// Twenty calls to methods nobody serves: each gets error 12 (unimplemented).
    static func unknownMethods(port: Int, node: String, report: AttackReport) async {
        guard let c = await open(port, report) else { return }
        var bytes = Wire.clientHello
        let names = (1...20).map { i in
            i % 4 == 0 ? String(repeating: "ü", count: 127) : i % 4 == 1 ? "catalog.\(i)" : "x.\(UUID().uuidString)"
        }
        for (i, name) in names.enumerated() { bytes += Wire.request(UInt32(i + 1), name, [1]) }
        await c.send(bytes)
        _ = await c.waitFor(within: .seconds(3)) { _ in c.errorFrames().count >= names.count }
        let codes = c.errorFrames().map(\.code)
        report.count("unknown-method calls", names.count)
        if codes.count != names.count || codes.contains(where: { $0 != RPCError.Code.unimplemented.rawValue }) {
            report.problem("\(node): unknown methods got \(codes)")
        }
        if c.isClosed { report.problem("\(node): closed the connection over an unknown method") }
        checkOutput(c, node, "unknown methods", report)
        await c.close()
    }

    /// Connections that never finish the handshake: half send nothing, half send the first three bytes of
    /// the magic. The server must close the silent ones within its handshake timeout (10 s, not before
    /// 8 s) and the half-sent hellos within its frame timeout (5 s, not before 4 s).
    static func handshakeFlood(port: Int, node: String, count: Int, report: AttackReport) async {
        var silent: [RawConnection] = []
        var partial: [RawConnection] = []
        for i in 0..<count {
            guard let c = await open(port, report) else { continue }
            if i % 2 == 1 {
                await c.send([0x50, 0x59, 0x47])
                partial.append(c)
            } else {
                silent.append(c)
            }
        }
        report.count("never-finished handshakes", silent.count + partial.count)
        let deadline = ContinuousClock.now + .seconds(16)
        while ContinuousClock.now < deadline && (silent + partial).contains(where: { !$0.isClosed }) {
            try? await Task.sleep(for: .milliseconds(100))
        }
        for (label, connections, earliest) in [
            ("silent connections", silent, Duration.seconds(8)), ("half-sent hellos", partial, .seconds(4)),
        ] {
            let open = connections.filter { !$0.isClosed }.count
            if open > 0 {
                report.problem("\(node): \(open) of \(connections.count) \(label) still open after 16 s")
            }
            let lifetimes = connections.compactMap { c in c.closedAt.map { $0 - c.openedAt } }
            if let shortest = lifetimes.min(), let longest = lifetimes.max() {
                report.note("\(node): \(label) closed after \(shortest)…\(longest)")
                if shortest < earliest {
                    report.problem("\(node): one of the \(label) was closed after \(shortest), before \(earliest)")
                }
            }
        }
        for c in silent + partial { await c.close() }
    }

    /// A hello sent one byte every 1.5 s: cut off by the 5 s frame timeout, long before the hello is done.
    static func slowHello(port: Int, node: String, report: AttackReport) async {
        guard let c = await open(port, report) else { return }
        for byte in Wire.clientHello {
            if c.isClosed { break }
            await c.send([byte])
            try? await Task.sleep(for: .milliseconds(1500))
        }
        report.count("slow hellos")
        if !(await c.waitClosed(within: .seconds(3))) {
            report.problem("\(node): a hello sent over 12 s was not cut off by the handshake timeout")
        } else if let closed = c.closedAt {
            report.note("\(node): slow hello closed after \(closed - c.openedAt)")
        }
        await c.close()
    }

    /// A complete hello, then a frame one byte per second. Every byte resets the idle timeout, but the
    /// frame timeout (5 s) closes the connection, after an error frame on stream 0 (code 4).
    static func slowFrame(port: Int, node: String, seconds: Int, report: AttackReport) async {
        guard let c = await open(port, report) else { return }
        await c.send(Wire.clientHello)
        let frame = Wire.request(1, NodeMethods.Health.self, Empty())
        for second in 0..<seconds {
            if c.isClosed {
                report.note("\(node): a frame trickling in at 1 byte/s was cut off after \(second) s")
                break
            }
            await c.send([frame[second % frame.count]])
            try? await Task.sleep(for: .seconds(1))
        }
        report.count("slow frames")
        if !c.isClosed {
            report.problem("\(node): a frame trickling in at 1 byte/s is still open after \(seconds) s")
        } else if let closed = c.closedAt, closed - c.openedAt < .seconds(4) {
            report.problem("\(node): a slow frame was cut off after \(closed - c.openedAt), before the 5 s timeout")
        }
        let errors = c.errorFrames()
        if c.isClosed && !(errors.count == 1 && errors[0].stream == 0 && errors[0].code == 4) {
            report.problem("\(node): a slow frame was closed with \(errors) instead of one code-4 error on stream 0")
        }
        await c.close()
    }

    /// Connections that say hello, ping, read the pong and hang up, `count` of them, 20 at a time.
    static func churn(port: Int, count: Int, report: AttackReport) async -> Int {
        let done = await withTaskGroup(of: Int.self) { group in
            for worker in 0..<20 {
                group.addTask {
                    var n = 0
                    for _ in stride(from: worker, to: count, by: 20) {
                        guard let c = await open(port, report) else { continue }
                        await c.send(Wire.clientHello + Wire.frame(.ping(7)))
                        _ = await c.waitFor(within: .seconds(2)) { $0.count >= Hello.length + 18 }
                        await c.close()
                        n += 1
                    }
                    return n
                }
            }
            return await group.reduce(0, +)
        }
        report.count("churned connections", done)
        return done
    }

    /// Well-formed calls with out-of-range values, through the frontend (the public API) and straight to
    /// the replicas' methods that validate their input. Each must come back as an error, never a crash.
    static func outOfRange(cluster: HostileCluster, report: AttackReport) async {
        let nearLimit = String(repeating: "x", count: Frame.defaultMaxLength - 200)
        let frontend = cluster.client(timeout: .seconds(10))
        var accepted: [String] = []
        func expectError<M: RPCMethod>(
            _ label: String,
            _ client: RPCClient,
            _ method: M.Type,
            _ request: M.Request
        ) async {
            report.count("out-of-range calls")
            let start = ContinuousClock.now
            do {
                _ = try await client.call(method, request)
                accepted.append(label)
            } catch {}
            let took = ContinuousClock.now - start
            if took > .milliseconds(500) { report.note("\(label) took \(took)") }
        }
        for quantity in [-1, 0, Int.min, Int.max, 1_000_001] {
            await expectError(
                "buy quantity \(quantity)",
                frontend,
                Frontend.Buy.self,
                BuyRequest(item: 1, quantity: quantity, requestId: "bad-q-\(quantity)")
            )
        }
        for item in [0, -1, Int.min, Int.max] {
            await expectError(
                "buy item \(item)",
                frontend,
                Frontend.Buy.self,
                BuyRequest(item: item, quantity: 1, requestId: "bad-i-\(item)")
            )
            await expectError("lookup item \(item)", frontend, Frontend.Lookup.self, LookupRequest(item: item))
        }
        await expectError(
            "buy with empty request id",
            frontend,
            Frontend.Buy.self,
            BuyRequest(item: 1, quantity: 1, requestId: "")
        )
        await expectError(
            "buy with 4 MiB request id",
            frontend,
            Frontend.Buy.self,
            BuyRequest(item: 1, quantity: 1, requestId: nearLimit)
        )
        await expectError("search empty topic", frontend, Frontend.Search.self, SearchRequest(topic: ""))
        await expectError("search 4 MiB topic", frontend, Frontend.Search.self, SearchRequest(topic: nearLimit))
        for after in [Int.min, Int.max] {
            report.count("out-of-range calls")
            _ = try? await frontend.call(Frontend.Orders.self, OrdersRequest(after: after))
        }
        let catalog = cluster.client("catalog-1", timeout: .seconds(10))
        for item in [0, Int.min, Int.max] {
            await expectError("catalog lookup \(item)", catalog, Catalog.Lookup.self, LookupRequest(item: item))
        }
        await expectError("catalog search 4 MiB", catalog, Catalog.Search.self, SearchRequest(topic: nearLimit))
        for quantity in [0, -1, Int.min] {
            await expectError(
                "catalog hold quantity \(quantity)",
                catalog,
                Catalog.Hold.self,
                HoldRequest(requestId: "bad-h-\(quantity)", item: 1, quantity: quantity, coordinator: "order-1")
            )
        }
        let order = cluster.client("order-2", timeout: .seconds(10))
        for quantity in [-1, 0, Int.min, Int.max] {
            await expectError(
                "order buy quantity \(quantity)",
                order,
                Order.Buy.self,
                BuyRequest(item: 1, quantity: quantity, requestId: "bad-o-\(quantity)")
            )
        }
        await expectError(
            "order buy 129-byte id",
            order,
            Order.Buy.self,
            BuyRequest(item: 1, quantity: 1, requestId: String(repeating: "r", count: 129))
        )
        report.count("out-of-range calls", 2)
        _ = try? await order.call(Order.Resolve.self, ResolveRequest(requestId: nearLimit))
        _ = try? await order.call(Order.List.self, OrdersRequest(after: .min))
        if !accepted.isEmpty { report.problem("out-of-range calls were accepted: \(accepted)") }
        for client in [frontend, catalog, order] { await client.close() }
    }
}

extension LiveProcessTests {
    /// Server limits set in the topology file, enforced by a running `pygmy node` process: the cluster's
    /// `limits` with the frontend's own overriding them field by field.
    @Suite("Hostile network: limits from the topology", .serialized)
    struct HostileNetworkLimitsTests {
        /// A topology whose frontend (the only node started) allows 3 connections, a 1 s handshake, an 800 ms
        /// frame timeout, a 1.5 s idle timeout and 2 KiB frames; the cluster-wide values are far larger.
        static func topology(port: Int) -> String {
            template.replacingOccurrences(of: "PORT1", with: "\(port + 1)")
                .replacingOccurrences(of: "PORT2", with: "\(port + 2)").replacingOccurrences(
                    of: "PORT",
                    with: "\(port)"
                )
        }

        static let template = """
            {
              // cluster-wide limits, overridden for the frontend below
              "limits": {"maxConnections": 1000, "handshakeTimeoutMillis": 30000, "idleTimeoutMillis": 600000,
                         "maxFrameLength": 65536},
              "nodes": [
                {"name": "frontend", "role": "frontend", "host": "127.0.0.1", "port": PORT,
                 "limits": {"maxConnections": 3, "handshakeTimeoutMillis": 1000, "frameTimeoutMillis": 800,
                            "idleTimeoutMillis": 1500, "maxFrameLength": 2048}},
                {"name": "catalog-1", "role": "catalog", "host": "127.0.0.1", "port": PORT1, "dataDir": "data/c1"},
                {"name": "order-1", "role": "order", "host": "127.0.0.1", "port": PORT2, "dataDir": "data/o1"}
              ]
            }
            """

        @Test("a node enforces the limits its topology gives it", .timeLimit(.minutes(2)))
        func limitsFromTheTopology() async throws {
            let directory = PygmyProcess.temporaryDirectory("pygmy-limits")
            let port = PygmyProcess.freeBasePort()
            let text = Self.topology(port: port)
            let path = directory + "/topology.json"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let loaded = try Topology.load(path: path)
            #expect(loaded.serverLimits(for: try loaded.node(named: "catalog-1")).maxConnections == 1000)
            #expect(loaded.serverLimits(for: try loaded.node(named: "frontend")).maxConnections == 3)

            let logPath = directory + "/frontend.log"
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: PygmyProcess.executable)
            process.arguments = ["node", "frontend", "--config", path, "--name", "frontend"]
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
            process.standardError = process.standardOutput
            try process.run()
            try await withCleanup {
                try await Self.waitUntilListening(port)

                // Handshake timeout 1 s (the default is 10 s).
                let silent = try await RawConnection.connect(port: port)
                #expect(
                    await silent.waitClosed(within: .seconds(8)),
                    "a silent connection outlived a 1 s handshake timeout"
                )
                if let closed = silent.closedAt { #expect(closed - silent.openedAt >= .milliseconds(900)) }

                // Three connections at most: a fourth is closed at once, unanswered.
                var held: [RawConnection] = []
                for _ in 0..<3 {
                    let c = try await RawConnection.connect(port: port)
                    await c.send(Wire.clientHello)
                    #expect(await c.waitFor(within: .seconds(5)) { $0.count >= Hello.length }, "no hello from the node")
                    held.append(c)
                }
                let fourth = try await RawConnection.connect(port: port)
                #expect(await fourth.waitClosed(within: .seconds(5)), "a fourth connection was accepted")
                #expect(fourth.received.isEmpty)

                // Idle timeout 1.5 s: the three are closed, and their slots are free again.
                for c in held {
                    #expect(
                        await c.waitClosed(within: .seconds(10)),
                        "an idle connection outlived a 1.5 s idle timeout"
                    )
                    if let closed = c.closedAt { #expect(closed - c.openedAt >= .milliseconds(1400)) }
                }
                try await Task.sleep(for: .milliseconds(200))

                // Frame timeout 800 ms: half a frame, then nothing.
                let slow = try await RawConnection.connect(port: port)
                await slow.send(Wire.clientHello + Array(Wire.request(1, NodeMethods.Health.self, Empty()).prefix(10)))
                #expect(
                    await slow.waitClosed(within: .seconds(5)),
                    "a half-sent frame outlived an 800 ms frame timeout"
                )
                #expect(slow.errorFrames().map(\.code) == [RPCError.Code.deadlineExceeded.rawValue])

                // Frame limit 2 KiB: a 4 KiB length prefix is refused with error 8.
                let large = try await RawConnection.connect(port: port)
                await large.send(Wire.clientHello + [0, 0, 0x10, 0])
                #expect(await large.waitClosed(within: .seconds(5)))
                let refusal = large.errorFrames()
                #expect(refusal.map(\.code) == [RPCError.Code.resourceExhausted.rawValue])
                #expect(refusal.first?.message.contains("limit is 2048") == true, "\(refusal)")

                let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                #expect(
                    log.contains("did not finish a frame of"),
                    "no log line for the frame timeout:\n\(log.suffix(2000))"
                )
                #expect(process.isRunning)
            } cleanup: {
                process.terminate()
                if !(await process.exited(within: .seconds(10))) { kill(process.processIdentifier, SIGKILL) }
                _ = await process.exited(within: .seconds(30))
                try? FileManager.default.removeItem(atPath: directory)
            }
        }

        @Test func limitsOutOfRangeAreReportedByName() throws {
            let directory = PygmyProcess.temporaryDirectory("pygmy-limits")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            for (limits, message) in [
                (#"{"maxConnections": 0}"#, "limits: maxConnections must be at least 1"),
                (#"{"idleTimeoutMillis": -5}"#, "limits: idleTimeoutMillis must not be negative"),
                (#"{"maxFrameLength": 8}"#, "limits: maxFrameLength must be"),
            ] {
                // The frontend's whole limits object replaced (strict loading refuses a key left over).
                let full = Self.topology(port: 7000)
                let start = try #require(full.range(of: #""limits": {"maxConnections": 3,"#))
                let end = try #require(
                    full.range(of: #""maxFrameLength": 2048}"#, range: start.upperBound..<full.endIndex)
                )
                let text = full.replacingCharacters(
                    in: start.lowerBound..<end.upperBound,
                    with: #""limits": \#(limits)"#
                )
                let path = directory + "/topology.json"
                try text.write(toFile: path, atomically: true, encoding: .utf8)
                #expect { try Topology.load(path: path) } throws: { "\($0)".contains("node frontend: " + message) }
            }
        }

        @Test func theExampleTopologyGivesTheFrontendItsOwnLimits() throws {
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent()
            let topology = try Topology.load(path: root.appendingPathComponent("deploy/topology.example.jsonc").path)
            let frontend = topology.serverLimits(for: try topology.node(named: "frontend-1"))
            let catalog = topology.serverLimits(for: try topology.node(named: "catalog-1"))
            #expect(frontend.maxConnections == 4096 && frontend.idleTimeoutMillis == 120_000)
            #expect(frontend.handshakeTimeoutMillis == 10_000 && frontend.frameTimeoutMillis == 5000)
            #expect(catalog.maxConnections == 1024 && catalog.idleTimeoutMillis == 300_000)
        }

        /// Waits until the node accepts a connection and answers a hello (then hangs up).
        static func waitUntilListening(_ port: Int) async throws {
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                if let c = try? await RawConnection.connect(port: port) {
                    await c.send(Wire.clientHello)
                    let answered = await c.waitFor(within: .seconds(2)) { $0.count >= Hello.length }
                    await c.close()
                    if answered { return }
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw HostileError("the node did not start listening on \(port)")
        }
    }
}
