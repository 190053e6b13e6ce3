import PygmyRPC
import Synchronization

/// A call that neither answered nor failed long after its own deadline: the RPC client lost it. The chaos
/// runner counts these (they are hangs a real client would suffer) and moves on instead of hanging too.
struct ChaosStuckCall: Error, CustomStringConvertible {
    var method: String
    var limit: Duration
    var description: String { "\(method): no answer and no error after \(limit) (the call's deadline never fired)" }
}

/// Resumes a continuation at most once, from whichever of two tasks gets there first.
private final class ChaosOnce<T: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<T, any Error>?>(nil)

    func install(_ c: CheckedContinuation<T, any Error>) { continuation.withLock { $0 = c } }

    func resume(_ result: Result<T, any Error>) {
        let c = continuation.withLock { c -> CheckedContinuation<T, any Error>? in
            defer { c = nil }
            return c
        }
        c?.resume(with: result)
    }
}

extension RPCClient {
    /// `call(method, request, timeout:)`, but guaranteed to return: if neither an answer nor an error has
    /// come `grace` after `timeout`, throws `ChaosStuckCall` and leaves the lost call behind.
    func chaosCall<M: RPCMethod>(
        _ method: M.Type,
        _ request: M.Request,
        timeout: Duration,
        grace: Duration = .seconds(5)
    ) async throws -> M.Response {
        let once = ChaosOnce<M.Response>()
        return try await withCheckedThrowingContinuation { continuation in
            once.install(continuation)
            let timer = Task {
                try await Task.sleep(for: timeout + grace)
                once.resume(.failure(ChaosStuckCall(method: M.name, limit: timeout + grace)))
            }
            Task {
                do {
                    let response = try await self.call(method, request, timeout: timeout)
                    timer.cancel()
                    once.resume(.success(response))
                } catch {
                    timer.cancel()
                    once.resume(.failure(error))
                }
            }
        }
    }
}
