import PygmyBookstore

/// Where a rejoin stands: the current attempt and the replies its stage still expects.
struct JoinProgress: Sendable {
    var started: Duration = .zero
    var attempt = 0
    var active = false
    var pending: Set<String> = []
    var sources: [String] = []
    /// Pages asked again in a row after a failure (`JoinProgress.pageRetries` at most, then the attempt
    /// starts over).
    var pageFailures = 0
    static let pageRetries = 5
}

/// One call of a rejoin, and whom it went to.
enum JoinStage: Sendable {
    case barrier(String)
    case snapshot(String, SnapshotRequest)
    case log(String, OrdersRequest)
    case catchUp(String)

    var peer: String? {
        switch self {
        case .barrier(let peer), .snapshot(let peer, _), .log(let peer, _), .catchUp(let peer): peer
        }
    }
}

/// The rejoin protocol (docs/DESIGN.md, "Catalog rejoin"): a restarted replica
/// 1. asks every live order replica for the join barrier (from then on every buy holds here; the call
///    returns once the buys that started without this replica have finished);
/// 2. merges a ready peer's state, or, with none ready after a grace period (a cold start of the whole
///    cluster), every reachable peer's, but only once every order replica is up: then the order logs of
///    step 3 vouch for every commit;
/// 3. merges every committed order from the live order replicas;
/// 4. merges the first page of the same peers' state again (restocks, prices, holds: a restock they
///    applied meanwhile reached them without this replica, which refuses to stamp one until ready);
/// 5. becomes ready: checks stock on holds and serves reads.
/// A failed step starts the attempt over after a heartbeat interval.
extension CatalogReplica {
    var joinGrace: Duration { timing.failureTimeout * 2 }

    mutating func joinStep() {
        // A replica left out of the membership waits to be re-admitted (an order replica proposes it
        // once it answers steadily); re-admitted, it joins at the new epoch.
        guard phase == .joining, !join.active, acceptor.current.contains(config.name) else { return }
        // Give the failure detector time to form an opinion of every order replica: the barrier must not
        // be skipped just because no heartbeat has come back yet.
        if peers.names(.order).contains(where: { !peers.isUp($0, now: now) }) && now - join.started < joinGrace {
            effects.append(.schedule(.join, after: timing.heartbeatInterval / 2))
            return
        }
        join.attempt += 1
        join.active = true
        join.pageFailures = 0
        let orders = peers.up(.order, now: now)
        join.pending = Set(orders)
        guard !orders.isEmpty else { return mergeSources() }
        for order in orders {
            call(
                order,
                .join(JoinRequest(catalog: config.name)),
                .join(attempt: join.attempt, .barrier(order)),
                timeout: timing.joinBarrierTimeout + timing.callTimeout
            )
        }
    }

    mutating func joinReplied(attempt: Int, _ stage: JoinStage, _ result: CallResult) {
        guard attempt == join.attempt, join.active, let peer = stage.peer else { return }
        switch (stage, result) {
        case (.barrier, .answered(.ok, _)): break
        case (.snapshot(_, let request), .answered(.snapshot(let snapshot), _)):
            write(state.mutationsToMerge(snapshot))
            join.pageFailures = 0
            if let next = snapshot.next {  // not the last page: this peer has more commits
                let following = SnapshotRequest(limit: request.limit, from: next)
                log(.debug, "rejoin: asking \(peer) for the next page of its snapshot")
                return call(
                    peer,
                    .snapshot(following),
                    .join(attempt: join.attempt, .snapshot(peer, following)),
                    timeout: timing.resyncTimeout
                )
            }
        case (.log(_, let request), .answered(.log(let log), _)):
            let commits = log.orders.map { CommittedBuy($0) }
            write(
                state.mutationsToMerge(
                    CatalogSnapshot(books: [], prices: [], holds: [], committed: commits, restocks: [])
                )
            )
            join.pageFailures = 0
            if let next = log.next {  // not the last page: this order replica has more
                let following = request.following(next)
                self.log(.debug, "rejoin: asking \(peer) for the next page of its log")
                return call(
                    peer,
                    .listOrders(following),
                    .join(attempt: join.attempt, .log(peer, following)),
                    timeout: timing.resyncTimeout
                )
            }
        case (.catchUp, .answered(.snapshot(let snapshot), _)):
            write(state.mutationsToMerge(snapshot))
        case (.snapshot(_, let request), .failed(let failure)) where request.from != nil && !failure.provesDown:
            return retryPage(stage, peer, .snapshot(request), result)
        case (.log(_, let request), .failed(let failure)) where request.from != nil && !failure.provesDown:
            return retryPage(stage, peer, .listOrders(request), result)
        default:
            return retryJoin("\(stage) at \(peer): \(result)")
        }
        join.pageFailures = 0
        join.pending.remove(peer)
        guard join.pending.isEmpty else { return }
        switch stage {
        case .barrier: mergeSources()
        case .snapshot: mergeOrderLogs()
        case .log: catchUp()
        case .catchUp: becomeReady()
        }
    }

