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
}
