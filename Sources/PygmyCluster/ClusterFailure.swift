/// A failure of local cluster management (a busy port, a node that will not start, certificates that
/// cannot be made, a cluster that never becomes healthy), as the `pygmy` command reports it: a stable code
/// name, a message for people, and the kind of exit it maps to.
public struct ClusterFailure: Error, Sendable, CustomStringConvertible {
    /// Which documented exit code the command leaves with.
    public enum Exit: Sendable {
        /// 1: something failed.
        case failure
        /// 5: the cluster did not answer (or not healthily).
        case unreachable
        /// 6: TLS set-up failed.
        case security
        /// 64: the arguments cannot work (too many replicas, ports past 65535).
        case usage
    }

    /// A stable name for scripts, for example `portInUse`.
    public var code: String
    public var message: String
    public var exit: Exit

    public init(code: String, message: String, exit: Exit) {
        self.code = code
        self.message = message
        self.exit = exit
    }

    public var description: String { message }
}
