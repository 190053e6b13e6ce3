import Foundation
import NIOCore
import PygmyBookstore
import PygmyNodes
import PygmyRPC
import PygmyWire
import Testing

/// Where the fuzzing files live, found from this file's path.
enum FuzzFiles {
    /// Tests/PygmyFuzzTests.
    static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let repository = testsDirectory.deletingLastPathComponent().deletingLastPathComponent()
    /// Saved inputs that once crashed, leaked or hung a target: fuzz/regressions/TARGET/NAME (outside this
    /// directory: SwiftPM would warn about files of unknown type in a target).
    static let regressions = repository.appendingPathComponent("fuzz/regressions")
    static let vectors = repository.appendingPathComponent("Protocol/vectors").path

    static func files(in directory: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { !$0.hasPrefix(".") && !$0.hasSuffix(".expect") && !$0.hasSuffix(".md") }.sorted()
            .map { directory.appendingPathComponent($0) }
    }

    /// Every saved regression input, by target.
    static func regressionInputs() -> [RegressionInput] {
        FuzzTarget.allCases.flatMap { target in
            files(in: regressions.appendingPathComponent(target.rawValue)).map {
                RegressionInput(target: target.rawValue, name: $0.lastPathComponent, path: $0.path)
            }
        }
    }

    /// The seed corpus (fuzz/corpus/TARGET) and, when present, what fuzzing found (fuzz/corpus-work/TARGET).
    static func corpus(_ target: FuzzTarget) -> [URL] {
        files(in: repository.appendingPathComponent("fuzz/corpus/\(target.rawValue)"))
            + files(in: repository.appendingPathComponent("fuzz/corpus-work/\(target.rawValue)"))
    }
}

/// One saved input. What it must produce: `NAME.expect` beside it holds `rejected` (the default: the input
/// must be refused with an error), `accepted`, or `any` (only "no crash").
struct RegressionInput: Sendable, Codable, CustomTestStringConvertible {
    var target: String
    var name: String
    var path: String

    var testDescription: String { "\(target)/\(name)" }

    var expectation: String {
        let text = try? String(contentsOfFile: path + ".expect", encoding: .utf8)
        return text?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "rejected"
    }
}

