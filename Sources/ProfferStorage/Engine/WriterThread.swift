import NIOCore
import NIOPosix

/// A thread of its own for the write pipeline: the group-commit loops, and on SQLite the statements themselves (the
/// write connection runs them on the calling thread, see `SQLiteWriteConnection`).
///
/// A write batch awaits several statements in turn, and each await resumes the batch as a new job. On Swift's shared
/// pool that job queues behind every request being handled, which under load made each of a batch's statements cost
/// ~0.3–0.4 ms of waiting; a batch holds every writer waiting on it, so that wait became everyone's latency and capped
/// throughput. Run with this executor as their preference, the loops resume on a thread that has nothing else to do.
final class WriterThread: TaskExecutor {
    /// One for the process: SQLite takes one writer at a time anyway, and a PostgreSQL pipeline spends its time waiting
    /// for the server.
    static let shared = WriterThread()

    /// The event loop the write pipeline runs on; the SQLite write connection's futures complete on it.
    let loop: any EventLoop

    private init() {
        // Never shut down: it lives as long as the process, like NIO's own singletons.
        loop = MultiThreadedEventLoopGroup(numberOfThreads: 1).next()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
