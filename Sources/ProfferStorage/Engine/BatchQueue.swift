import Synchronization

/// The hand-over of a group-commit loop (`WriteQueue`, `DisclosureBatcher`): callers append under a lock, the first to
/// find no loop running starts one, and the loop takes what is waiting, a batch at a time, until nothing is; the next
/// caller then starts another. A lock rather than an actor: as an actor, a caller that found it busy with the loop was
/// parked and resumed on another thread before it could even queue (BENCHMARKS.md, run 13).
final class BatchQueue<Element: Sendable>: Sendable {
    private struct State: ~Copyable {
        var waiting: [Element] = []
        var draining = false
    }

    private let state = Mutex(State())
    private let maxBatch: Int

    init(maxBatch: Int) {
        self.maxBatch = maxBatch
    }

    /// Queues `element`; true if the caller must start the loop (none is running).
    func append(_ element: sending Element) -> Bool {
        state.withLock { state in
            state.waiting.append(element)
            guard !state.draining else { return false }
            state.draining = true
            return true
        }
    }

    /// The next batch, oldest first; nil when nothing waits, which ends the loop.
    func nextBatch() -> [Element]? {
        state.withLock { state in
            guard !state.waiting.isEmpty else {
                state.draining = false
                return nil
            }
            let batch = Array(state.waiting.prefix(maxBatch))
            state.waiting.removeFirst(batch.count)
            return batch
        }
    }
}
