import ArgumentParser
import Foundation
import PygmyBookstore
import PygmyCluster
import PygmyRPC

/// The documented exit codes (see `pygmy --help` and README).
enum Exit {
    static let failure = ExitCode(1)
    static let notFound = ExitCode(3)
    static let outOfStock = ExitCode(4)
    static let unreachable = ExitCode(5)
    static let security = ExitCode(6)
    static let busy = ExitCode(7)
    static let invalidArguments = ExitCode(64)
}

/// A failure as the command reports it: a stable code name, a message and an exit code.
struct CommandFailure: Error {
    var code: String
    var message: String
    var exit: ExitCode

    init(code: String, message: String, exit: ExitCode) {
        self.code = code
        self.message = message
        self.exit = exit
    }

    /// The one wording of every exit-7 failure: "unavailable: what happened; retry later".
    static func retryLater(_ code: String, _ message: String) -> String {
        let text = message.hasPrefix(code + ":") ? message : "\(code): \(message)"
        return text.contains("retry") ? text : text + "; retry later"
    }

    /// Classifies any error thrown by a call.
    init(_ error: any Error) {
        switch error {
        case let failure as CommandFailure:
            self = failure
        case let failure as ClusterFailure:
            let exit: ExitCode
            switch failure.exit {
            case .failure: exit = Exit.failure
            case .unreachable: exit = Exit.unreachable
            case .security: exit = Exit.security
            case .usage: exit = Exit.invalidArguments
            }
            self.init(code: failure.code, message: failure.message, exit: exit)
        case let rpc as RPCError:
            if let app = BookstoreError.Code(rawValue: rpc.code.rawValue) {
                let exit: ExitCode
                switch app {
                case .outOfStock: exit = Exit.outOfStock
                case .unknownItem, .unknownTopic: exit = Exit.notFound
                case .invalidValue, .requestIdReused: exit = Exit.invalidArguments
                case .inProgress, .notReady, .unavailable, .staleEpoch: exit = Exit.busy
                }
                let message = exit == Exit.busy ? Self.retryLater("\(app)", rpc.message) : rpc.message
                self.init(code: "\(app)", message: message, exit: exit)
            } else {
                let exit: ExitCode
                switch rpc.code {
                case .permissionDenied, .unauthenticated: exit = Exit.security
                case .invalidArgument: exit = Exit.invalidArguments
                case .unavailable, .deadlineExceeded: exit = Exit.busy
                default: exit = Exit.failure
                }
                let hint = rpc.code == .unimplemented ? " (is that address a Pygmy frontend?)" : ""
                let message =
                    exit == Exit.busy ? Self.retryLater("\(rpc.code)", rpc.message) : rpc.message + hint
                self.init(code: "\(rpc.code)", message: message, exit: exit)
            }
        case let transport as TransportError where transport.kind == .notPygmyServer:
            self.init(
                code: "notPygmyServer",
                message: transport.message + "; check --frontend, --cluster or PYGMY_FRONTEND",
                exit: Exit.unreachable
            )
        case let transport as TransportError where transport.kind == .wrongCluster:
            self.init(
                code: "wrongCluster",
                message: transport.message + ": check --cluster/--frontend (or PYGMY_CLUSTER/PYGMY_FRONTEND)",
                exit: Exit.unreachable
            )
        case let transport as TransportError
        where transport.kind == .protocolViolation && transport.message.hasPrefix("frameTooLarge"):
            self.init(
                code: "answerTooLarge",
                message: "the answer is too large for this client ("
                    + transport.message.dropFirst("frameTooLarge: ".count)
                    + "); ask for less, for example `orders --after N`",
                exit: Exit.failure
            )
        case let transport as TransportError:
            let text = "\(transport)"
            let tls =
                transport.kind == .handshakeFailed || text.localizedCaseInsensitiveContains("tls")
                || text.localizedCaseInsensitiveContains("certificate")
            let hint: String
            switch transport.kind {
            case .connectFailed, .backingOff: hint = " (is the cluster running? try `pygmy cluster up`)"
            case .connectionClosed:
                hint = " (if the cluster uses TLS, pass --cert, --key and --ca, or --cluster DIR)"
            default: hint = ""
            }
            self.init(
                code: tls ? "tlsFailure" : "unreachable",
                message: transport.message + (tls ? "" : hint),
                exit: tls ? Exit.security : Exit.unreachable
            )
        case let validation as ValidationError:
            self.init(code: "invalidArguments", message: validation.message, exit: Exit.invalidArguments)
        case let listen as RPCListenError:
            self.init(
                code: listen.errno == EADDRINUSE ? "addressInUse" : "cannotListen",
                message: "\(listen)",
                exit: Exit.failure
            )
        default:
            if let file = FileFailure(error) {
                self.init(code: "fileError", message: file.message, exit: Exit.failure)
            } else {
                self.init(code: "error", message: "\(error)", exit: Exit.failure)
            }
        }
    }
}
