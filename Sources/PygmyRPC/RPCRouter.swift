import NIOCore
import PygmyWire

/// The table of methods a server serves. Build it, then hand it to `RPCServer`.
///
/// ```swift
/// var router = RPCRouter()
/// router.register(Echo.self) { request, context in request }
/// ```
public struct RPCRouter: Sendable {
    var handlers: [String: AnyRPCHandler] = [:]

    public init() {}

    /// Serves `method` with `handler`. The handler's thrown `RPCError` goes back to the caller as is; any
    /// other error becomes `internalError`. Registering a name twice replaces the earlier handler.
    public mutating func register<M: RPCMethod>(
        _ method: M.Type,
        _ handler: @escaping @Sendable (M.Request, RPCContext) async throws -> M.Response
    ) {
        precondition(!M.name.isEmpty && M.name.utf8.count <= 255, "method names are 1 to 255 bytes")
        handlers[M.name] = AnyRPCHandler { payload, context in
            let request: M.Request
            do {
                request = try BinaryDecoder().decode(M.Request.self, from: payload)
            } catch {
                throw RPCError(.invalidArgument, "cannot decode \(M.Request.self) for \(M.name): \(error)")
            }
            let response = try await handler(request, context)
            do {
                return try BinaryEncoder().encode(response)
            } catch {
                throw RPCError(.internalError, "cannot encode \(M.Response.self) for \(M.name): \(error)")
            }
        }
    }

    /// The names of the registered methods.
    public var methods: [String] { handlers.keys.sorted() }
}

/// A type-erased handler: request bytes in, response bytes out.
struct AnyRPCHandler: Sendable {
    let run: @Sendable (ByteBuffer, RPCContext) async throws -> [UInt8]
}
