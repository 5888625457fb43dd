import NIOCore
import NIOPosix

/// A thread of its own for the write pipeline (the group-commit loops and the statements they await).
///
/// A write batch awaits several statements in turn, and each await resumes the batch as a new job. On Swift's shared
/// pool that job queues behind every request being handled, which under load made each of a batch's statements cost
/// ~0.3–0.4 ms of waiting; a batch holds every writer waiting on it, so that wait became everyone's latency and capped
/// throughput. Run with this executor as their preference, the loops resume on a thread that has nothing else to do.
final class WriterThread: TaskExecutor {
    /// One for the process: write pipelines spend their time waiting for the database, so they share it well.
    static let shared = WriterThread()

    /// The event loop the write pipeline runs on; the write connection's results are delivered here too.
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
