import PygmyBookstore
import PygmyReplica
import Testing

/// Single-decree Paxos for each membership epoch (PROTOCOL.md §6.6): the acceptor's and the proposer's
/// decisions, driven by hand, including the schedules where a value may already be chosen.
@Suite struct MembershipTests {
    static let epoch1 = Membership(epoch: 1, catalogs: ["catalog-1", "catalog-2"])
    static let voters = ["catalog-1", "catalog-2", "order-1", "order-2"]

    func ballot(_ round: UInt64, _ proposer: String = "order-1") -> Ballot { Ballot(round: round, proposer: proposer) }

    @Test("§6.6 a voter promises only ballots no lower than one it promised")
    func promises() {
        var acceptor = MembershipAcceptor(current: Self.epoch1)
        #expect(acceptor.prepare(PrepareRequest(ballot: ballot(2), known: Self.epoch1)).granted)
        #expect(!acceptor.prepare(PrepareRequest(ballot: ballot(1, "order-2"), known: Self.epoch1)).granted)
        let refused = acceptor.accept(
            AcceptRequest(ballot: ballot(1), value: Membership(epoch: 2, catalogs: ["catalog-2"]), known: Self.epoch1)
        )
        #expect(!refused.granted && refused.promised == ballot(2))
    }

    @Test("§6.6 a promise reports what the voter accepted, and the proposer must propose it again")
    func anAcceptedValueIsProposedAgain() {
        var a = MembershipAcceptor(current: Self.epoch1)
        let leaveOut2 = Membership(epoch: 2, catalogs: ["catalog-1"])
        // order-2 got catalog-1 to accept "leave out catalog-2" under ballot 1, then went away.
        _ = a.prepare(PrepareRequest(ballot: ballot(1, "order-2"), known: Self.epoch1))
        #expect(a.accept(AcceptRequest(ballot: ballot(1, "order-2"), value: leaveOut2, known: Self.epoch1)).granted)
        // order-1 now wants to leave out catalog-1 instead, with a higher ballot.
        var proposer = MembershipProposer(
            voters: Self.voters,
            ballot: ballot(2),
            known: Self.epoch1,
            wish: Membership(epoch: 2, catalogs: ["catalog-2"])
        )
        var b = MembershipAcceptor(current: Self.epoch1)
        var c = MembershipAcceptor(current: Self.epoch1)
        #expect(proposer.received(from: "catalog-1", a.prepare(proposer.prepare)) == nil)
        #expect(proposer.received(from: "order-1", b.prepare(proposer.prepare)) == nil)
        guard case .accept(let request)? = proposer.received(from: "order-2", c.prepare(proposer.prepare)) else {
            Issue.record("three promises of four voters are a majority")
            return
        }
        #expect(request.value == leaveOut2, "a value that may have been chosen must be proposed again")
        _ = b
        _ = c
    }

    @Test("§6.6 a value is chosen with a majority of acceptances, not fewer")
    func chosenWithAMajority() {
        let wish = Membership(epoch: 2, catalogs: ["catalog-2"])
        var proposer = MembershipProposer(voters: Self.voters, ballot: ballot(1), known: Self.epoch1, wish: wish)
        var acceptors = Dictionary(
            uniqueKeysWithValues: Self.voters.map { ($0, MembershipAcceptor(current: Self.epoch1)) }
        )
        var accept: AcceptRequest?
        for voter in ["order-1", "order-2", "catalog-2"] {
            if case .accept(let request)? = proposer.received(from: voter, acceptors[voter]!.prepare(proposer.prepare))
            {
                accept = request
            }
        }
        guard let accept else {
            Issue.record("no accept after a majority of promises")
            return
        }
        #expect(proposer.received(from: "order-1", acceptors["order-1"]!.accept(accept)) == nil)
        #expect(proposer.received(from: "order-2", acceptors["order-2"]!.accept(accept)) == nil)
        #expect(proposer.received(from: "catalog-2", acceptors["catalog-2"]!.accept(accept)) == .chosen(wish))
    }

    @Test("§6.6 a side without a majority cannot choose")
    func aMinorityCannotChoose() {
        var proposer = MembershipProposer(
            voters: Self.voters,
            ballot: ballot(1),
            known: Self.epoch1,
            wish: Membership(epoch: 2, catalogs: ["catalog-1"])
        )
        var mine = MembershipAcceptor(current: Self.epoch1)
        var peer = MembershipAcceptor(current: Self.epoch1)
        #expect(proposer.received(from: "order-1", mine.prepare(proposer.prepare)) == nil)
        #expect(proposer.received(from: "catalog-1", peer.prepare(proposer.prepare)) == nil)
        #expect(proposer.received(from: "order-2", nil) == nil)
        guard case .abandoned(_, nil)? = proposer.received(from: "catalog-2", nil) else {
            Issue.record("two of four voters must not choose a membership")
            return
        }
    }

    @Test("§6.6 a voter that is behind adopts the proposer's membership; a proposer behind a voter adopts its")
    func whoeverIsBehindAdopts() {
        let epoch2 = Membership(epoch: 2, catalogs: ["catalog-2"])
        var behind = MembershipAcceptor(current: Self.epoch1)
        _ = behind.prepare(PrepareRequest(ballot: ballot(1), known: epoch2))
        #expect(behind.current == epoch2)
        var proposer = MembershipProposer(
            voters: Self.voters,
            ballot: ballot(1),
            known: Self.epoch1,
            wish: Membership(epoch: 2, catalogs: ["catalog-1"])
        )
        var ahead = MembershipAcceptor(current: epoch2)
        #expect(
            proposer.received(from: "catalog-2", ahead.prepare(proposer.prepare))
                == .abandoned("catalog-2 is at \(epoch2)", adopt: epoch2)
        )
    }

    @Test("§6.6 a voter vouches for a catalog's read lease only while it and any accepted value list it")
    func vouching() {
        var acceptor = MembershipAcceptor(current: Self.epoch1)
        #expect(acceptor.vouches(for: "catalog-1"))
        _ = acceptor.accept(
            AcceptRequest(ballot: ballot(1), value: Membership(epoch: 2, catalogs: ["catalog-2"]), known: Self.epoch1)
        )
        #expect(!acceptor.vouches(for: "catalog-1"), "once it accepted a value without catalog-1 it must stop")
        #expect(acceptor.vouches(for: "catalog-2"))
    }
}
