import PygmyBookstore
import PygmyRPC

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

    static func registerFrontend(_ node: FrontendNode, on router: inout RPCRouter) {
        let l = node.latency
        route(Frontend.Search.self, l, on: &router) { r, _ in try await node.search(r) }
        route(Frontend.Lookup.self, l, on: &router) { r, _ in try await node.lookup(r) }
        route(Frontend.Buy.self, l, on: &router) { r, _ in try await node.buy(r) }
        route(Frontend.Orders.self, l, on: &router) { r, _ in try await node.orders(r) }
        route(Frontend.Restock.self, l, on: &router) { r, _ in try await node.restock(r) }
        route(Frontend.SetCost.self, l, on: &router) { r, _ in try await node.setCost(r) }
        route(Frontend.Status.self, l, on: &router) { _, _ in await node.status() }
        registerHealth(on: &router) { node.ownStatus(latencies: $0) }
    }

    static func registerCatalog(_ node: CatalogNode, on router: inout RPCRouter) {
        let l = node.latency
        route(Catalog.Search.self, l, on: &router) { r, _ in try await node.search(r) }
        route(Catalog.Lookup.self, l, on: &router) { r, _ in try await node.lookup(r) }
        route(Catalog.Hold.self, l, on: &router) { r, _ in try await node.hold(r) }
        route(Catalog.Commit.self, l, on: &router) { r, _ in
            try await node.commit(r)
            return Empty()
        }
        route(Catalog.Abort.self, l, on: &router) { r, _ in
            try await node.abort(r)
            return Empty()
        }
        route(Catalog.Restock.self, l, on: &router) { r, _ in try await node.restock(r) }
        route(Catalog.SetCost.self, l, on: &router) { r, _ in try await node.setCost(r) }
        route(Catalog.Snapshot.self, l, on: &router) { _, _ in await node.snapshot() }
        router.register(Catalog.Subscribe.self) { _, context in
            await node.subscribe(context.connection)
            return Empty()
        }
        registerHealth(on: &router) { await node.status(latencies: $0) }
    }

    static func registerOrder(_ node: OrderNode, on router: inout RPCRouter) {
        let l = node.latency
        route(Order.Buy.self, l, on: &router) { r, _ in try await node.buy(r) }
        route(Order.List.self, l, on: &router) { r, _ in await node.list(r) }
        route(Order.Replicate.self, l, on: &router) { r, _ in
            try await node.merge(r)
            return Empty()
        }
        route(Order.Resolve.self, l, on: &router) { r, _ in await node.resolve(r) }
        route(Order.Join.self, l, on: &router) { r, _ in
            await node.join(r)
            return Empty()
        }
        registerHealth(on: &router) { await node.status(latencies: $0) }
    }
}
