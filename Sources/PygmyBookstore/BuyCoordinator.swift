/// Points inside a buy where the coordinator's driver may be stopped, as if the process died there.
/// The actor calls a test hook at each; the simulator can crash a node between any two events anyway.
public enum BuyCheckpoint: String, Sendable, CaseIterable {
    case afterHolds
    case afterDecision
    case afterReplication
    case afterFirstCommit
}

/// One buy coordinated by an order replica: the two-phase hold/commit protocol as a pure state machine.
///
/// The driver (the `OrderNode` actor over RPC and SQLite, or the deterministic simulator) does the I/O:
/// it executes the returned `Action`s in order (a `.persist` must be durable before anything after
/// it happens), then performs what `awaiting` asks for and reports the result with the matching event.
///
/// The protocol (see `docs/DESIGN.md`, "Buying"):
/// 1. record the buy as pending (so a crashed coordinator knows which holds to release);
/// 2. hold at the first catalog replica by name, then at the rest: every coordinator goes through the
///    same first replica, so two buys racing for the last copies cannot each win it on a different one;
/// 3. a definite refusal (unknown item, out of stock) is first made final at every catalog replica (each
///    records the request id as refused, so no attempt anywhere can hold for it again; one that holds it
///    for another coordinator says so, and the buy answers "in progress" instead), then recorded and
///    replicated; a failed or doubtful hold releases everything and asks the driver to retry;
/// 4. otherwise the order is made durable here, replicated to the peer order replicas, and only then
///    committed at the catalog replicas and acknowledged.
public struct BuyCoordinator: Sendable {
    /// A catalog replica's answer to a hold, or why there was none.
    public enum HoldReply: Sendable, Hashable {
        case answered(HoldOutcome)
        case failed(String)
    }

    /// How a buy ended.
    public enum Outcome: Sendable, Hashable {
        case ordered(BuyResponse)
        case refused(BookstoreError)
        /// Nothing was decided and every hold was released: the driver may run the buy again.
        case retry(String)
    }

    /// What the driver does next, in order.
    public enum Action: Sendable, Hashable {
        /// Make these durable (then apply them to the log) before executing what follows.
        case persist([OrderMutation])
        /// Release holds at these replicas (best effort: a replica that misses it resolves the hold later).
        case abort([String], AbortRequest)
        /// Call the fault hook, if any.
        case checkpoint(BuyCheckpoint)
    }

    /// What the driver must do after executing the actions, and which event reports it.
    public enum Awaiting: Sendable, Hashable {
        /// Send `HoldRequest` to these replicas and report every reply with `holdsAnswered`.
        case holds([String], HoldRequest)
        /// Call `decide` (with the current log and whether a catalog asked to abort this buy).
        case decision
        /// Send the final abort to these catalog replicas and report with `refusalsAnswered` which recorded
        /// it, which refused the connection, and which hold the request for another coordinator or have
        /// it committed (they answered `inProgress`).
        case refusals([String], AbortRequest)
        /// Send the outcome to the peer order replicas that are up, then call `replicated()`.
        case replication(ReplicateRequest)
        /// Send the commit to these catalog replicas and report with `committed` which acknowledged it and
        /// which refused the connection (a process that is down rejoins before it serves reads).
        case commits([String], CommittedBuy)
        case done(Outcome)
    }

    private enum Phase: Sendable {
        case created, holdingFirst, holdingRest, deciding
        case finalizingRefusal(Rejection, round: Int)
        case replicatingRejection(BookstoreError)
        case replicatingOrder(OrderRecord)
        case committing(OrderRecord, round: Int)
        case done
    }

    public let request: BuyRequest
    public let coordinator: String
    /// Catalog replicas to hold at (those that look up), sorted by name.
    public let targets: [String]
    /// Every catalog replica of the topology: commits go to all of them.
    public let catalogs: [String]
    public private(set) var awaiting: Awaiting = .decision
    private var phase: Phase = .created
    private var replies: [String: HoldReply] = [:]
    private var commitAcknowledged: Set<String> = []
    private var refusalRecorded: Set<String> = []
    /// Rounds of commits before the buy is answered with "decided, not yet confirmed; retry".
    public static let commitRounds = 3

    /// The membership epoch the holds are made in (nil: none).
    public let epoch: UInt64?
    /// This attempt's stamp (`HoldRequest.attempt`): its holds and releases carry it.
    public let attempt: Int64?

    public init(
        request: BuyRequest,
        coordinator: String,
        targets: [String],
        catalogs: [String],
        epoch: UInt64? = nil,
        attempt: Int64? = nil
    ) {
        precondition(!targets.isEmpty, "a buy needs at least one catalog replica to hold at")
        self.request = request
        self.coordinator = coordinator
        self.targets = targets.sorted()
        self.catalogs = catalogs.sorted()
        self.epoch = epoch
        self.attempt = attempt
    }

    private var hold: HoldRequest {
        HoldRequest(
            requestId: request.requestId,
            item: request.item,
            quantity: request.quantity,
            coordinator: coordinator,
            epoch: epoch,
            attempt: attempt
        )
    }

