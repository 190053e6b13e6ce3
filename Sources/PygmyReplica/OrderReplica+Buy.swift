import PygmyBookstore

/// One buy running at its coordinator: the `BuyCoordinator` of the current attempt, the actions it
/// returned that are still to be carried out, and the fan-out of calls it waits for.
struct BuyRun: Sendable {
    var request: BuyRequest
    var waiters: [OrderReplica.Waiter]
    var attempt = 0
    var machine: BuyCoordinator
    /// The catalog replicas this attempt holds at (the join barrier waits for buys without the joiner).
    var targets: Set<String>
    var queue: [BuyCoordinator.Action] = []
    var gather: Gather?
    var firstCommitSeen = false
    /// The stamp of this attempt's refusal, from its first final abort on (`AbortRequest.refusedAt`): the
    /// catalogs record it under this stamp, the log too, and until the run ends this replica's fold floor
    /// stays at or below it (`OrderReplica.foldFloor`), so no fold passes it before the log has it.
    var refusalStamp: Int64?
}

/// Calls sent to several peers at once, and the replies in so far.
struct Gather: Sendable {
    enum Kind: Sendable { case holds, aborts, refusals, replication, commits }
    var kind: Kind
    var step: UInt64
    var expected: Set<String>
    var results: [String: CallResult] = [:]
    var complete: Bool { results.count >= expected.count }
}

/// Buying: drives `BuyCoordinator` over calls to the catalog and order replicas.
extension OrderReplica {
    mutating func buy(_ request: BuyRequest, _ id: InboundID) {
        guard (1...1_000_000).contains(request.quantity) else {
            return fail(
                id,
                BookstoreError(.invalidValue, "quantity must be between 1 and 1000000, not \(request.quantity)")
            )
        }
        guard !request.requestId.isEmpty, request.requestId.utf8.count <= 128 else {
            return fail(id, BookstoreError(.invalidValue, "request id must be 1 to 128 bytes"))
        }
        let rid = request.requestId
        if let running = buys[rid] {
            guard running.request.item == request.item, running.request.quantity == request.quantity else {
                return fail(id, reused(rid, "a buy of \(running.request.quantity) × item \(running.request.item)"))
            }
            buys[rid]!.waiters.append(Waiter(id: id, replayed: false))
            return
        }
        if let outcome = log.outcome(of: rid) {
            if case .ordered(let record) = outcome, record.item != request.item || record.quantity != request.quantity {
                return fail(id, reused(rid, "order \(record.order) (\(record.quantity) × item \(record.item))"))
            }
            return answerFromLog(outcome, [Waiter(id: id, replayed: true)])
        }
        if releasing[rid] != nil {
            return fail(
                id,
                BookstoreError(.unavailable, "\(config.name) is releasing an earlier attempt of request \(rid); retry")
            )
        }
        guard !catalogs.isEmpty else {
            return fail(id, BookstoreError(.unavailable, "the topology has no catalog replica"))
        }
        if let refusal = buyBlocker() { return fail(id, refusal) }
        var run = BuyRun(
            request: request,
            waiters: [Waiter(id: id, replayed: false)],
            machine: BuyCoordinator(request: request, coordinator: config.name, targets: catalogs, catalogs: catalogs),
            targets: []
        )
        startAttempt(&run)
        advance(run)
    }

    private func reused(_ rid: String, _ what: String) -> BookstoreError {
        BookstoreError(
            .requestIdReused,
            "request id \(rid) was already used for \(what); a new purchase needs a new request id"
        )
    }

    /// The catalog members a buy holds at: every member of the current epoch whose process is not known
    /// to be gone (`PeerTracker.notProvenDown`).
    var holdTargets: [String] {
        let members = membership.catalogs
        let live = peers.notProvenDown(.catalog).filter { members.contains($0) }
        return live.isEmpty ? members : live
    }

