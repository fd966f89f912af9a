using FastConv.Cpu.Threading;

namespace FastConv.Tests.Threading;

public sealed class WorkerPoolTests
{
    private sealed class CountingJob(int count) : IParallelJob
    {
        public readonly int[] Hits = new int[count];
        public void Run(int index) => Interlocked.Increment(ref Hits[index]);
    }

    // Many short calls back to back are what exposes a helper that wakes late (after the caller drained the
    // indices alone) joining — or signalling — the wrong call: every index must run exactly once per call.
    [TestCase(2)]
    [TestCase(3)]
    [TestCase(5)]
    public void EveryIndexRunsExactlyOnceOverManyShortCalls(int threads)
    {
        using var pool = new WorkerPool(threads);
        for (int call = 0; call < 20_000; call++)
        {
            int count = 1 + call % 7;
            var job = new CountingJob(count);
            pool.For(count, job);
            Assert.That(job.Hits, Is.All.EqualTo(1), $"call {call}, count {count}, threads {threads}");
        }
    }

    private sealed class FailingJob : IParallelJob
    {
        public void Run(int index)
        {
            if (index == 3)
                throw new InvalidOperationException("planted");
        }
    }

    [Test]
    public void AFailureIsRethrownAndThePoolKeepsWorking()
    {
        using var pool = new WorkerPool(2);
        Assert.Throws<InvalidOperationException>(() => pool.For(8, new FailingJob()));
        var job = new CountingJob(100);
        pool.For(100, job);
        Assert.That(job.Hits, Is.All.EqualTo(1));
    }

    private sealed class NestedJob(WorkerPool pool) : IParallelJob
    {
        public readonly CountingJob Inner = new(4 * 3);
        public void Run(int index) => pool.For(3, new OffsetJob(Inner, index * 3));
    }

    private sealed class OffsetJob(CountingJob target, int offset) : IParallelJob
    {
        public void Run(int index) => target.Run(offset + index);
    }

    [Test]
    public void ANestedForRunsInlineOnTheCallingThread()
    {
        using var pool = new WorkerPool(2);
        var job = new NestedJob(pool);
        pool.For(4, job);
        Assert.That(job.Inner.Hits, Is.All.EqualTo(1));
    }

    private sealed class ThreadRecordingJob : IParallelJob
    {
        public readonly System.Collections.Concurrent.ConcurrentDictionary<int, int> Threads = new();
        private int _active;
        public int MaxActive;

        public void Run(int index)
        {
            Threads[Environment.CurrentManagedThreadId] = 1;
            int now = Interlocked.Increment(ref _active);
            int seen;
            while (now > (seen = Volatile.Read(ref MaxActive)) && Interlocked.CompareExchange(ref MaxActive, now, seen) != seen)
            {
            }
            Thread.SpinWait(20_000); // long enough for helpers to join
            Interlocked.Decrement(ref _active);
        }
    }

    [Test]
    public void OneThreadRunsOnTheCallerOnly()
    {
        var job = new ThreadRecordingJob();
        WorkerPool.ForThreads(1).For(64, job);
        Assert.That(job.Threads.Keys, Is.EqualTo(new[] { Environment.CurrentManagedThreadId }));
    }

    [TestCase(2)]
    [TestCase(3)]
    public void NoMoreThreadsWorkOnACallThanItsDegree(int threads)
    {
        using var pool = new WorkerPool(threads);
        for (int call = 0; call < 20; call++)
        {
            var job = new ThreadRecordingJob();
            pool.For(32, job);
            Assert.That(job.MaxActive, Is.LessThanOrEqualTo(pool.Threads), $"call {call}: {job.MaxActive} at once on a pool of {pool.Threads}");
        }
    }

    private sealed class WaitForOtherJob(ManualResetEventSlim other) : IParallelJob
    {
        public bool Saw;
        public void Run(int index)
        {
            if (index == 0)
            {
                Saw = other.Wait(TimeSpan.FromSeconds(20));
            }
        }
    }

    /// <summary>
    /// A call from one thread does not hold up a call from another on the same pool: the first call's job waits
    /// until the second call has finished, which would never happen if calls were serialized.
    /// </summary>
    [Test]
    public void CallsFromTwoThreadsRunSideBySide()
    {
        WorkerPool pool = WorkerPool.ForThreads(2);
        using var secondDone = new ManualResetEventSlim(false);
        var first = new WaitForOtherJob(secondDone);
        var thread = new Thread(() => pool.For(4, first));
        thread.Start();
        Thread.Sleep(100); // let the first call start and block
        var second = new CountingJob(50);
        pool.For(50, second);
        secondDone.Set();
        Assert.That(thread.Join(TimeSpan.FromSeconds(30)), Is.True);
        Assert.That(first.Saw, Is.True, "the second call finished while the first was still running");
        Assert.That(second.Hits, Is.All.EqualTo(1));
    }

    [Test]
    public void ARequestAboveTheCoresIsCapped()
    {
        using var pool = new WorkerPool(1000);
        Assert.That(pool.Threads, Is.EqualTo(WorkerPool.MaxThreads));
        Assert.That(WorkerPool.ForThreads(1000), Is.SameAs(WorkerPool.ForThreads(WorkerPool.MaxThreads)));
        Assert.Throws<InvalidHyperparameterException>(() => _ = new WorkerPool(0));
    }
}
