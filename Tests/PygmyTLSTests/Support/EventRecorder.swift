import NIOCore
import PygmyRPC
import PygmyTLS
import Synchronization

/// What the connections of a test server or client observed.
struct Observations: Sendable, CustomStringConvertible {
    var tlsErrors: [TLSError] = []
    var otherErrors: [String] = []
    var handshakes: [TLSHandshakeCompleted] = []
    var identities: [RPCPeerIdentity] = []
    var received = ByteBuffer()
    var activeCount = 0
    var inactiveCount = 0

    var receivedString: String { String(buffer: received) }

    var description: String {
        "errors: \(tlsErrors.map(\.message)) other: \(otherErrors) handshakes: \(handshakes.map(\.protocolVersion)) "
            + "identities: \(identities) received: \(received.readableBytes) bytes active: \(activeCount) inactive: \(inactiveCount)"
    }
}

/// Thread-safe collector of ``Observations``, with a polling wait for tests.
final class EventRecorder: Sendable {
    private let observations = Mutex(Observations())

    func update(_ body: (inout Observations) -> Void) {
        observations.withLock { body(&$0) }
    }

    var snapshot: Observations { observations.withLock { $0 } }

    /// Waits until `condition` holds, failing with everything observed so far if it does not within `timeout`.
    @discardableResult
    func wait(
        _ what: String,
        timeout: Duration = .seconds(10),
        until condition: (Observations) -> Bool
    ) async throws -> Observations {
        let deadline = ContinuousClock.now + timeout
        while true {
            let current = snapshot
            if condition(current) { return current }
            if ContinuousClock.now > deadline { throw WaitTimedOut(what: what, observed: current.description) }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

/// A test waited in vain.
struct WaitTimedOut: Error, CustomStringConvertible {
    var what: String
    var observed: String
    var description: String { "timed out waiting for \(what); observed \(observed)" }
}
