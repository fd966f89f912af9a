using System.Diagnostics;
using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Cpu.Threading;
using FastConv.Sessions;
using FastConv.Tests.Sessions;

namespace FastConv.Tests.Robustness;

/// <summary>
/// One process-wide set of CPU worker threads: sessions and backends with any thread count share it, a thread
/// count above the cores is capped, and the helpers end once idle — so creating, running and disposing sessions
/// with 2 to 33 threads, or with 1000, leaves the process's thread count where it was.
/// </summary>
[Category("Hostile")]
[Description("no thread is leaked: the process returns to its baseline thread count once the pool is idle")]
[NonParallelizable] // measures the process's thread count and shortens the idle timeout
public sealed class ThreadLeakTests
{
    private TimeSpan _idle;

    [SetUp]
    public void ShortIdleTimeout()
    {
        _idle = WorkerPool.IdleTimeout;
        WorkerPool.IdleTimeout = TimeSpan.FromMilliseconds(200);
    }

    [TearDown]
    public void RestoreIdleTimeout() => WorkerPool.IdleTimeout = _idle;

    internal static int ProcessThreads()
    {
        using var p = Process.GetCurrentProcess();
        return p.Threads.Count;
    }

    /// <summary>
    /// Waits (up to <paramref name="timeout"/>) for every helper to end and the thread count to come within
    /// <paramref name="slack"/> of <paramref name="baseline"/>; returns the last count.
    /// </summary>
    internal static int SettlesTo(int baseline, int slack, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        int now;
        while (((now = ProcessThreads()) > baseline + slack || WorkerPool.LiveHelperThreads > 0) && clock.Elapsed < timeout)
        {
            Thread.Sleep(50);
        }
        return now;
    }

    private static void WaitForIdleHelpers(TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (WorkerPool.LiveHelperThreads > 0 && clock.Elapsed < timeout)
        {
            Thread.Sleep(50);
        }
    }

    [Test]
    [Description("sessions with Threads 2..33 created, run and disposed: the thread count returns to baseline")]
    public void SessionsWithManyThreadCountsLeaveNoThreads()
    {
        WaitForIdleHelpers(TimeSpan.FromSeconds(10));
        int baseline = ProcessThreads();
        var net = TestNetworks.MiniResNet(batch: 2);
        Tensor x = TestNetworks.RandomInputs(net.Graph, 1)["image"];
        int peak = 0;
        for (int threads = 2; threads <= 33; threads++)
        {
            using var session = new FastConvSession(net.Graph, new FastConvSessionOptions { Backend = BackendNames.Cpu, Threads = threads });
            session.Run(new Dictionary<string, Tensor> { ["image"] = x });
            peak = Math.Max(peak, WorkerPool.LiveHelperThreads);
        }
        Assert.That(peak, Is.LessThanOrEqualTo(WorkerPool.MaxThreads - 1), "never more helpers than cores - 1, whatever the thread counts asked");
        // Slack for the runtime's own threads (thread-pool workers, timers) that come and go on their own.
        int after = SettlesTo(baseline, slack: 2, TimeSpan.FromSeconds(30));
        Assert.That(after, Is.LessThanOrEqualTo(baseline + 2), $"threads: {baseline} before, {after} after the sessions were disposed");
        Assert.That(WorkerPool.LiveHelperThreads, Is.Zero);
    }

    [Test]
    [Description("Threads = 1000: capped at the core count; no more than cores - 1 helper threads are started")]
    public void AThousandThreadsAreCappedAtTheCores()
    {
        WaitForIdleHelpers(TimeSpan.FromSeconds(10));
        int baseline = ProcessThreads();
        using var backend = new CpuBackend(new CpuBackendOptions { Threads = 1000 });
        Assert.That(backend.Context.Pool.Threads, Is.EqualTo(WorkerPool.MaxThreads));
        Assert.That(backend.Options.Threads, Is.EqualTo(1000));
        var shape = TensorShape.Of(4, 64, 64, 64);
        using var relu = backend.PlanActivation(Activation.Relu, shape);
        relu.Execute(Tensor.Allocate(shape), Tensor.Allocate(shape));
        Assert.That(ProcessThreads(), Is.LessThanOrEqualTo(baseline + WorkerPool.MaxThreads + 2));
        Assert.That(WorkerPool.LiveHelperThreads, Is.LessThanOrEqualTo(WorkerPool.MaxThreads - 1));
        int after = SettlesTo(baseline, slack: 2, TimeSpan.FromSeconds(30));
        Assert.That(after, Is.LessThanOrEqualTo(baseline + 2));
        Assert.That(WorkerPool.LiveHelperThreads, Is.Zero);
    }

    [Test]
    [Description("pools made and disposed by the hundred (new WorkerPool(n)): they own no thread")]
    public void PoolsOwnNoThreads()
    {
        WaitForIdleHelpers(TimeSpan.FromSeconds(10));
        int baseline = ProcessThreads();
        var job = new Noop();
        for (int i = 0; i < 200; i++)
        {
            using var pool = new WorkerPool(2 + i % 40);
            pool.For(8, job);
        }
        Assert.That(WorkerPool.LiveHelperThreads, Is.LessThanOrEqualTo(WorkerPool.MaxThreads - 1));
        Assert.That(SettlesTo(baseline, 2, TimeSpan.FromSeconds(30)), Is.LessThanOrEqualTo(baseline + 2));
    }

    private sealed class Noop : IParallelJob
    {
        public void Run(int index)
        {
        }
    }
}
