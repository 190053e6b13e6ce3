import PygmyBookstore
import Testing

@Suite struct AntiEntropyGateTests {
    /// Feeds `rounds` (peer digest, own digest, milliseconds) to a new gate; returns the rounds that pulled.
    func pulls(_ rounds: [(UInt64?, UInt64, Int)], peer: String = "p") -> [Int] {
        var gate = AntiEntropyGate<String>(maxInterval: .seconds(5))
        return rounds.indices.filter { index in
            let (theirs, ours, millis) = rounds[index]
            return gate.shouldPull(from: peer, peerDigest: theirs, ownDigest: ours, now: .milliseconds(millis))
        }
    }

    @Test func equalDigestsNeverPull() {
        #expect(pulls((0..<40).map { (7, 7, $0 * 500) }) == [])
    }

    @Test func theFirstDifferencePullsAtOnce() {
        #expect(pulls([(1, 2, 0)]) == [0])
        var gate = AntiEntropyGate<String>(maxInterval: .seconds(5))
        let first = gate.shouldPull(from: "p", peerDigest: 1, ownDigest: 2, now: .zero)
        // Another peer has its own history.
        let other = gate.shouldPull(from: "q", peerDigest: 1, ownDigest: 2, now: .zero)
        #expect(first && other)
    }

    @Test func aDifferenceInFlightWaitsForTheMaxInterval() {
        // Both digests keep moving (buys in flight): after the first pull, one every 5 s.
        let moving: [(UInt64?, UInt64, Int)] = (0...120).map { (round: Int) -> (UInt64?, UInt64, Int) in
            let digest = UInt64(round) * 10
            return (digest, digest + 1, round * 100)
        }
        #expect(pulls(moving) == [0, 50, 100])
    }

    @Test func aStableDifferencePullsEveryRound() {
        let rounds: [(UInt64?, UInt64, Int)] = [
            (1, 2, 0),
            // Neither side changed since the last round: an update was missed, repair now.
            (1, 2, 500), (1, 2, 1000),
            // One side moved: in flight again, then stable.
            (3, 2, 1500), (3, 2, 2000),
            // Equal, then different again: stable only from the second round on.
            (2, 2, 2500), (4, 2, 3000), (4, 2, 3500),
        ]
        #expect(pulls(rounds) == [0, 1, 2, 4, 7])
    }

    @Test func aPeerWithoutADigestCountsAsDifferent() {
        #expect(pulls([(nil, 2, 0), (nil, 2, 500)]) == [0, 1])
    }
}
