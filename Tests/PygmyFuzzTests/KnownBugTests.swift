import Foundation
import Logging
import NIOCore
import NIOEmbedded
import PygmyBookstore
import PygmyWire
import Synchronization
import Testing

@testable import PygmyRPC

extension FuzzExitTests {
    /// Minimal reproducers of bugs that fuzzing and the hostile-network tests found outside the fuzzing code.
    /// Each test states the behaviour the code should have, so it fails until the bug is fixed; the crashing
    /// ones run in a child process (exit tests), so a crash fails the test instead of the whole run.
    @Suite("Bugs found by fuzzing")
    struct KnownBugTests {
        /// ServerConnectionHandler keeps its ChannelHandlerContext in `context`, and the context keeps the
        /// handler: the pair (with the handler's logger, router, configuration and queues) outlives the
        /// connection. Every connection a server ever accepted stays in memory. Found by the `pipeline` fuzz
        /// target (LeakSanitizer). Fix: Sources/PygmyRPC/ServerConnectionHandler.swift, add
        /// `func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }` (ClientConnectionHandler
        /// stores its context the same way and needs the same).
        @Test("a server connection's handler is freed when the connection closes")
        func serverConnectionHandlerIsReleased() throws {
            weak var weakHandler: ServerConnectionHandler?
            weak var weakChannel: EmbeddedChannel?
            do {
                let loop = EmbeddedEventLoop()
                let channel = EmbeddedChannel(loop: loop)
                let handler = ServerConnectionHandler(
                    router: RPCRouter(),
                    configuration: RPCServer.Configuration(),
                    connectionID: 1,
                    logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
                )
                weakHandler = handler
                weakChannel = channel
                try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                try channel.pipeline.syncOperations.addHandler(handler)
                channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 9), promise: nil)
                _ = try channel.writeInbound(ByteBuffer(bytes: FuzzSeeds.clientHello))
                loop.run()
                _ = try channel.finish(acceptAlreadyClosed: true)
                loop.run()
                try loop.syncShutdownGracefully()
            }
            #expect(weakChannel == nil)
            #expect(weakHandler == nil, "ServerConnectionHandler leaked after its connection closed")
        }

        enum Probe: RPCMethod {
            typealias Request = Int
            typealias Response = Int
            static let name = "test.probe"
        }

        /// After a protocol violation ServerConnectionHandler sends the stream-0 error and closes, but the
        /// frames that arrived in the same read are still delivered by ByteToMessageHandler, and
        /// `receivedFrame` starts their calls: handlers run for a connection that is gone, after
        /// `channelInactive` cancelled everything, so nothing cancels them (and a queue of waiting calls drains
        /// one by one). A client can thus have calls executed after the server refused the connection. Found by
        /// the `pipeline` fuzz target (fuzz/regressions/pipeline/crash-6ab0…). Fix:
        /// Sources/PygmyRPC/ServerConnectionHandler.swift `channelRead`: drop every message once the handler
        /// has closed or failed the connection (a `closed` flag set in `close(_:)`, `failConnection` and
        /// `channelInactive`), and in `startCall` refuse to start when `!context.channel.isActive`.
        @Test("no call starts after the server closed the connection for a protocol violation")
        func noCallAfterProtocolViolation() throws {
            let started = Mutex(0)
            var router = RPCRouter()
            router.register(Probe.self) { n, _ in
                started.withLock { $0 += 1 }
                return n
            }
            let loop = EmbeddedEventLoop()
            let channel = EmbeddedChannel(loop: loop)
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
            try channel.pipeline.syncOperations.addHandler(
                ServerConnectionHandler(
                    router: router,
                    configuration: RPCServer.Configuration(),
                    connectionID: 1,
                    logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
                )
            )
            channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 9), promise: nil)
            // One read: the hello, a frame a client may not send (a response), then a call.
            let bytes =
                FuzzSeeds.clientHello + FuzzSeeds.frame(.response(streamID: 1, payload: ByteBuffer()))
                + FuzzSeeds.request(2, Probe.name, [2, 2])
            _ = try channel.writeInbound(ByteBuffer(bytes: bytes))
            loop.run()
            #expect(!channel.isActive, "the connection stays open after a protocol violation")
            #expect(started.withLock { $0 } == 0, "a call started after the connection was closed")
            _ = try? channel.finish(acceptAlreadyClosed: true)
            loop.run()
        }

        static let seed = CatalogSeed(item: 1, title: "t", topic: "x", stock: 10, cost: 30)

        /// `frontend.restock` with a count near Int.max (an admin typo, or anyone on a plaintext cluster) is
        /// accepted by `CatalogState.decideRestock` (it only checks `count > 0`), persisted, then applied:
        /// `onHand += count` overflows and every catalog replica traps. The mutation is already in SQLite, so
        /// each replica traps again when it replays it at start: the catalog stays down. Fix:
        /// Sources/PygmyBookstore/CatalogState.swift `decideRestock`: refuse a count that would overflow the
        /// stock (`stockOnHand(item).addingReportingOverflow(count).overflow`, or cap counts at, say,
        /// 1_000_000_000) with `.invalidValue`.
        @Test("a restock near Int.max is refused, not a crash")
        func restockOverflow() async {
            await #expect(processExitsWith: .success) {
                var state = CatalogState()
                state.apply(.addBook(KnownBugTests.seed))
                if let mutations = try? state.decideRestock(Restock(opId: "a", item: 1, count: .max)) {
                    state.apply(mutations)
                }
                _ = try? state.lookup(1)
            }
        }

        /// `catalog.commit` takes any quantity: `CommittedBuy(quantity: .min)` makes `onHand -= quantity`
        /// overflow (trap); negative quantities silently add stock. Reachable by anyone on a plaintext
        /// cluster and by any holder of an order certificate. Fix: CatalogState.swift `decideCommit` (and
        /// `mutationsToMerge`): refuse quantities outside 1...1_000_000 (OrderNode.buy's range).
        @Test("a committed buy with an out-of-range quantity is refused, not a crash")
        func commitQuantityOverflow() async {
            await #expect(processExitsWith: .success) {
                var state = CatalogState()
                state.apply(.addBook(KnownBugTests.seed))
                if let mutations = try? state.decideCommit(CommittedBuy(requestId: "r", item: 1, quantity: .min)) {
                    state.apply(mutations)
                }
                _ = try? state.lookup(1)
            }
            var state = CatalogState()
            state.apply(.addBook(Self.seed))
            if let mutations = try? state.decideCommit(CommittedBuy(requestId: "r", item: 1, quantity: -5)) {
                state.apply(mutations)
            }
            #expect(state.stockOnHand(1) <= 10, "a commit with quantity -5 added stock")
        }

        /// `frontend.setCost` accepts any cost >= 0. With cost Int.max, a buy of 2 copies makes the order
        /// replica compute `OrderRecord.total` (`unitCost * quantity`, Model.swift) for the `BuyResponse`
        /// after the order is durable: it traps, and so does every retry of the request id and
        /// `pygmy orders`. Fix: CatalogState.swift `decideSetPrice`: cap the cost (for example
        /// 1...1_000_000_000); and compute totals with `multipliedReportingOverflow` in Model.swift.
        @Test("a price near Int.max cannot crash the order replica")
        func priceOverflow() async {
            await #expect(processExitsWith: .success) {
                var state = CatalogState()
                state.apply(.addBook(KnownBugTests.seed))
                let price = PriceSetting(item: 1, cost: .max, version: 1, opId: "p")
                if let mutations = try? state.decideSetPrice(price) { state.apply(mutations) }
                let hold = Hold(requestId: "r", item: 1, quantity: 2, coordinator: "order-1", createdMicros: 0)
                if case .held(let unitCost, _)? = try? state.decideHold(hold, checked: true).0 {
                    let record = OrderRecord(
                        order: 1,
                        requestId: "r",
                        item: 1,
                        quantity: 2,
                        unitCost: unitCost,
                        timeMicros: 0,
                        coordinator: "order-1"
                    )
                    _ = BuyResponse(record)
                }
            }
        }
    }
}
