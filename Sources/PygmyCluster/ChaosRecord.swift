import Foundation
import PygmyBookstore
import PygmyRPC
import Synchronization

/// What a chaos client was told about one buy.
enum ChaosOutcome: Sendable, Hashable {
    /// The buy succeeded: this order number, this total.
    case acknowledged(order: Int, cost: Int)
    /// A definite refusal (out of stock, unknown item): the buy must never be in the log.
    case refused(BookstoreError.Code)
    /// The request never left the client (no connection to the frontend): the buy must not be in the log.
    case notSent(String)
    /// Timeout, lost connection, unavailable, in progress…: the buy may or may not have happened.
    case unknown(String)

    /// Classifies the result of a `Frontend.Buy` call.
    static func classify(_ result: Result<BuyResponse, any Error>) -> ChaosOutcome {
        switch result {
        case .success(let response):
            return .acknowledged(order: response.order, cost: response.cost)
        case .failure(let error as RPCError):
            if let code = BookstoreError.Code(rawValue: error.code.rawValue) {
                switch code {
                case .outOfStock, .unknownItem, .invalidValue: return .refused(code)
                case .unknownTopic, .inProgress, .notReady, .unavailable, .requestIdReused, .staleEpoch:
                    return .unknown("\(code)")
                }
            }
            return .unknown("\(error.code)")
        case .failure(let error as TransportError):
            switch error.kind {
            // Calls are written only on an established connection, after the handshake.
            case .connectFailed, .backingOff, .handshakeFailed, .notPygmyServer, .wrongCluster, .shutdown:
                return .notSent(error.kind.rawValue)
            case .connectionClosed, .keepaliveTimeout, .protocolViolation: return .unknown(error.kind.rawValue)
            }
        case .failure(is ChaosStuckCall):
            return .unknown("lostCall")
        case .failure(let error):
            return .unknown("\(type(of: error))")
        }
    }

    var isAcknowledged: Bool { if case .acknowledged = self { true } else { false } }
    var isUnknown: Bool { if case .unknown = self { true } else { false } }
    var isNotSent: Bool { if case .notSent = self { true } else { false } }
    var refusal: BookstoreError.Code? { if case .refused(let code) = self { code } else { nil } }
}

/// One buy as a client issued it.
struct ChaosBuy: Sendable {
    var requestId: String
    var client: Int
    var item: ItemID
    var quantity: Int
    var outcome: ChaosOutcome
    /// Seconds since the start of the run.
    var sentAt: Double
    var answeredAt: Double
}

/// One restock the run issued (through the frontend, as admin).
struct ChaosRestock: Sendable {
    var opId: String
    var item: ItemID
    var count: Int
    /// The frontend acknowledged it (during the run or when retried at the end).
    var confirmed: Bool
}

/// One injected crash and its recovery.
struct ChaosFault: Sendable, Codable {
    var node: String
    /// Seconds since the start of the run.
    var killedAt: Double
    var restartedAt: Double?
    var readyAt: Double?
    var error: String?

    /// Kill → the restarted process reports `ready`.
    var recoverySeconds: Double? { readyAt.map { $0 - killedAt } }
    /// Restart → `ready`: the node's own resynchronisation time.
    var resyncSeconds: Double? {
        guard let readyAt, let restartedAt else { return nil }
        return readyAt - restartedAt
    }
}

/// Everything the run records, shared by the clients, the restocker, the fault loop and the sampler.
public final class ChaosLedger: Sendable {
    let origin = ContinuousClock.now
    private let buyLog = Mutex<[ChaosBuy]>([])
    private let restockLog = Mutex<[ChaosRestock]>([])
    private let faultLog = Mutex<[ChaosFault]>([])
    private let problems = Mutex<[String]>([])
    private let notes = Mutex<[String]>([])
    private let lookupCounts = Mutex<(ok: Int, failed: Int)>((0, 0))
    private let samples = Mutex<Int>(0)
    /// Calls that never returned, by "node method".
    private let stuckCalls = Mutex<[String: Int]>([:])
    /// Negative stock seen on replicas that were not serving (joining), per replica: count and lowest value.
    private let negativeWhileJoining = Mutex<[String: (count: Int, lowest: Int)]>([:])
    /// Nodes the fault loop has killed and not yet seen ready again.
    private let down = Mutex<Set<String>>([])
    private let printer: @Sendable (String) -> Void

