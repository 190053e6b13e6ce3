import Foundation
import PygmyBookstore
import PygmyWire
import Testing

/// Hostile input: mutated and truncated encodings must throw `DecodingError`, never crash or hang.
@Suite struct BinaryDecoderMutationTests {
    /// Mutates `bytes` in one of several ways that target the format's weak points.
    static func mutate(_ bytes: [UInt8], _ rng: inout SeededRandom) -> [UInt8] {
        var out = bytes
        let rounds = Int.random(in: 1...4, using: &rng)
        for _ in 0..<rounds {
            switch Int.random(in: 0..<7, using: &rng) {
            case 0 where !out.isEmpty:  // flip bits
                let i = Int.random(in: 0..<out.count, using: &rng)
                out[i] ^= UInt8(1) << UInt8.random(in: 0...7, using: &rng)
            case 1 where !out.isEmpty:  // truncate
                out.removeLast(Int.random(in: 1...out.count, using: &rng))
            case 2:  // insert random bytes
                let i = Int.random(in: 0...out.count, using: &rng)
                out.insert(
                    contentsOf: (0..<Int.random(in: 1...4, using: &rng)).map { _ in
                        UInt8.random(in: 0...255, using: &rng)
                    },
                    at: i
                )
            case 3 where !out.isEmpty:  // set an interesting value
                let i = Int.random(in: 0..<out.count, using: &rng)
                out[i] = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE][Int.random(in: 0..<6, using: &rng)]
            case 4 where !out.isEmpty:  // duplicate a run
                let i = Int.random(in: 0..<out.count, using: &rng)
                let n = Int.random(in: 1...min(8, out.count - i), using: &rng)
                out.insert(contentsOf: out[i..<(i + n)], at: i)
            case 5 where !out.isEmpty:  // huge varint where a length sits
                let i = Int.random(in: 0..<out.count, using: &rng)
                out.replaceSubrange(i..<(i + 1), with: [0xFF, 0xFF, 0xFF, 0xFF, 0x0F])
            default:  // delete a byte
                if !out.isEmpty { out.remove(at: Int.random(in: 0..<out.count, using: &rng)) }
            }
        }
        return out
    }

    /// Decodes `bytes` as `T`, treating any thrown `DecodingError` as the expected outcome.
    static func survives<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) -> Bool {
        do {
            _ = try BinaryDecoder().decode(type, from: bytes)
            return true
        } catch is DecodingError {
            return true
        } catch {
            return false
        }
    }

    @Test func oneHundredThousandMutatedEncodingsOnlyEverThrowDecodingErrors() throws {
        let seed = ProcessInfo.processInfo.environment["PYGMY_FUZZ_SEED"].flatMap(UInt64.init) ?? 0x5059_474D
        var rng = SeededRandom(seed: seed)
        let samples: [[UInt8]] = try [
            BinaryEncoder().encode(Book.sample),
            BinaryEncoder().encode([Book.sample, Book.sample]),
            BinaryEncoder().encode(
                Containers(
                    optionalPresent: "p",
                    optionalAbsent: nil,
                    list: [1, -2],
                    listOfOptionals: [nil, "x"],
                    nested: [[1]],
                    byName: ["a": 1],
                    byNumber: [2: "b"],
                    byUUID: [:],
                    data: Data([1, 2]),
                    date: Date(timeIntervalSinceReferenceDate: 0),
                    uuid: UUID(),
                    empty: []
                )
            ),
            BinaryEncoder().encode([Shape.group([.circle(radius: 1), .labelled("l", tags: ["t"])]), .point]),
            BinaryEncoder().encode(Dog(name: "Rex", goodBoy: true)),
        ]
        var failures: [String] = []
        let iterations = 100_000
        for n in 0..<iterations {
            let base = samples[n % samples.count]
            let bytes = Self.mutate(base, &rng)
            let ok =
                switch n % samples.count {
                case 0: Self.survives(Book.self, bytes) && Self.survives(Shape.self, bytes)
                case 1: Self.survives([Book].self, bytes) && Self.survives([String: Int].self, bytes)
                case 2: Self.survives(Containers.self, bytes)
                case 3: Self.survives([Shape].self, bytes) && Self.survives([Int?].self, bytes)
                default: Self.survives(Dog.self, bytes) && Self.survives(HandWritten.self, bytes)
                }
            if !ok { failures.append("iteration \(n): \(bytes)") }
        }
        #expect(failures.isEmpty, "seed \(seed) (replay with PYGMY_FUZZ_SEED=\(seed)): \(failures.prefix(3))")
    }

    @Test func everyTruncationOfAValidEncodingIsRejected() throws {
        let bytes = try BinaryEncoder().encode([Book.sample, Book.sample])
        for length in 0..<bytes.count {
            #expect(throws: DecodingError.self) {
                try BinaryDecoder().decode([Book].self, from: Array(bytes[0..<length]))
            }
        }
    }

    @Test func aHugeDeclaredLengthAllocatesNothing() {
        // A slot header claiming 2^62 bytes followed by nothing.
        var bytes: [UInt8] = []
        VarInt.append(1 << 62, to: &bytes)
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode([UInt8].self, from: bytes) }
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode(String.self, from: bytes) }
    }
}
