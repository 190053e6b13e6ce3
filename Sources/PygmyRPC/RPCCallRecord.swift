/// One call a server answered, as `RPCServer.Configuration.observeCall` reports it (for metrics).
public struct RPCCallRecord: Sendable, Hashable {
    /// The method called; `RPCCallRecord.unknownMethod` for a name the router does not serve, so a client
    /// cannot grow the set of names an observer keeps.
    public var method: String
    /// The error the call was answered with; nil for a success. A call cut off by its connection closing
    /// or by a cancel frame counts as `.cancelled`.
    public var error: RPCError.Code?
    /// From the call's start (after its hello, authorization and any wait for a free call slot) to its
    /// answer; zero for a call refused before it started.
    public var duration: Duration

    /// The method name reported for a method the router does not serve.
    public static let unknownMethod = "unknown"

    public init(method: String, error: RPCError.Code?, duration: Duration) {
        self.method = method
        self.error = error
        self.duration = duration
    }
}
