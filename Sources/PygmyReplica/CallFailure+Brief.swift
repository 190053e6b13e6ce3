import PygmyBookstore

extension CallFailure {
    /// The failure in a few words for an operator's message ("down (connection refused)"), without the
    /// transport's own text, which `description` keeps for logs.
    public var brief: String {
        switch self {
        case .refused: "is down (connection refused)"
        case .unreachable: "is not answering"
        case .lost: "lost the connection"
        case .error(let error): "answered \(error.code): \(error.message)"
        }
    }
}