    /// Step 2: the state of a ready peer, or of every reachable peer after a cold start.
    private mutating func mergeSources() {
        let catalogs = peers.names(.catalog)
        // A ready member that has adopted this epoch: it takes no holds of older epochs any more, so its
        // state has every hold a buy of an older epoch may still commit.
        let epoch = acceptor.current.epoch
        let ready = catalogs.filter {
            peers.isUp($0, now: now) && peers.statuses[$0]?.isReady == true && acceptor.current.contains($0)
                && (peers.statuses[$0]?.membership?.epoch ?? 0) >= epoch
        }
        let sources: [String]
        if let first = ready.first {
            sources = [first]
        } else if now - join.started >= joinGrace || catalogs.isEmpty,
            peers.names(.order).allSatisfy({ peers.isUp($0, now: now) })
        {
            // Without a ready peer, only the logs of every order replica vouch for every commit (each order
            // is durable at its coordinator before any commit is sent). Found by the simulator: a replica
            // that became ready with one order replica down missed commits.
            sources = catalogs.filter { peers.isUp($0, now: now) }
        } else {
            return retryJoin("no ready catalog replica to copy from yet")
        }
        join.sources = sources
        join.pending = Set(sources)
        guard !sources.isEmpty else { return mergeOrderLogs() }
        let request = SnapshotRequest(limit: timing.syncPageOrders)
        for source in sources {
            call(
                source,
                .snapshot(request),
                .join(attempt: join.attempt, .snapshot(source, request)),
                timeout: timing.resyncTimeout
            )
        }
    }

    /// Step 3: every commit the live order replicas' logs know.
    private mutating func mergeOrderLogs() {
        let orders = peers.up(.order, now: now)
        join.pending = Set(orders)
        guard !orders.isEmpty else { return catchUp() }
        let request = OrdersRequest.sync(since: state.folded.before, limit: timing.syncPageOrders)
        for order in orders {
            call(
                order,
                .listOrders(request),
                .join(attempt: join.attempt, .log(order, request)),
                timeout: timing.resyncTimeout
            )
        }
    }

    /// Step 4: what the sources applied while steps 2 and 3 ran. A frontend that took this replica for
    /// down sent its restocks to them alone, and one sent here meanwhile was refused (`notReady`), so
    /// without this the replica became ready short of copies its peers had, and commits of them took its
    /// stock below zero (found by a 600 s `pygmy chaos` run). The first page is enough: restocks, prices
    /// and holds come whole with it, and the commits came from the order logs.
    private mutating func catchUp() {
        join.pending = Set(join.sources)
        guard !join.sources.isEmpty else { return becomeReady() }
        for source in join.sources {
            call(
                source,
                .snapshot(SnapshotRequest(limit: 1)),
                .join(attempt: join.attempt, .catchUp(source)),
                timeout: timing.resyncTimeout
            )
        }
    }

    private mutating func becomeReady() {
        join.active = false
        phase = .ready
        log(.info, "catalog replica ready (merged from \(join.sources.joined(separator: ", ")))")
    }

    /// A later page that failed (a lost message, a reset) is asked again, a few times in a row, before the
    /// attempt starts over: the pages merged so far stay merged (found by the simulator, seed 703449 in a
    /// 3+3 cluster: with a lossy network, a rejoin of many pages that started over at each lost page
    /// never finished).
    private mutating func retryPage(_ stage: JoinStage, _ peer: String, _ request: PeerRequest, _ result: CallResult) {
        join.pageFailures += 1
        guard join.pageFailures <= JoinProgress.pageRetries else {
            return retryJoin("\(stage) at \(peer): \(result) (\(JoinProgress.pageRetries) times)")
        }
        log(.debug, "rejoin: asking \(peer) again for a page that failed: \(result)")
        call(peer, request, .join(attempt: join.attempt, stage), timeout: timing.resyncTimeout)
    }

    private mutating func retryJoin(_ why: String) {
        join.active = false
        log(.info, "rejoin step failed: \(why); retrying")
        effects.append(.schedule(.join, after: timing.heartbeatInterval))
    }
}
