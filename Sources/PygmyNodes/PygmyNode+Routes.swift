import PygmyBookstore
import PygmyRPC
import PygmyReplica

extension PygmyNode {
    /// Registers `method` with latency measurement and the mapping of `BookstoreError` to RPC errors.
    static func route<M: RPCMethod>(
        _ method: M.Type,
        _ latency: LatencyRecorder,
        on router: inout RPCRouter,
        _ body: @escaping @Sendable (M.Request, RPCContext) async throws -> M.Response
    ) {
        router.register(method) { request, context in
            do {
                return try await latency.measure(M.name) { try await body(request, context) }
            } catch let error as BookstoreError {
                throw RPCError(RPCError.Code(rawValue: error.code.rawValue), error.message)
            }
        }
    }

    /// Registers `method` as a request to a node core: `request` builds it, `answer` takes the typed
    /// answer out of the core's response.
    static func route<M: RPCMethod>(
        _ method: M.Type,
        _ latency: LatencyRecorder,
        on router: inout RPCRouter,
        handle: @escaping @Sendable (PeerRequest, RPCContext) async throws -> PeerResponse,
        request: @escaping @Sendable (M.Request) -> PeerRequest,
        answer: @escaping @Sendable (PeerResponse) -> M.Response?
    ) {
        route(method, latency, on: &router) { r, context in
            let response = try await handle(request(r), context)
            guard let typed = answer(response) else {
                throw RPCError(.internalError, "\(M.name) got an unexpected answer from the node core: \(response)")
            }
            return typed
        }
    }

    /// Registers `node.health`. A request with `latencies: false` (heartbeats) gets a status without
    /// latency summaries, which are by far the most expensive part of it.
    static func registerHealth(
        on router: inout RPCRouter,
        _ status: @escaping @Sendable (_ latencies: Bool) async -> NodeStatus
    ) {
        router.register(NodeMethods.Heartbeat.self) { request, _ in
            var answer = await status(request.wantsLatencies)
            answer.version = PygmyVersion.current
            return answer
        }
    }

    /// The membership votes every catalog and order replica answers.
    static func registerConsensus(
        _ handle: @escaping @Sendable (PeerRequest, RPCContext) async throws -> PeerResponse,
        _ l: LatencyRecorder,
        on router: inout RPCRouter
    ) {
        route(Consensus.Prepare.self, l, on: &router, handle: handle, request: { .prepare($0) }, answer: \.vote)
        route(Consensus.Accept.self, l, on: &router, handle: handle, request: { .accept($0) }, answer: \.vote)
        route(Consensus.Learn.self, l, on: &router, handle: handle, request: { .learn($0) }, answer: \.empty)
    }

    static func registerFrontend(_ node: FrontendNode, on router: inout RPCRouter) {
        let l = node.latency
        let handle: @Sendable (PeerRequest, RPCContext) async throws -> PeerResponse = { r, _ in
            try await node.handle(r)
        }
        route(Frontend.Search.self, l, on: &router, handle: handle, request: { .search($0) }, answer: \.search)
        route(Frontend.Lookup.self, l, on: &router, handle: handle, request: { .lookup($0) }, answer: \.book)
        route(Frontend.Buy.self, l, on: &router, handle: handle, request: { .buy($0) }, answer: \.bought)
        route(Frontend.Orders.self, l, on: &router, handle: handle, request: { .listOrders($0) }) {
            $0.log.map { OrdersResponse(orders: $0.orders) }
        }
        route(Frontend.OrdersPage.self, l, on: &router) { request, _ in try await node.page(request) }
        route(Frontend.Restock.self, l, on: &router, handle: handle, request: { .restock($0) }, answer: \.book)
        route(Frontend.SetCost.self, l, on: &router, handle: handle, request: { .setCost($0) }, answer: \.book)
        route(Frontend.Status.self, l, on: &router) { _, _ in await node.status() }
        registerHealth(on: &router) { await node.ownStatus(latencies: $0) }
    }

    static func registerCatalog(_ node: CatalogNode, on router: inout RPCRouter) {
        let l = node.latency
        let handle: @Sendable (PeerRequest, RPCContext) async throws -> PeerResponse = { r, _ in
            try await node.handle(r)
        }
        route(Catalog.Search.self, l, on: &router, handle: handle, request: { .search($0) }, answer: \.search)
        route(Catalog.Lookup.self, l, on: &router, handle: handle, request: { .lookup($0) }, answer: \.book)
        route(Catalog.Hold.self, l, on: &router, handle: handle, request: { .hold($0) }, answer: \.hold)
        route(Catalog.Commit.self, l, on: &router, handle: handle, request: { .commit($0) }, answer: \.empty)
        route(Catalog.Abort.self, l, on: &router, handle: handle, request: { .abort($0) }, answer: \.empty)
        route(Catalog.Restock.self, l, on: &router, handle: handle, request: { .restock($0) }, answer: \.book)
        route(Catalog.SetCost.self, l, on: &router, handle: handle, request: { .setCost($0) }, answer: \.book)
        route(Catalog.Snapshot.self, l, on: &router, handle: handle, request: { .snapshot($0) }, answer: \.snapshot)
        route(Catalog.Inspect.self, l, on: &router) { request, _ in try await node.inspect(request.item) }
        registerConsensus(handle, l, on: &router)
        router.register(Catalog.Subscribe.self) { _, context in
            _ = try await node.handle(.subscribe, context.connection)
            return Empty()
        }
        registerHealth(on: &router) { await node.status(latencies: $0) }
    }

    static func registerOrder(_ node: OrderNode, on router: inout RPCRouter) {
        let l = node.latency
        let handle: @Sendable (PeerRequest, RPCContext) async throws -> PeerResponse = { r, _ in
            try await node.handle(r)
        }
        route(Order.Buy.self, l, on: &router, handle: handle, request: { .buy($0) }, answer: \.bought)
        route(Order.List.self, l, on: &router, handle: handle, request: { .listOrders($0) }, answer: \.log)
        route(Order.Page.self, l, on: &router) { request, _ in try node.page(request) }
        route(Order.Replicate.self, l, on: &router, handle: handle, request: { .replicate($0) }, answer: \.empty)
        route(Order.Resolve.self, l, on: &router, handle: handle, request: { .resolve($0) }, answer: \.resolution)
        route(Order.Join.self, l, on: &router, handle: handle, request: { .join($0) }, answer: \.empty)
        registerConsensus(handle, l, on: &router)
        registerHealth(on: &router) { await node.status(latencies: $0) }
    }
}

/// The typed answers inside a core's response, for the routes.
extension PeerResponse {
    var empty: Empty? { if case .ok = self { Empty() } else { nil } }
    var search: SearchResponse? { if case .search(let r) = self { r } else { nil } }
    var book: Book? { if case .book(let b, _) = self { b } else { nil } }
    var bought: BuyResponse? { if case .bought(let r) = self { r } else { nil } }
    var hold: HoldOutcome? { if case .hold(let r) = self { r } else { nil } }
    var snapshot: CatalogSnapshot? { if case .snapshot(let r) = self { r } else { nil } }
    var resolution: Resolution? { if case .resolution(let r) = self { r } else { nil } }
    var log: OrderLogSnapshot? { if case .log(let r) = self { r } else { nil } }
    var vote: VoteResponse? { if case .vote(let r) = self { r } else { nil } }
}
