import PygmyBookstore
import PygmyRPC
import PygmyReplica
import Testing

@testable import PygmyNodes

/// The one mapping from what an RPC call threw to the failure a node core acts on.
@Suite struct CallFailureMappingTests {
    @Test("refused connects, and the backoff after one, prove the peer is down")
    func refusals() {
        #expect(CallFailure(TransportError(.connectFailed, "refused", refused: true)) == .refused("refused"))
        #expect(CallFailure(TransportError(.backingOff, "after refusal", refused: true)).provesDown)
    }

    @Test("timeouts, failed handshakes and keepalive timeouts are unreachable, not down")
    func unreachable() {
        for error in [
            TransportError(.connectFailed, "connect timeout"), TransportError(.backingOff, "after a timeout"),
            TransportError(.handshakeFailed, "no hello"), TransportError(.keepaliveTimeout, "silent"),
        ] {
            let failure = CallFailure(error)
            #expect(failure == .unreachable(error.message))
            #expect(!failure.provesDown)
        }
        guard case .unreachable = CallFailure(RPCError(.deadlineExceeded, "late")) else {
            Issue.record("a passed deadline must be unreachable")
            return
        }
    }

    @Test("a connection lost during the call, or a server going away, is lost")
    func lost() {
        #expect(CallFailure(TransportError(.connectionClosed, "closed")) == .lost("closed"))
        guard case .lost = CallFailure(RPCError(.unavailable, "going away")) else {
            Issue.record("error 14 must be lost")
            return
        }
    }

    @Test("a bookstore error is the peer's answer")
    func answered() {
        #expect(
            CallFailure(RPCError(RPCError.Code(rawValue: 1001), "none left"))
                == .error(BookstoreError(.outOfStock, "none left"))
        )
        guard case .error(let error) = CallFailure(RPCError(.internalError, "bug")) else {
            Issue.record("another RPC error must be an answered error")
            return
        }
        #expect(error.code == .unavailable && error.message.contains("bug"))
    }
}
