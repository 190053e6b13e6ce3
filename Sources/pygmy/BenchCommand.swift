import ArgumentParser

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the original store's performance experiments.")

    func run() async throws {
        throw ValidationError("pygmy bench is not built yet")
    }
}
