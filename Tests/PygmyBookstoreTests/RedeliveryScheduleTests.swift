import PygmyBookstore
import Testing

@Suite struct RedeliveryScheduleTests {
    @Test func anOrderIsDueOnlyAfterTheGrace() {
        var schedule = RedeliverySchedule(grace: .seconds(1))
        let first = schedule.due(["a"], now: .zero)
        let early = schedule.due(["a", "b"], now: .milliseconds(600))
        let aDue = schedule.due(["a", "b"], now: .milliseconds(1000))
        let bothDue = schedule.due(["a", "b"], now: .milliseconds(1600))
        #expect(first.isEmpty && early.isEmpty)
        #expect(aDue == ["a"])
        #expect(bothDue == ["a", "b"])
    }

    @Test func aDeliveredOrderIsForgotten() {
        var schedule = RedeliverySchedule(grace: .seconds(1))
        _ = schedule.due(["a"], now: .zero)
        // Delivered (gone from the set), then undelivered again: the grace starts over.
        let gone = schedule.due([], now: .milliseconds(500))
        let back = schedule.due(["a"], now: .milliseconds(1500))
        let due = schedule.due(["a"], now: .milliseconds(2500))
        #expect(gone.isEmpty && back.isEmpty)
        #expect(due == ["a"])
    }
}
