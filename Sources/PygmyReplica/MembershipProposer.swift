import PygmyBookstore

/// One attempt to choose the next membership (single-decree Paxos for epoch `known.epoch + 1`), as a
/// pure state machine. The order replica core runs it: it sends what `start` and `received` return to
/// every voter (itself included) and reports each answer, or a failed call, back.
public struct MembershipProposer: Sendable {
    public enum Step: Sendable, Hashable {
        /// Send this accept to every voter.
        case accept(AcceptRequest)
        /// The value is chosen: adopt it and tell everyone.
        case chosen(Membership)
        /// This attempt cannot succeed (`adopt`: a newer membership an acceptor reported).
        case abandoned(String, adopt: Membership?)
    }

    enum Phase: Sendable {
        case preparing
        case accepting(Membership)
        case done
    }

    public let voters: [String]
    public let ballot: Ballot
    public let known: Membership
    public let wish: Membership
    var phase = Phase.preparing
    var promises: [String: VoteResponse] = [:]
    var acceptances: Set<String> = []
    var refusals: Set<String> = []
    /// The highest round any acceptor promised, for the next attempt.
    public private(set) var highestRound: UInt64

    var majority: Int { voters.count / 2 + 1 }

    public init(voters: [String], ballot: Ballot, known: Membership, wish: Membership) {
        precondition(wish.epoch == known.epoch + 1, "a proposal is for the next epoch")
        self.voters = voters.sorted()
        self.ballot = ballot
        self.known = known
        self.wish = wish
        self.highestRound = ballot.round
    }

    /// Phase 1's request.
    public var prepare: PrepareRequest { PrepareRequest(ballot: ballot, known: known) }

    /// Whether the attempt is in phase 1 (`true`) or 2 (`false`), for matching answers to phases.
    public var preparing: Bool { if case .preparing = phase { true } else { false } }

    /// An answer (or nil: the call failed) from `voter` to the current phase's request.
    public mutating func received(from voter: String, _ answer: VoteResponse?) -> Step? {
        guard voters.contains(voter) else { return nil }
        if let answer {
            if let promised = answer.promised { highestRound = max(highestRound, promised.round) }
            if answer.current.epoch > known.epoch {
                phase = .done
                return .abandoned("\(voter) is at \(answer.current)", adopt: answer.current)
            }
        }
        switch phase {
        case .done:
            return nil
        case .preparing:
            if let answer, answer.granted {
                promises[voter] = answer
            } else {
                refusals.insert(voter)
            }
            if promises.count >= majority {
                // A value some acceptor may already have accepted must be proposed again (the highest
                // ballot's): it may have been chosen.
                let earlier = promises.values
                    .filter { $0.accepted?.epoch == wish.epoch && $0.acceptedBallot != nil }
                    .max { $0.acceptedBallot! < $1.acceptedBallot! }
                let value = earlier?.accepted ?? wish
                phase = .accepting(value)
                refusals = []
                return .accept(AcceptRequest(ballot: ballot, value: value, known: known))
            }
        case .accepting(let value):
            if let answer, answer.granted {
                acceptances.insert(voter)
                if acceptances.count >= majority {
                    phase = .done
                    return .chosen(value)
                }
            } else {
                refusals.insert(voter)
            }
        }
        if refusals.count > voters.count - majority {
            phase = .done
            return .abandoned("no majority of \(voters.count) voters took ballot \(ballot)", adopt: nil)
        }
        return nil
    }
}