extension FuzzExitTests {
    @Suite("Fuzz regressions")
    struct FuzzRegressionTests {
        /// Each input libFuzzer saved (and fuzz/run.sh copied to fuzz/regressions/) runs in a child process first,
        /// so a crash fails this test instead of killing the test run; then in this process, to check the outcome.
        @Test("saved fuzz input does not crash", arguments: FuzzFiles.regressionInputs())
        func savedInput(_ input: RegressionInput) async throws {
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: input.path)))
            let target = input.target
            let survived = await #expect(processExitsWith: .success, "\(input.testDescription) crashed") {
                [bytes = bytes as [UInt8], target = target as String] in
                _ = FuzzTarget(rawValue: target)!.run(bytes)
            }
            guard survived != nil else { return }
            let outcome = FuzzTarget(rawValue: target)!.run(bytes)
            switch input.expectation {
            case "rejected": #expect(outcome.rejected, "expected an error, got \(outcome)")
            case "accepted": #expect(!outcome.rejected, "expected it to be accepted, got \(outcome)")
            default: break
            }
        }

        /// Every file of the seed corpus (and of the working corpus, if fuzzing ran here) through every target.
        @Test("seed corpus replays through every decoder", arguments: FuzzTarget.allCases)
        func corpusReplay(_ corpus: FuzzTarget) async throws {
            let files = FuzzFiles.corpus(corpus).map(\.path)
            try #require(!files.isEmpty || corpus == .pipeline, "fuzz/corpus/\(corpus.rawValue) is empty")
            await #expect(
                processExitsWith: .success,
                "replaying fuzz/corpus/\(corpus.rawValue) (and fuzz/corpus-work/\(corpus.rawValue)) crashed: run fuzz/out/bin/fuzz-TARGET on its files to see which"
            ) {
                [files = files as [String]] in
                for path in files {
                    guard let data = FileManager.default.contents(atPath: path) else { continue }
                    let bytes = Array(data.prefix(64 * 1024))
                    for target in FuzzTarget.allCases {
                        _ = target.run(bytes)
                    }
                }
            }
        }

        /// The seeds made from Protocol/vectors and valid traffic are accepted (they are the protocol working),
        /// so each target's properties hold on them and they can be regenerated from a clean clone.
        @Test("generated seeds decode", arguments: FuzzTarget.allCases)
        func generatedSeeds(_ target: FuzzTarget) async throws {
            let seeds = FuzzSeeds.all(vectors: FuzzFiles.vectors)[target] ?? []
            #expect(seeds.count >= 10)
            await #expect(processExitsWith: .success) { [name = target.rawValue as String] in
                let target = FuzzTarget(rawValue: name)!
                for seed in FuzzSeeds.all(vectors: FuzzFiles.vectors)[target] ?? [] {
                    _ = target.run(seed.bytes)
                }
            }
            // Valid frames decode without error; the vectors of every kind decode.
            if target == .frames || target == .stream {
                for seed in seeds where !seed.name.contains("unknown") {
                    let outcome = target.run(seed.bytes)
                    #expect(!outcome.rejected, "\(seed.name): \(outcome)")
                }
            }
            if target == .messages {
                for seed in seeds where !seed.name.hasPrefix("vector-") {
                    let outcome = target.run(seed.bytes)
                    #expect(!outcome.rejected, "\(seed.name): \(outcome)")
                }
            }
        }

        /// The fuzzer decodes the request type of every method the nodes serve (Methods.swift), by method name.
        @Test("the message table covers every method the nodes serve")
        func messageTableMatchesMethods() {
            func method<M: RPCMethod>(_ m: M.Type) -> (String, String) { (M.name, String(reflecting: M.Request.self)) }
            let methods = [
                method(Frontend.Search.self), method(Frontend.Lookup.self), method(Frontend.Buy.self),
                method(Frontend.Orders.self), method(Frontend.OrdersPage.self), method(Frontend.Restock.self),
                method(Frontend.SetCost.self), method(Order.Page.self),
                method(Frontend.Status.self), method(Catalog.Search.self), method(Catalog.Lookup.self),
                method(Catalog.Hold.self), method(Catalog.Commit.self), method(Catalog.Abort.self),
                method(Catalog.Restock.self), method(Catalog.SetCost.self), method(Catalog.Snapshot.self),
                method(Catalog.Inspect.self),
                method(Catalog.Subscribe.self), method(Order.Buy.self), method(Order.List.self),
                method(Order.Replicate.self), method(Order.Resolve.self), method(Order.Join.self),
                method(NodeMethods.Health.self), method(Consensus.Prepare.self), method(Consensus.Accept.self),
                method(Consensus.Learn.self),
            ]
            // The access policy lists every method (a method missing there is refused on TLS): a new method
            // shows up there, and then here.
            #expect(Set(methods.map(\.0)) == Set(AccessPolicy.allowedRoles.keys))
            let requests = MessageTargets.table.filter(\.isRequest)
            #expect(requests.count == methods.count)
            for (name, type) in methods {
                let entry = requests.first { $0.name == name }
                #expect(
                    entry?.typeName == type,
                    "\(name): the fuzzer decodes \(entry?.typeName ?? "nothing"), the node \(type)"
                )
            }
            // And the push topic clients decode.
            #expect(
                MessageTargets.table.first { $0.name == Catalog.Invalidated.name }?.typeName
                    == String(reflecting: Catalog.Invalidated.Message.self)
            )
        }

        // MARK: Hand-written hostile inputs

        @Test("a 4 GiB length prefix is refused when its four bytes arrive")
        func hugeLengthPrefix() {
            let run = FrameTargets.decode(FuzzSeeds.clientHello + [0xff, 0xff, 0xff, 0xff], expectHello: true)
            #expect(run.error?.code == .frameTooLarge)
            #expect(run.messages.count == 1)
            let outcome = PipelineTarget.run([0] + FuzzSeeds.clientHello + [0xff, 0xff, 0xff, 0xff])
            #expect(outcome.rejected, "\(outcome)")
            #expect(outcome.detail.contains("8: "), "expected resourceExhausted on stream 0: \(outcome)")
        }

        /// A value that nests itself through unkeyed containers as deep as the input goes.
        struct Deep: Decodable {
            init(from decoder: any Decoder) throws {
                var container = try decoder.unkeyedContainer()
                while !container.isAtEnd { _ = try container.decode(Deep.self) }
            }
        }

        @Test("nesting beyond the depth limit throws instead of exhausting the stack")
        func deepNesting() async throws {
            // [[[…[]…]]] 100 000 levels deep: each level is a slot around the next.
            var payload: [UInt8] = [1]
            for _ in 0..<100_000 {
                var header: [UInt8] = []
                VarInt.append(UInt64(payload.count + 1), to: &header)
                payload = header + payload
            }
            await #expect(processExitsWith: .success) { [payload = payload as [UInt8]] in
                _ = try? BinaryDecoder().decode(Deep.self, from: payload)
                let selector = MessageTargets.selector(of: "codec.shapes")
                _ = FuzzTarget.messages.run([selector] + payload)
            }
            #expect(throws: DecodingError.self) { try BinaryDecoder().decode(Deep.self, from: payload) }
            // 60 levels are within the limit.
            var shallow: [UInt8] = [1]
            for _ in 0..<60 { shallow = [UInt8(shallow.count + 1)] + shallow }
            #expect(throws: Never.self) { try BinaryDecoder().decode(Deep.self, from: shallow) }
        }
    }
}
