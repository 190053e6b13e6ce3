import ArgumentParser
import Foundation

/// Prints results as text or as exactly one JSON object, and failures likewise.
struct Output {
    let json: Bool

    func emit<T: Encodable>(_ value: T, text: () -> String) {
        if json {
            print(Self.encode(value))
        } else {
            print(text())
        }
    }

    /// Reports `error` and returns the exit code to leave with.
    func fail(_ error: any Error) -> ExitCode {
        let failure = CommandFailure(error)
        if json {
            print(Self.encode(["error": ["code": failure.code, "message": failure.message]]))
        } else {
            FileHandle.standardError.write(Data("error: \(failure.message)\n".utf8))
        }
        return failure.exit
    }

    static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(value)) ?? Data("{}".utf8), as: UTF8.self)
    }
}

extension ParsableCommand {
    /// Runs `body`, turning any failure into the documented message and exit code.
    func reporting(json: Bool, _ body: (Output) async throws -> Void) async throws {
        let output = Output(json: json)
        do {
            try await body(output)
        } catch {
            throw output.fail(error)
        }
    }
}
