import PygmyBookstore
import PygmyReplica

/// Drives a node core by hand in tests: feeds inputs at a chosen time and keeps the effects.
struct CoreDriver<Core: ReplicaCore> {
    var core: Core
    var now: Duration = .zero
    var effects: [ReplicaEffect<Core.Mutation, Core.Timer>] = []
    private var nextInbound: UInt64 = 1

    init(_ core: Core) { self.core = core }

    var time: ReplicaTime { ReplicaTime(monotonic: now, wallMicros: 1_700_000_000_000_000 + now.microseconds) }

    /// Feeds `input` and returns (and keeps) its effects.
    @discardableResult
    mutating func feed(_ input: ReplicaInput<Core.Timer>) -> [ReplicaEffect<Core.Mutation, Core.Timer>] {
        let out = core.handle(input, at: time)
        effects += out
        return out
    }

    /// Sends a request; returns its id.
    mutating func request(_ request: PeerRequest, connection: UInt64 = 1) -> InboundID {
        let id = InboundID(nextInbound)
        nextInbound += 1
        feed(.request(id, request, connection: ConnectionID(connection)))
        return id
    }

    /// The calls made so far that match, oldest first (and forgets them, so each is answered once).
    mutating func takeCalls(
        to peer: String? = nil,
        where match: (PeerRequest) -> Bool = { _ in true }
    )
        -> [(CallID, String, PeerRequest)]
    {
        var taken: [(CallID, String, PeerRequest)] = []
        effects.removeAll { effect in
            guard case .call(let id, let to, let request, _) = effect, peer == nil || to == peer, match(request)
            else { return false }
            taken.append((id, to, request))
            return true
        }
        return taken
    }

    /// The answer given to `id`, if any.
    func answer(to id: InboundID) -> Result<PeerResponse, BookstoreError>? {
        for case .answer(let answered, let result) in effects where answered == id { return result }
        return nil
    }

    /// Answers every pending heartbeat: `up` peers with a ready status (with `lease` left, for catalog
    /// replicas), the others with `failure`.
    mutating func heartbeats(
        up: Set<String>,
        failure: CallFailure = .unreachable("timed out"),
        lease: Duration? = .seconds(1),
        membership: Membership? = nil
    ) {
        for (id, peer, _) in takeCalls(where: { $0 == .heartbeat }) {
            feed(
                .reply(
                    id,
                    up.contains(peer)
                        ? .answered(
                            .status(
                                PeerStatus(
                                    state: "ready",
                                    digest: nil,
                                    membership: membership,
                                    lease: peer.hasPrefix("catalog") ? lease : nil
                                )
                            ),
                            connection: 1
                        )
                        : .failed(failure)
                )
            )
        }
    }
}

extension PeerRequest {
    var isHold: Bool { if case .hold = self { true } else { false } }
}

extension CoreDriver where Core == CatalogReplica {
    /// Drives a catalog replica through its rejoin to ready, every peer up and answering: the barrier,
    /// a peer's snapshot (`peerState`; `laterState` for every snapshot after the first) and empty order
    /// logs.
    mutating func join(peerState: CatalogState, laterState: CatalogState? = nil) {
        var snapshots = 0
        feed(.boot)
        for _ in 0..<40 where core.phase != .ready {
            now += .milliseconds(100)
            heartbeats(up: Set(core.peers.all), membership: core.acceptor.current)
            for timer in effects.compactMap({ effect -> CatalogReplica.Timer? in
                if case .schedule(let timer, _) = effect { timer } else { nil }
            }) where timer == .join {
                feed(.timer(.join))
            }
            effects.removeAll { if case .schedule = $0 { true } else { false } }
            for (id, _, request) in takeCalls(where: { $0 != .heartbeat }) {
                switch request {
                case .join: feed(.reply(id, .answered(.ok, connection: 1)))
                case .snapshot:
                    let state = snapshots == 0 ? peerState : laterState ?? peerState
                    snapshots += 1
                    feed(.reply(id, .answered(.snapshot(state.snapshot()), connection: 1)))
                case .listOrders:
                    feed(.reply(id, .answered(.log(OrderLogSnapshot(orders: [], rejections: [])), connection: 1)))
                default: break
                }
            }
        }
    }
}
