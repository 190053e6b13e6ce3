import PygmyBookstore

/// The order replica as a voter and as the proposer of membership changes: a catalog member that stays
/// silent is proposed for exclusion, and a catalog replica outside the membership that answers steadily
/// for re-admission. A change is chosen by a majority of the voters (every catalog and order replica),
/// so only a side of a partition with a majority can make one.
extension OrderReplica {
    /// The voters: every catalog and order replica, this one included.
    var voters: [String] { ([config.name] + peers.names(.catalog) + peers.names(.order)).sorted() }

    /// Whether a majority of the voters answers (this one counts).
    var canReachMajority: Bool {
        let reachable = voters.filter { $0 == config.name || peers.isUp($0, now: now) }
        return reachable.count >= voters.count / 2 + 1
    }

    mutating func adopted(_ previous: Membership) {
        let current = acceptor.current
        log(.info, "membership \(current) (was \(previous))")
        // A replica left out may still serve reads until its lease runs out: buys acknowledged without it
        // wait for that.
        if previous.catalogs.contains(where: { !current.contains($0) }) {
            activeAt = max(activeAt, now + timing.exclusionSettle)
        }
        proposal = nil
    }

    /// Every heartbeat: propose leaving out a catalog member that has been silent for a while, or
    /// re-admitting a catalog replica outside the membership that has answered for a while.
    mutating func reviewMembership() {
        let current = acceptor.current
        for catalog in peers.names(.catalog) {
            if peers.detector.isSuspected(catalog, now: now) {
                if silentSince[catalog] == nil { silentSince[catalog] = now }
                answeringSince.removeValue(forKey: catalog)
            } else {
                silentSince.removeValue(forKey: catalog)
                if peers.isUp(catalog, now: now) {
                    if answeringSince[catalog] == nil { answeringSince[catalog] = now }
                } else {
                    answeringSince.removeValue(forKey: catalog)
                }
            }
        }
        guard proposal == nil, now >= nextProposal, !recovering else { return }
        // One proposer at a time where possible: the first order replica by name that answers.
        if let first = peers.names(.order).first(where: { peers.isUp($0, now: now) }), first < config.name { return }
        var wish = current.catalogs
        if let silent = current.catalogs.first(where: {
            silentSince[$0].map { now - $0 >= timing.exclusionDelay } ?? false
        }),
            current.catalogs.count > 1
        {
            wish.removeAll { $0 == silent }
        } else if let back = peers.names(.catalog).first(where: {
            !current.contains($0) && answeringSince[$0].map { now - $0 >= timing.readmissionDelay } ?? false
        }) {
            wish.append(back)
        } else {
            return
        }
        guard canReachMajority else { return }
        propose(Membership(epoch: current.epoch + 1, catalogs: wish))
    }

    private mutating func propose(_ wish: Membership) {
        highestRound += 1
        var proposer = MembershipProposer(
            voters: voters,
            ballot: Ballot(round: highestRound, proposer: config.name),
            known: acceptor.current,
            wish: wish
        )
        log(.info, "proposing \(wish) (ballot \(proposer.ballot))")
        let prepare = proposer.prepare
        proposal = proposer
        for voter in voters where voter != config.name {
            call(
                voter,
                .prepare(prepare),
                .vote(voter, preparing: true, ballot: proposer.ballot),
                timeout: timing.callTimeout
            )
        }
        // This replica's own vote.
        let before = acceptor
        let own = acceptor.prepare(prepare)
        if acceptor != before { persistAcceptor() }
        step(proposer.received(from: config.name, own), &proposer)
    }

    /// An answer (nil: the call failed) to a phase of the running proposal.
    mutating func voted(_ voter: String, preparing: Bool, ballot: Ballot, _ answer: VoteResponse?) {
        guard var proposer = proposal, proposer.ballot == ballot, proposer.preparing == preparing else { return }
        step(proposer.received(from: voter, answer), &proposer)
    }

    private mutating func step(_ next: MembershipProposer.Step?, _ proposer: inout MembershipProposer) {
        highestRound = max(highestRound, proposer.highestRound)
        switch next {
        case nil:
            proposal = proposer
        case .accept(let request)?:
            proposal = proposer
            for voter in voters where voter != config.name {
                call(
                    voter,
                    .accept(request),
                    .vote(voter, preparing: false, ballot: proposer.ballot),
                    timeout: timing.callTimeout
                )
            }
            let before = acceptor
            let own = acceptor.accept(request)
            if acceptor != before { persistAcceptor() }
            if var current = proposal {
                step(current.received(from: config.name, own), &current)
            }
        case .chosen(let membership)?:
            proposal = nil
            log(.info, "chosen: \(membership)")
            adopt(membership)
            for voter in voters where voter != config.name {
                call(voter, .learn(membership), .release("learn"), timeout: timing.callTimeout)
            }
        case .abandoned(let why, let newer)?:
            proposal = nil
            log(.info, "membership proposal abandoned: \(why)")
            if let newer { adopt(newer) }
            // Back off by position, so two proposers do not keep pre-empting each other.
            let position = Int64((peers.names(.order) + [config.name]).sorted().firstIndex(of: config.name) ?? 0)
            nextProposal = now + timing.heartbeatInterval * (2 + position * 3)
        }
    }
}
