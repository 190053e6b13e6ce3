/// A remote procedure: its wire name and its request and response types. No code generation: a method
/// is a type, usually an empty enum, that both client and server import.
///
/// ```swift
/// enum Echo: RPCMethod {
///     typealias Request = String
///     typealias Response = String
///     static let name = "demo.echo"
/// }
/// let reply = try await client.call(Echo.self, "hi", timeout: .seconds(1))
/// ```
public protocol RPCMethod: Sendable {
    associatedtype Request: Codable & Sendable
    associatedtype Response: Codable & Sendable
    /// The method identifier carried in request frames: 1 to 255 bytes of UTF-8, conventionally
    /// `service.operation`.
    static var name: String { get }
}

/// A topic of server-to-client push messages (for example cache invalidations).
public protocol RPCPushTopic: Sendable {
    associatedtype Message: Codable & Sendable
    /// The topic name carried in push frames: 1 to 255 bytes of UTF-8.
    static var name: String { get }
}