    /// A ledger that prints progress lines and anomalies with `printer` as they happen.
    public init(printer: @escaping @Sendable (String) -> Void) { self.printer = printer }

    /// Seconds since the start of the run.
    var now: Double { (ContinuousClock.now - origin).seconds }

    func say(_ line: String) { printer(line) }

    /// Debug output on stderr, with `PYGMY_CHAOS_TRACE=1` in the environment.
    static let tracing = ProcessInfo.processInfo.environment["PYGMY_CHAOS_TRACE"] != nil
    func trace(_ line: @autoclosure () -> String) {
        guard Self.tracing else { return }
        FileHandle.standardError.write(Data(String(format: "  . t=%6.1fs  %@\n", now, line()).utf8))
    }

    func record(_ buy: ChaosBuy) { buyLog.withLock { $0.append(buy) } }
    func record(_ restock: ChaosRestock) { restockLog.withLock { $0.append(restock) } }
    func confirmRestock(_ opId: String) {
        restockLog.withLock { all in
            for index in all.indices where all[index].opId == opId { all[index].confirmed = true }
        }
    }
    func lookup(ok: Bool) { lookupCounts.withLock { if ok { $0.ok += 1 } else { $0.failed += 1 } } }
    func sampled() { samples.withLock { $0 += 1 } }
    func stuck(_ call: ChaosStuckCall, on node: String) {
        stuckCalls.withLock { $0["\(node) \(call.method)", default: 0] += 1 }
        printer(String(format: "  ! t=%6.1fs  a call to %@ was lost: %@", now, node, call.description))
    }
    var stuck: [String: Int] { stuckCalls.withLock { $0 } }
    func negativeWhileNotServing(_ name: String, _ onHand: Int) {
        negativeWhileJoining.withLock { all in
            let old = all[name] ?? (0, 0)
            all[name] = (old.count + 1, min(old.lowest, onHand))
        }
    }
    var negativeWhileNotServing: [String: (count: Int, lowest: Int)] { negativeWhileJoining.withLock { $0 } }

    /// An invariant violation.
    func anomaly(_ text: String) {
        let fresh = problems.withLock { all -> Bool in
            guard !all.contains(text) else { return false }
            all.append(text)
            return true
        }
        if fresh { printer(String(format: "  ! t=%6.1fs  ANOMALY: %@", now, text)) }
    }

    /// Something worth knowing that is not an invariant violation.
    func note(_ text: String) { notes.withLock { if !$0.contains(text) { $0.append(text) } } }

    func faultStarted(_ fault: ChaosFault) -> Int {
        faultLog.withLock {
            $0.append(fault)
            return $0.count - 1
        }
    }
    func updateFault(_ index: Int, _ change: (inout ChaosFault) -> Void) { faultLog.withLock { change(&$0[index]) } }

    func markDown(_ name: String) { down.withLock { _ = $0.insert(name) } }
    func markRecovered(_ name: String) { down.withLock { _ = $0.remove(name) } }
    var currentlyDown: Set<String> { down.withLock { $0 } }

    var buys: [ChaosBuy] { buyLog.withLock { $0 } }
    var restocks: [ChaosRestock] { restockLog.withLock { $0 } }
    var faults: [ChaosFault] { faultLog.withLock { $0 } }
    var anomalies: [String] { problems.withLock { $0 } }
    var observations: [String] { notes.withLock { $0 } }
    var lookups: (ok: Int, failed: Int) { lookupCounts.withLock { $0 } }
    var sampleCount: Int { samples.withLock { $0 } }
}