    /// Why a buy must be refused at once, before any hold: the membership just left a replica out and
    /// its read lease may not have run out yet, or a member is not answering (alive for all anyone knows,
    /// but hung or cut off): leaving it out could sell a copy twice, and waiting for it would only time
    /// out. A majority excludes it soon (`reviewMembership`), and buys go on without it.
    func buyBlocker() -> BookstoreError? {
        if now < activeAt {
            return BookstoreError(
                .unavailable,
                "the membership changed to \(membership); buys resume within "
                    + "\((activeAt - now).microseconds / 1000) ms, once the replica left out has stopped serving reads"
            )
        }
        let silent = holdTargets.filter { peers.detector.isSuspected($0, now: now) }
        guard !silent.isEmpty else { return nil }
        let quorum =
            canReachMajority
            ? "waiting for a majority to agree to leave it out"
            : "this side cannot reach a majority of the replicas to leave it out"
        // Every member refused the connection (none is left to hold at): say so, not "hung or cut off".
        let state =
            silent.allSatisfy(peers.provenDown.contains)
            ? "is down (connection refused)" : "is not answering (hung or cut off, not known to be down)"
        return BookstoreError(
            .unavailable,
            "catalog replica \(silent.joined(separator: ", ")) \(state); a buy must hold there too or it could sell "
                + "a copy twice, so none is taken; \(quorum); retry later"
        )
    }

    /// A stamp for a new attempt (or a recovery's release), above every earlier one: the clock, moved on
    /// past the last stamp.
    mutating func nextAttemptStamp() -> Int64 {
        lastAttemptStamp = max(time.wallMicros, lastAttemptStamp + 1)
        return lastAttemptStamp
    }

    /// A new attempt: holds at every catalog member not known to be down (`holdTargets`).
    private mutating func startAttempt(_ run: inout BuyRun) {
        run.attempt += 1
        let targets = holdTargets
        abortRequested.remove(run.request.requestId)
        run.targets = Set(targets)
        run.machine = BuyCoordinator(
            request: run.request,
            coordinator: config.name,
            targets: targets,
            catalogs: membership.catalogs,
            epoch: membership.epoch,
            attempt: nextAttemptStamp()
        )
        run.queue = run.machine.start()
        run.gather = nil
        run.firstCommitSeen = false
        run.refusalStamp = nil
    }

    /// Carries out the run's queued actions, then what its machine awaits, until it waits for replies or
    /// is done. Stores the run back (or answers and drops it).
    private mutating func advance(_ run: BuyRun) {
        var run = run
        let rid = run.request.requestId
        while true {
            while !run.queue.isEmpty {
                switch run.queue.removeFirst() {
                case .persist(let mutations): persist(mutations)
                case .checkpoint(let step): effects.append(.checkpoint(step))
                case .abort(let replicas, let abort):
                    guard !replicas.isEmpty else { continue }
                    // Wait for the releases: a late release must not meet the next attempt's hold.
                    fanOut(&run, .aborts, replicas, .abort(abort))
                    buys[rid] = run
                    return
                }
            }
            switch run.machine.awaiting {
            case .holds(let replicas, let hold):
                fanOut(&run, .holds, replicas, .hold(hold))
            case .decision:
                run.queue = run.machine.decide(
                    log: log,
                    abortRequested: abortRequested.remove(rid) != nil,
                    timeMicros: log.decisionTime(clock: time.wallMicros)
                )
                continue
            case .replication(let replication):
                let orders = peers.up(.order, now: now)
                guard !orders.isEmpty else {
                    run.queue = run.machine.replicated()
                    continue
                }
                fanOut(&run, .replication, orders, .replicate(replication))
            case .commits(let replicas, let commit):
                fanOut(&run, .commits, replicas, .commit(commit))
            case .refusals(let replicas, var abort):
                let stamp = run.refusalStamp ?? log.decisionTime(clock: time.wallMicros)
                run.refusalStamp = stamp
                abort.refusedAt = stamp
                fanOut(&run, .refusals, replicas, .abort(abort))
            case .done(let outcome):
                return finish(run, outcome)
            }
            buys[rid] = run
            return
        }
    }

    private mutating func fanOut(_ run: inout BuyRun, _ kind: Gather.Kind, _ peers: [String], _ request: PeerRequest) {
        let step = nextStep
        nextStep += 1
        run.gather = Gather(kind: kind, step: step, expected: Set(peers))
        for peer in peers {
            call(
                peer,
                request,
                .buy(requestId: run.request.requestId, step: step, replica: peer),
                timeout: timing.callTimeout
            )
        }
    }