    private var heldAt: [String] {
        replies.compactMap { name, reply in
            if case .answered(.held) = reply { return name }
            return nil
        }
        .sorted()
    }

    /// Records the buy as pending and asks for the first hold.
    public mutating func start() -> [Action] {
        precondition(phaseIs(.created))
        phase = .holdingFirst
        awaiting = .holds([targets[0]], hold)
        let pending = PendingBuy(requestId: request.requestId, item: request.item, quantity: request.quantity)
        return [.persist([.begin(pending)])]
    }

    /// The replies to the holds asked for. Replicas missing from `replies` count as failed.
    public mutating func holdsAnswered(_ answers: [String: HoldReply]) -> [Action] {
        guard case .holds(let asked, _) = awaiting else { preconditionFailure("no holds were asked for") }
        for name in asked { replies[name] = answers[name] ?? .failed("no answer") }
        if phaseIs(.holdingFirst), case .answered(.held)? = replies[targets[0]], targets.count > 1 {
            phase = .holdingRest
            awaiting = .holds(Array(targets.dropFirst()), hold)
            return []
        }
        return judgeHolds()
    }

    /// Turns the hold replies into a refusal, a retry, or the go-ahead for the decision.
    private mutating func judgeHolds() -> [Action] {
        let sorted = replies.sorted { $0.key < $1.key }
        // Definite refusals end the buy for good.
        for (_, reply) in sorted {
            switch reply {
            case .answered(.unknownItem):
                return reject(.unknownItem, "no book with item number \(request.item)")
            case .answered(.outOfStock(let available)):
                return reject(
                    .outOfStock,
                    "item \(request.item) has \(available) copies available, \(request.quantity) requested"
                )
            default: continue
            }
        }
        for (name, reply) in sorted {
            switch reply {
            case .answered(.alreadyCommitted):
                return release(
                    then: .refused(
                        BookstoreError(
                            .inProgress,
                            "request \(request.requestId) was committed by another order replica; retry for its outcome"
                        )
                    )
                )
            case .answered(.heldByOther(let other)):
                return release(
                    then: .refused(
                        BookstoreError(
                            .inProgress,
                            "request \(request.requestId) is in progress at \(other); retry for its outcome"
                        )
                    )
                )
            case .answered(.notReady):
                return release(then: .retry("catalog replica \(name) is not ready"))
            case .failed(let why):
                return release(then: .retry("catalog replica \(name) failed during hold: \(why)"))
            default: continue
            }
        }
        guard checkedCost != nil else {
            return release(then: .retry("no catalog replica that holds copies is ready"))
        }
        phase = .deciding
        awaiting = .decision
        return [.checkpoint(.afterHolds)]
    }

    /// The unit cost quoted by the first replica that checked the stock.
    private var checkedCost: Int? {
        for (_, reply) in replies.sorted(by: { $0.key < $1.key }) {
            if case .answered(.held(let cost, true)) = reply { return cost }
        }
        return nil
    }

    /// Decides the buy. `abortRequested`: a catalog replica asked about this buy while it was undecided
    /// and was told it aborted, so it must not commit. `timeMicros` stamps the order.
    public mutating func decide(log: OrderLogState, abortRequested: Bool, timeMicros: Int64) -> [Action] {
        precondition(phaseIs(.deciding))
        if abortRequested { return release(then: .retry("a catalog replica timed the hold out")) }
        // Decided meanwhile at another order replica, and learnt through replication: that outcome stands.
        // (Catalog replicas that folded the commit no longer refuse a hold for it; the logs, which every
        // fold waits for, do.)
        if log.outcome(of: request.requestId) != nil {
            return release(
                then: .refused(
                    BookstoreError(
                        .inProgress,
                        "request \(request.requestId) was decided by another order replica meanwhile; its outcome stands"
                    )
                )
            )
        }
        let record = OrderRecord(
            order: log.nextOrderNumber(),
            requestId: request.requestId,
            item: request.item,
            quantity: request.quantity,
            unitCost: checkedCost!,
            timeMicros: timeMicros,
            coordinator: coordinator
        )
        phase = .replicatingOrder(record)
        awaiting = .replication(ReplicateRequest(orders: [record], rejections: []))
        return [.persist([.order(record)]), .checkpoint(.afterDecision)]
    }

    /// The replication asked for is done (acknowledged or given up on).
    public mutating func replicated() -> [Action] {
        switch phase {
        case .replicatingRejection(let error):
            finish(.refused(error))
            return []
        case .replicatingOrder(let record):
            phase = .committing(record, round: 1)
            awaiting = .commits(
                catalogs,
                CommittedBuy(record, epoch: epoch)
            )
            return [.checkpoint(.afterReplication)]
        default:
            preconditionFailure("no replication was asked for")
        }
    }

