@testable import FerryProxy
import NIOCore
import Testing

/// gRPC messages counted as a body passes, however it is cut.
@Suite struct GRPCMessageCounterTests {
    /// Length-prefixed messages with these payload sizes.
    private func body(_ sizes: [Int]) -> ByteBuffer {
        var buffer = ByteBuffer()
        for size in sizes {
            buffer.writeInteger(UInt8(0))
            buffer.writeInteger(UInt32(size))
            buffer.writeRepeatingByte(0x61, count: size)
        }
        return buffer
    }

    @Test func wholeBodies() {
        #expect(GRPCMessageCounter.count(body([])) == 0)
        #expect(GRPCMessageCounter.count(body([3])) == 1)
        #expect(GRPCMessageCounter.count(body([0, 300, 0, 70_000])) == 4, "empty messages count too")
    }

    @Test func everySplitPointGivesTheSameCount() {
        let whole = body([2, 0, 9])
        for split in 0...whole.readableBytes {
            var counter = GRPCMessageCounter()
            counter.feed(whole.getSlice(at: 0, length: split)!)
            counter.feed(whole.getSlice(at: split, length: whole.readableBytes - split)!)
            #expect(counter.messages == 3, "split at \(split)")
        }
    }

    @Test func aMessageCountsOnlyOnceItsLastByteHasPassed() {
        var counter = GRPCMessageCounter()
        let message = body([4])
        counter.feed(message.getSlice(at: 0, length: 8)!)
        #expect(counter.messages == 0)
        counter.feed(message.getSlice(at: 8, length: 1)!)
        #expect(counter.messages == 1)
    }
}