    mutating func buyReplied(_ rid: String, step: UInt64, replica: String, _ result: CallResult) {
        guard var run = buys[rid], var gather = run.gather, gather.step == step else { return }
        gather.results[replica] = result
        if gather.kind == .commits, !run.firstCommitSeen, result.response != nil {
            run.firstCommitSeen = true
            effects.append(.checkpoint(.afterFirstCommit))
        }
        guard gather.complete else {
            run.gather = gather
            buys[rid] = run
            return
        }
        run.gather = nil
        switch gather.kind {
        case .aborts:
            break
        case .holds:
            var replies: [String: BuyCoordinator.HoldReply] = [:]
            for (replica, result) in gather.results {
                switch result {
                case .answered(.hold(let outcome), _): replies[replica] = .answered(outcome)
                case .answered(let other, _): replies[replica] = .failed("unexpected answer \(other)")
                case .failed(let failure): replies[replica] = .failed("\(failure)")
                }
            }
            run.queue = run.machine.holdsAnswered(replies)
        case .replication:
            run.queue = run.machine.replicated()
        case .refusals:
            var recorded = Set<String>()
            var refused = Set<String>()
            var conflicts = Set<String>()
            for (replica, result) in gather.results {
                switch result {
                case .answered: recorded.insert(replica)
                case .failed(.error(let error)) where error.code == .inProgress: conflicts.insert(replica)
                case .failed(let failure) where failure.provesDown: refused.insert(replica)
                case .failed: break
                }
            }
            // Ordered meanwhile through another order replica (and replicated here): that outcome stands, as
            // at a decision (found by the simulator, seed 13793: a catalog replica that had committed it
            // went down, so the refusal seemed recorded everywhere, and the client was told "out of stock").
            if case .ordered? = log.outcome(of: run.request.requestId) { conflicts.insert(config.name) }
            run.queue = run.machine.refusalsAnswered(
                recordedBy: recorded,
                refusedBy: refused,
                conflictedAt: conflicts,
                timeMicros: run.refusalStamp ?? log.decisionTime(clock: time.wallMicros)
            )
        case .commits:
            let acked = Set(gather.results.filter { $0.value.response != nil }.keys)
            let refused = Set(
                gather.results.filter { if case .failed(let f) = $0.value { f.provesDown } else { false } }.keys
            )
            run.queue = run.machine.committed(acknowledgedBy: acked, refusedBy: refused)
        }
        advance(run)
    }

    /// The attempt ended: answer its waiters, or start another attempt.
    private mutating func finish(_ run: BuyRun, _ outcome: BuyCoordinator.Outcome) {
        var run = run
        let rid = run.request.requestId
        switch outcome {
        case .ordered(let response):
            buys.removeValue(forKey: rid)
            for waiter in run.waiters { answer(waiter.id, .bought(response)) }
        case .refused(let error):
            buys.removeValue(forKey: rid)
            if error.code == .inProgress, let decided = log.outcome(of: rid) {
                answerFromLog(decided, run.waiters)
            } else {
                for waiter in run.waiters { fail(waiter.id, error) }
            }
        case .retry where run.attempt < 3 && buyBlocker() != nil:
            buys.removeValue(forKey: rid)
            for waiter in run.waiters { fail(waiter.id, buyBlocker()!) }
        case .retry(let reason) where run.attempt < 3:
            log(.debug, "retrying buy \(rid): \(reason)")
            startAttempt(&run)
            buys[rid] = run
            advance(run)
        case .retry(let reason):
            buys.removeValue(forKey: rid)
            for waiter in run.waiters {
                fail(waiter.id, BookstoreError(.unavailable, "buy could not complete: \(reason)"))
            }
        }
        checkBarriers()
    }

    // MARK: Answers from the log

    /// Answers with an outcome already in the log. An order whose commit has not reached every catalog
    /// replica (one learnt from a peer, say) is acknowledged only once every catalog replica has it or
    /// refused the connection, so no read after the answer misses it. Found by the simulator: retries
    /// answered from the log before the coordinator had committed.
    mutating func answerFromLog(_ outcome: BuyOutcome, _ waiters: [Waiter]) {
        if case .ordered(let record) = outcome, log.undelivered.contains(record.requestId) {
            return deliver(record, waiters: waiters)
        }
        for waiter in waiters { answerDecided(outcome, waiter) }
    }

    mutating func answerDecided(_ outcome: BuyOutcome, _ waiter: Waiter) {
        switch outcome {
        case .ordered(let record):
            var response = BuyResponse(record)
            if waiter.replayed { response.replayed = true }
            answer(waiter.id, .bought(response))
        case .rejected(let rejection):
            let message =
                waiter.replayed
                ? "\(rejection.message) (replayed: the outcome decided earlier for request id \(rejection.requestId))"
                : rejection.message
            fail(waiter.id, BookstoreError(rejection.code, message))
        }
    }
}
