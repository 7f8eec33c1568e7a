@testable import FerryKubernetes
import Testing

@Suite struct ReflectorStateMachineTests {
    func object(_ name: String, version: String) throws -> APIObject {
        try APIObject(json: #"{"kind":"Pod","apiVersion":"v1","metadata":{"name":"\#(name)","namespace":"ns","resourceVersion":"\#(version)"}}"#)
    }

    func event(_ type: String, _ name: String = "a", version: String) throws -> WatchEvent {
        try WatchEvent(line: #"{"type":"\#(type)","object":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"\#(name)","namespace":"ns","resourceVersion":"\#(version)"}}}"#)
    }

    let gone = try! WatchEvent(line: #"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","code":410,"reason":"Expired"}}"#)

    /// A machine that has listed `a` and `b` at version 10 and is watching.
    func watching() throws -> ReflectorStateMachine {
        var machine = ReflectorStateMachine(pageSize: 2)
        _ = machine.pageReceived(ListPage(items: [try object("a", version: "3"), try object("b", version: "9")], resourceVersion: "10"))
        return machine
    }

    @Test func pagesAccumulateIntoOneReplacement() throws {
        var machine = ReflectorStateMachine(pageSize: 2)
        #expect(machine.step == .list(continueToken: nil, limit: 2))
        guard case .fetchNext = machine.pageReceived(ListPage(items: [try object("a", version: "1"), try object("b", version: "2")],
                                                             resourceVersion: "20", continueToken: "t1")) else {
            Issue.record("expected another page")
            return
        }
        #expect(machine.step == .list(continueToken: "t1", limit: 2))
        guard case .replace(let items, let version) = machine.pageReceived(ListPage(items: [try object("c", version: "3")], resourceVersion: "20")) else {
            Issue.record("expected the replacement")
            return
        }
        #expect(items.map(\.key.name) == ["a", "b", "c"])
        #expect(version == "20")
        #expect(machine.step == .watch(resourceVersion: "20"))
    }

    @Test func eventsAndBookmarksMoveTheResumePoint() throws {
        var machine = try watching()
        guard case .upsert(let added) = machine.eventReceived(try event("ADDED", "c", version: "12")) else {
            Issue.record("expected upsert")
            return
        }
        #expect(added.key.name == "c")
        guard case .delete = machine.eventReceived(try event("DELETED", "a", version: "13")) else {
            Issue.record("expected delete")
            return
        }
        guard case .none = machine.eventReceived(try event("BOOKMARK", "", version: "40")) else {
            Issue.record("a bookmark changes no object")
            return
        }
        #expect(machine.step == .watch(resourceVersion: "40"))
        // A timeout or a drop after useful work resumes at once, from there.
        machine.watchEnded(nil, productive: true)
        #expect(machine.step == .watch(resourceVersion: "40"))
        machine.watchEnded(.other, productive: true)
        #expect(machine.step == .watch(resourceVersion: "40"))
    }

    @Test func failingWatchesBackOffThenResumeFromTheSameVersion() throws {
        var machine = try watching()
        machine.watchEnded(.other, productive: false)
        #expect(machine.step == .wait(failures: 1))
        machine.waited()
        #expect(machine.step == .watch(resourceVersion: "10"))
        machine.watchEnded(.other, productive: false)
        #expect(machine.step == .wait(failures: 2))
        machine.waited()
        _ = machine.eventReceived(try event("MODIFIED", version: "11"))
        machine.watchEnded(.other, productive: false)
        #expect(machine.step == .wait(failures: 1), "an event resets the count")
    }

    @Test func goneRelistsOnceAtOnceThenWaits() throws {
        var machine = try watching()
        guard case .stopWatch(let status) = machine.eventReceived(gone) else {
            Issue.record("an ERROR event ends the watch")
            return
        }
        #expect(status?.code == 410)
        #expect(machine.step == .list(continueToken: nil, limit: 2))
        _ = machine.pageReceived(ListPage(items: [], resourceVersion: "50"))
        // Gone again before anything was watched: do not spin.
        machine.watchEnded(.gone, productive: false)
        #expect(machine.step == .wait(failures: 2))
        machine.waited()
        #expect(machine.step == .list(continueToken: nil, limit: 2))
    }

    @Test func otherErrorEventsBackOffAndKeepTheVersion() throws {
        var machine = try watching()
        let failure = try WatchEvent(line: #"{"type":"ERROR","object":{"kind":"Status","code":500,"message":"internal"}}"#)
        guard case .stopWatch = machine.eventReceived(failure) else {
            Issue.record("an ERROR event ends the watch")
            return
        }
        #expect(machine.step == .wait(failures: 1))
        machine.waited()
        #expect(machine.step == .watch(resourceVersion: "10"))
    }

    @Test func anExpiredContinueTokenRestartsTheListInOneRequest() throws {
        var machine = ReflectorStateMachine(pageSize: 2)
        _ = machine.pageReceived(ListPage(items: [try object("a", version: "1")], resourceVersion: "5", continueToken: "t1"))
        #expect(machine.listFailed(.gone) == .retry)
        #expect(machine.step == .list(continueToken: nil, limit: nil))
        #expect(!machine.paginate)
    }

    @Test func unservedKindsAreEmptyAndRetriedWithBackoff() {
        var machine = ReflectorStateMachine(pageSize: nil)
        #expect(machine.step == .list(continueToken: nil, limit: nil))
        #expect(machine.listFailed(.notServed) == .markNotServed)
        #expect(machine.step == .wait(failures: 1))
        machine.waited()
        #expect(machine.listFailed(.other) == .retry)
        #expect(machine.step == .wait(failures: 2))
    }
}
