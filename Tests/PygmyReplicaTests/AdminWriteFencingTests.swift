import PygmyBookstore
import PygmyReplica
import Testing

/// Restocks and price changes are fenced by the membership epoch, as holds are (PROTOCOL.md §6.6): a
/// write the frontend confirms was applied by every member of its epoch before any adopted a later one.
@Suite struct AdminWriteFencingTests {
    /// A catalog replica whose current membership is `membership`.
    func catalog(_ name: String, membership: Membership) -> CoreDriver<CatalogReplica> {
        var state = CatalogState()
        state.apply(CatalogSeed.original.map(CatalogMutation.addBook))
        let config = CatalogReplica.Config(
            name: name,
            peers: [.catalog: ["catalog-1", "catalog-2"].filter { $0 != name }, .order: ["order-1", "order-2"]],
            timing: ReplicaTiming()
        )
        let core = CatalogReplica(
            config: config,
            state: state,
            acceptor: MembershipAcceptor(current: membership),
            now: ReplicaTime(monotonic: .zero, wallMicros: 0)
        )
        return CoreDriver(core)
    }

    func code(_ result: Result<PeerResponse, BookstoreError>?) -> BookstoreError.Code? {
        if case .failure(let error)? = result { return error.code }
        return nil
    }

    static let epoch2 = Membership(epoch: 2, catalogs: ["catalog-2"])

    @Test("§6.6 a replica left out of the membership applies no restock or price change")
    func aReplicaLeftOutRefusesAdminWrites() {
        var driver = catalog("catalog-1", membership: Self.epoch2)
        let restock = driver.request(.restock(RestockRequest(item: 1, count: 5, opId: "r1")))
        let price = driver.request(.setCost(SetCostRequest(item: 1, cost: 99, opId: "p1", version: 1)))
        #expect(code(driver.answer(to: restock)) == .staleEpoch)
        #expect(code(driver.answer(to: price)) == .staleEpoch)
        #expect(driver.core.state.stockOnHand(1) == 10, "a refused restock changed the stock")
    }

    @Test("§6.6 a member applies admin writes of its own epoch only")
    func aMemberRefusesAnotherEpochsWrite() {
        var driver = catalog("catalog-2", membership: Self.epoch2)
        let joining = driver.request(.restock(RestockRequest(item: 1, count: 5, opId: "r0", epoch: 2)))
        #expect(code(driver.answer(to: joining)) == .notReady, "stamped before hearing the peers' fold horizons")
        driver.join(peerState: driver.core.state)
        #expect(driver.core.phase == .ready)
        let stale = driver.request(.restock(RestockRequest(item: 1, count: 5, opId: "r1", epoch: 1)))
        #expect(code(driver.answer(to: stale)) == .staleEpoch)
        #expect(driver.core.state.stockOnHand(1) == 10)
        let current = driver.request(.restock(RestockRequest(item: 1, count: 5, opId: "r2", epoch: 2)))
        guard case .success(.book(let book, _))? = driver.answer(to: current) else {
            Issue.record(
                "the restock of the replica's own epoch was not applied: \(String(describing: driver.answer(to: current)))"
            )
            return
        }
        #expect(book.stock == 15)
    }

    @Test("§6.6 the frontend stamps admin writes with the newest membership it has heard of")
    func theFrontendStampsTheEpoch() {
        let config = FrontendCore.Config(
            name: "frontend",
            peers: [.catalog: ["catalog-1", "catalog-2"], .order: ["order-1"]],
            timing: ReplicaTiming()
        )
        var driver = CoreDriver(FrontendCore(config: config, now: ReplicaTime(monotonic: .zero, wallMicros: 0)))
        driver.feed(.boot)
        for (id, peer, _) in driver.takeCalls(where: { $0 == .heartbeat }) {
            let status = PeerStatus(state: "ready", digest: nil, membership: Self.epoch2, lease: .seconds(1))
            driver.feed(
                .reply(id, peer == "catalog-1" ? .failed(.refused("down")) : .answered(.status(status), connection: 1))
            )
        }
        let id = driver.request(.restock(RestockRequest(item: 1, count: 5, opId: "r1")))
        let calls = driver.takeCalls(where: { if case .restock = $0 { true } else { false } })
        #expect(calls.map(\.1) == ["catalog-2"], "the write went to \(calls.map(\.1)), not to the members of epoch 2")
        for (_, _, request) in calls {
            guard case .restock(let restock) = request else { continue }
            #expect(restock.epoch == 2)
        }
        #expect(driver.answer(to: id) == nil)
    }
}
