/// Which catalog replicas take part in buys, numbered by epoch. A buy holds at every catalog member of
/// its epoch; a new epoch is chosen by a majority of the voters (single-decree Paxos per epoch,
/// `MembershipAcceptor` and `MembershipProposer`), so two sides of a partition can never both move on.
/// Epoch 1 is every catalog replica of the topology.
public struct Membership: Codable, Sendable, Hashable, CustomStringConvertible {
    public var epoch: UInt64
    /// Sorted by name.
    public var catalogs: [String]

    public init(epoch: UInt64, catalogs: [String]) {
        self.epoch = epoch
        self.catalogs = catalogs.sorted()
    }

    public func contains(_ catalog: String) -> Bool { catalogs.contains(catalog) }

    public var description: String { "epoch \(epoch) {\(catalogs.joined(separator: ", "))}" }
}

/// A proposal number: higher rounds win; the proposer's name breaks ties.
public struct Ballot: Codable, Sendable, Hashable, Comparable, CustomStringConvertible {
    public var round: UInt64
    public var proposer: String

    public init(round: UInt64, proposer: String) {
        self.round = round
        self.proposer = proposer
    }

    public static func < (a: Ballot, b: Ballot) -> Bool { (a.round, a.proposer) < (b.round, b.proposer) }
    public var description: String { "\(round).\(proposer)" }
}

/// Phase 1 of choosing epoch `current.epoch + 1`. `known` is the proposer's current membership (a
/// chosen value): an acceptor behind it adopts it first.
public struct PrepareRequest: Codable, Sendable, Hashable {
    public var ballot: Ballot
    public var known: Membership
    public init(ballot: Ballot, known: Membership) {
        self.ballot = ballot
        self.known = known
    }
}

/// Phase 2: accept `value` (for epoch `value.epoch`) under `ballot`.
public struct AcceptRequest: Codable, Sendable, Hashable {
    public var ballot: Ballot
    public var value: Membership
    public var known: Membership
    public init(ballot: Ballot, value: Membership, known: Membership) {
        self.ballot = ballot
        self.value = value
        self.known = known
    }
}

/// An acceptor's answer to either phase.
public struct VoteResponse: Codable, Sendable, Hashable {
    /// Whether it promised (phase 1) or accepted (phase 2).
    public var granted: Bool
    /// Its current (chosen) membership: a proposer behind it adopts it.
    public var current: Membership
    /// The highest ballot it promised, so a refused proposer can go higher.
    public var promised: Ballot?
    /// What it accepted for the next epoch, and under which ballot (phase 1).
    public var accepted: Membership?
    public var acceptedBallot: Ballot?

    public init(
        granted: Bool,
        current: Membership,
        promised: Ballot?,
        accepted: Membership?,
        acceptedBallot: Ballot?
    ) {
        self.granted = granted
        self.current = current
        self.promised = promised
        self.accepted = accepted
        self.acceptedBallot = acceptedBallot
    }
}

/// A voter's durable Paxos state for the next epoch, and the current membership. Every change must be
/// durable before the answer that follows from it is sent.
public struct MembershipAcceptor: Codable, Sendable, Hashable {
    public internal(set) var current: Membership
    public internal(set) var promised: Ballot?
    public internal(set) var accepted: Membership?
    public internal(set) var acceptedBallot: Ballot?

    public init(current: Membership) { self.current = current }

    /// Adopts a chosen membership newer than the current one. Returns whether it changed.
    @discardableResult
    public mutating func adopt(_ membership: Membership) -> Bool {
        guard membership.epoch > current.epoch else { return false }
        current = membership
        promised = nil
        accepted = nil
        acceptedBallot = nil
        return true
    }

    private var answer: VoteResponse {
        VoteResponse(
            granted: false,
            current: current,
            promised: promised,
            accepted: accepted,
            acceptedBallot: acceptedBallot
        )
    }

    /// Phase 1: promise not to accept lower ballots for the next epoch.
    public mutating func prepare(_ request: PrepareRequest) -> VoteResponse {
        adopt(request.known)
        guard request.known.epoch == current.epoch else { return answer }
        if let promised, request.ballot < promised { return answer }
        promised = request.ballot
        var response = answer
        response.granted = true
        return response
    }

    /// Phase 2: accept `value` unless a higher ballot was promised.
    public mutating func accept(_ request: AcceptRequest) -> VoteResponse {
        adopt(request.known)
        guard request.value.epoch == current.epoch + 1 else { return answer }
        if let promised, request.ballot < promised { return answer }
        promised = request.ballot
        accepted = request.value
        acceptedBallot = request.ballot
        var response = answer
        response.granted = true
        return response
    }

    /// Whether this voter vouches for `catalog`'s read lease: it is a member, and no value that leaves
    /// it out has been accepted here (once such a value is chosen, a majority refuses to vouch).
    public func vouches(for catalog: String) -> Bool {
        current.contains(catalog) && (accepted.map { $0.contains(catalog) } ?? true)
    }
}
