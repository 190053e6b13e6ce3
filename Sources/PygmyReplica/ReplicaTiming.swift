/// Every interval and timeout the node cores use, as `Duration`s: one configuration for the nodes (from
/// the topology), the simulator and the tests.
public struct ReplicaTiming: Sendable, Hashable {
    /// How often a node heartbeats each peer.
    public var heartbeatInterval: Duration = .milliseconds(200)
    /// How long a heartbeat may take before it counts as a (soft) failure.
    public var heartbeatTimeout: Duration { heartbeatInterval * 2 }
    /// A peer with no success for this long is down.
    public var failureTimeout: Duration { heartbeatInterval * 5 }
    /// A catalog replica asks about a hold older than this (the coordinator may have died).
    public var holdTimeout: Duration = .seconds(3)
    /// How long a call between replicas may take (holds, commits, aborts, replication).
    public var callTimeout: Duration = .seconds(2)
    /// How long resync calls may take (whole snapshots and logs).
    public var resyncTimeout: Duration = .seconds(4)
    /// How long a catalog replica waits for an order replica's answer about a stale hold.
    public var resolveTimeout: Duration = .seconds(1)
    /// How long an order replica's join barrier may wait for the buys that started without the joiner.
    public var joinBarrierTimeout: Duration = .seconds(8)
    /// Anti-entropy rounds (each pulls only from peers whose digest differs).
    public var antiEntropyInterval: Duration { heartbeatInterval * 5 }
    /// `AntiEntropyGate.maxInterval`.
    public var antiEntropyMaxInterval: Duration { heartbeatInterval * 50 }
    /// Redelivery rounds of undelivered commits.
    public var redeliveryInterval: Duration { heartbeatInterval * 2 }
    /// `RedeliverySchedule.grace`.
    public var redeliveryGrace: Duration { heartbeatInterval * 10 }
    /// A catalog replica's read lease: it serves reads only this long after a majority of voters last
    /// vouched for it (heartbeats renew it).
    public var leaseDuration: Duration { heartbeatInterval * 5 }
    /// After a membership that leaves a catalog replica out is adopted, buys wait this long before using
    /// it: the replica left out has stopped serving reads by then (its lease, with room for clock drift).
    public var exclusionSettle: Duration { leaseDuration * 11 / 10 + heartbeatInterval }
    /// A catalog member silent (suspected) this long is proposed for exclusion.
    public var exclusionDelay: Duration { heartbeatInterval * 2 }
    /// A catalog replica outside the membership that has answered for this long is proposed for
    /// re-admission.
    public var readmissionDelay: Duration { heartbeatInterval * 5 }
    /// A catalog replica folds commits into per-item counts once they were decided this long ago and
    /// every replica agrees (`CatalogReplica.reviewFold`); nil: never. Safety does not depend on it (the
    /// agreement does); it leaves time for commits in flight to arrive, so the digests agree.
    public var foldRetention: Duration? = .seconds(10)
    /// Fold horizons are multiples of this (microseconds since 1970), so replicas propose the same one.
    public var foldGrid: Duration = .seconds(1)
    /// Orders per page of a sync (`order.list` with `limit`: a rejoin, a recovery, an anti-entropy pull).
    public var syncPageOrders = 10_000
    /// How long the frontend retries a buy whose outcome it does not know (less than a client's usual
    /// 10 s timeout, so the client hears why rather than a timeout).
    public var buyDeadline: Duration = .seconds(6)
    /// The frontend's pause between rounds of buy retries.
    public var buyRetryPause: Duration = .milliseconds(20)
    /// How long the frontend waits for a read or an admin write at one replica.
    public var frontendCallTimeout: Duration = .seconds(5)

    public init() {}

    /// The defaults with `change` applied.
    public static func defaults(_ change: (inout ReplicaTiming) -> Void) -> ReplicaTiming {
        var timing = ReplicaTiming()
        change(&timing)
        return timing
    }
}

extension Duration {
    /// Whole microseconds (rounded down).
    public var microseconds: Int64 {
        components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000
    }
}
