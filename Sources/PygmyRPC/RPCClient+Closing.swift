extension RPCClient {
    /// Runs `body` with this client, then closes it, whether `body` returned or threw.
    public func closing<T>(after body: (RPCClient) async throws -> T) async throws -> T {
        do {
            let result = try await body(self)
            await close()
            return result
        } catch {
            await close()
            throw error
        }
    }
}
