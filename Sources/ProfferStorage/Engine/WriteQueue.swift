import SQLKit

/// Group commit: every write is a job queued here; one loop takes all waiting jobs, runs each inside
/// its own savepoint of one transaction, commits once, and only then answers every caller. A job that
/// fails is rolled back to its savepoint alone; a commit that fails fails the whole batch. So each caller
/// learns of success only once its rows are durable, and concurrent writers share one commit.
public final class WriteQueue: Sendable {
    private struct Job: Sendable {
        let run: @Sendable (any SQLDatabase) async throws -> @Sendable () -> Void
        let fail: @Sendable (any Error) -> Void
    }

    private let engine: any DatabaseEngine
    private let jobs: BatchQueue<Job>

    public init(engine: any DatabaseEngine, maxBatch: Int = 256) {
        self.engine = engine
        self.jobs = BatchQueue(maxBatch: maxBatch)
    }

    /// Runs `body` in a transaction shared with other concurrent writes; returns once committed.
    public func write<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let job = Job(
                run: { db in
                    let value = try await body(db)
                    return { continuation.resume(returning: value) }
                },
                fail: { error in continuation.resume(throwing: error) }
            )
            if jobs.append(job) {
                Task(executorPreference: WriterThread.shared) { await self.drain() }
            }
        }
    }

    private func drain() async {
        while let batch = jobs.nextBatch() {
            await run(batch)
        }
    }

    private func run(_ batch: [Job]) async {
        let kind = engine.kind
        let outcome: Result<[Result<@Sendable () -> Void, any Error>], any Error>
        do {
            let results = try await engine.withWriteConnection { db in
                try await db.raw(SQLQueryString(kind.beginTransaction)).run()
                do {
                    var results: [Result<@Sendable () -> Void, any Error>] = []
                    results.reserveCapacity(batch.count)
                    if batch.count == 1, let only = batch.first {
                        do {
                            results.append(.success(try await only.run(db)))
                        } catch {
                            try await db.raw("ROLLBACK").run()
                            return [Result<@Sendable () -> Void, any Error>.failure(error)]
                        }
                    } else {
                        for job in batch {
                            try await db.raw("SAVEPOINT job").run()
                            do {
                                let done = try await job.run(db)
                                try await db.raw("RELEASE SAVEPOINT job").run()
                                results.append(.success(done))
                            } catch {
                                try await db.raw("ROLLBACK TO SAVEPOINT job").run()
                                try await db.raw("RELEASE SAVEPOINT job").run()
                                results.append(.failure(error))
                            }
                        }
                    }
                    try await db.raw("COMMIT").run()
                    return results
                } catch {
                    try? await db.raw("ROLLBACK").run()
                    throw error
                }
            }
            outcome = .success(results)
        } catch {
            outcome = .failure(error)
        }
        switch outcome {
        case .success(let results):
            for (job, result) in zip(batch, results) {
                switch result {
                case .success(let resume): resume()
                case .failure(let error): job.fail(error)
                }
            }
        case .failure(let error):
            for job in batch { job.fail(error) }
        }
        await engine.betweenWrites()
    }
}