    /// The answers to a round of commits. The buy is acknowledged once every catalog replica has the
    /// commit or refused the connection (it is down, and rejoins through the order logs before serving
    /// reads); a replica that did not answer gets the commit again, so no read after the answer can miss
    /// the order. After `commitRounds` rounds the buy ends with `unavailable`: the order stands, and a
    /// retry of the request id returns it once it is confirmed.
    public mutating func committed(acknowledgedBy acked: Set<String>, refusedBy refused: Set<String>) -> [Action] {
        guard case .committing(let record, let round) = phase else { preconditionFailure("no commit was asked for") }
        commitAcknowledged.formUnion(acked)
        let missing = catalogs.filter { !commitAcknowledged.contains($0) && !refused.contains($0) }
        if missing.isEmpty {
            finish(.ordered(BuyResponse(record)))
            return commitAcknowledged.isSuperset(of: catalogs)
                ? [.persist([.delivered(requestId: record.requestId)])] : []
        }
        let commit = CommittedBuy(record, epoch: epoch)
        guard round < Self.commitRounds else {
            finish(
                .refused(
                    BookstoreError(
                        .unavailable,
                        "order \(record.order) is decided, but catalog replicas \(missing.joined(separator: ", ")) "
                            + "have not confirmed it yet; retry request \(record.requestId) for its outcome"
                    )
                )
            )
            return []
        }
        phase = .committing(record, round: round + 1)
        awaiting = .commits(missing, commit)
        return []
    }

    private mutating func reject(_ code: BookstoreError.Code, _ message: String) -> [Action] {
        let rejection = Rejection(requestId: request.requestId, code: code, message: message)
        // The refusal is recorded at every catalog replica before it is recorded here or anyone hears of
        // it, so an attempt with the same request id elsewhere (a retry, or a late duplicate) cannot
        // become an order; one that already holds there makes this refusal "in progress" instead.
        phase = .finalizingRefusal(rejection, round: 1)
        awaiting = .refusals(catalogs, finalAbort)
        return []
    }

    private var finalAbort: AbortRequest {
        var final = abortRequest
        final.final = true
        return final
    }

    /// The answers to a round of final aborts. The refusal is recorded, replicated and answered once every
    /// catalog replica has recorded it or refused the connection (a replica that is down learns it from a
    /// ready peer when it rejoins). If one holds the request for another coordinator, or has it committed,
    /// the buy answers "in progress": the other attempt's outcome is the one. A replica that did not answer
    /// gets the final abort again, up to `commitRounds` rounds; after that nothing is recorded here and
    /// the buy answers `unavailable` (a retry meets the refusal at the replicas that recorded it).
    /// `timeMicros` stamps the refusal: the stamp its final aborts carried (`AbortRequest.refusedAt`),
    /// taken with `OrderLogState.decisionTime` at the first of them, so no earlier than a fold floor this
    /// replica reported before it, and its floor stayed at or below it since (`OrderReplica.foldFloor`).
    public mutating func refusalsAnswered(
        recordedBy recorded: Set<String>,
        refusedBy refused: Set<String>,
        conflictedAt conflicts: Set<String>,
        timeMicros: Int64
    ) -> [Action] {
        guard case .finalizingRefusal(let rejection, let round) = phase else {
            preconditionFailure("no final aborts were asked for")
        }
        if let other = conflicts.sorted().first {
            return release(
                then: .refused(
                    BookstoreError(
                        .inProgress,
                        "request \(request.requestId) is held or committed elsewhere (at \(other)); retry for its outcome"
                    )
                )
            )
        }
        refusalRecorded.formUnion(recorded)
        let missing = catalogs.filter { !refusalRecorded.contains($0) && !refused.contains($0) }
        if missing.isEmpty {
            var stamped = rejection
            stamped.timeMicros = timeMicros
            phase = .replicatingRejection(BookstoreError(rejection.code, rejection.message))
            awaiting = .replication(ReplicateRequest(orders: [], rejections: [stamped]))
            return [.persist([.reject(stamped)])]
        }
        guard round < Self.commitRounds else {
            return release(
                then: .refused(
                    BookstoreError(
                        .unavailable,
                        "request \(request.requestId) was refused (\(rejection.message)), but catalog replicas "
                            + "\(missing.joined(separator: ", ")) have not confirmed the refusal; retry for its outcome"
                    )
                )
            )
        }
        phase = .finalizingRefusal(rejection, round: round + 1)
        awaiting = .refusals(missing, finalAbort)
        return []
    }

    /// Forgets the pending buy and releases its holds, then ends with `outcome`.
    private mutating func release(then outcome: Outcome) -> [Action] {
        let actions: [Action] = [.persist([.forget(requestId: request.requestId)]), .abort(heldAt, abortRequest)]
        finish(outcome)
        return actions
    }

    private var abortRequest: AbortRequest {
        AbortRequest(requestId: request.requestId, coordinator: coordinator, attempt: attempt)
    }

    private mutating func finish(_ outcome: Outcome) {
        phase = .done
        awaiting = .done(outcome)
    }

    private func phaseIs(_ expected: Phase) -> Bool {
        switch (phase, expected) {
        case (.created, .created), (.holdingFirst, .holdingFirst), (.holdingRest, .holdingRest),
            (.deciding, .deciding), (.done, .done):
            return true
        default:
            return false
        }
    }
}
