import ArgumentParser

struct Chaos: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Crash replicas while clients buy, then check every invariant.")

    func run() async throws {
        throw ValidationError("pygmy chaos is not built yet")
    }
}
