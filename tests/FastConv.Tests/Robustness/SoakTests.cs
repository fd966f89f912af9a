using System.Diagnostics;
using System.Globalization;
using FastConv.Backends;
using FastConv.Cpu.Threading;
using FastConv.Graphs;
using FastConv.Sessions;
using FastConv.Tests.Sessions;

namespace FastConv.Tests.Robustness;

/// <summary>
/// Sessions created, run concurrently and disposed, over and over, for <c>FASTCONV_SOAK_SECONDS</c> (default 6 s in
/// CI; 600 for the ten-minute soak): the process's resident memory and thread count are sampled at intervals and
/// must stay flat after warm-up, every run must repeat its session's first result, and once the sessions are gone
/// the helper threads must end.
/// </summary>
[Category("Soak")]
[NonParallelizable] // measures the whole process
public sealed class SoakTests
{
    private const string SecondsVariable = "FASTCONV_SOAK_SECONDS";
    private const int Workers = 4;

    private sealed record Sample(double Seconds, long RssBytes, long HeapBytes, int Threads, int Helpers, long Sessions);

    [Test]
    public void SessionsCreatedRunAndDisposedConcurrentlyKeepMemoryAndThreadsFlat()
    {
        double seconds = double.TryParse(Environment.GetEnvironmentVariable(SecondsVariable), NumberStyles.Float, CultureInfo.InvariantCulture, out double s) && s > 0 ? s : 6;
        TimeSpan idle = WorkerPool.IdleTimeout;
        WorkerPool.IdleTimeout = TimeSpan.FromSeconds(1); // so the end check does not wait the default 5 s
        try
        {
            Run(seconds);
        }
        finally
        {
            WorkerPool.IdleTimeout = idle;
        }
    }

    private static void Run(double seconds)
    {
        Graph resnet = TestNetworks.MiniResNet(batch: 2).Graph;
        int baselineThreads = ThreadLeakTests.SettlesTo(ThreadLeakTests.ProcessThreads(), 0, TimeSpan.FromSeconds(10));
        var samples = new List<Sample>();
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        long sessions = 0;
        var clock = Stopwatch.StartNew();
        var deadline = TimeSpan.FromSeconds(seconds);
        var workers = Enumerable.Range(0, Workers).Select(w => new Thread(() =>
        {
            var rng = new Random(w);
            for (int i = 0; clock.Elapsed < deadline && failures.IsEmpty; i++)
            {
                try
                {
                    var options = new FastConvSessionOptions
                    {
                        Backend = rng.Next(6) == 0 ? BackendNames.Reference : BackendNames.Cpu,
                        Threads = 1 + rng.Next(4),
                    };
                    // The public ways in: a builtin by name, or a graph built in code.
                    using FastConvSession session = ((i + w) % 3) switch
                    {
                        0 => FastConvSession.Load("builtin:lenet5", options),
                        1 => FastConvSession.Load("builtin:mnist", options),
                        _ => new FastConvSession(resnet, options),
                    };
                    float[] x = new float[session.Inputs[0].Shape.ElementCount];
                    for (int j = 0; j < x.Length; j++)
                    {
                        x[j] = rng.NextSingle() * 2 - 1;
                    }
                    float[] first = new float[session.Outputs[0].Shape.ElementCount], again = new float[first.Length];
                    session.Run(x, first);
                    for (int r = 0; r < 3; r++)
                    {
                        Array.Fill(again, float.NaN);
                        session.Run(x, again);
                        if (!again.AsSpan().SequenceEqual(first))
                        {
                            failures.Enqueue($"worker {w} session {i} ({options.Backend}, {options.Threads} threads): run {r + 2} differs from the first");
                        }
                    }
                    Interlocked.Increment(ref sessions);
                }
                catch (Exception e)
                {
                    failures.Enqueue($"worker {w} session {i}: {e}");
                }
            }
        })
        { IsBackground = true }).ToList();
        workers.ForEach(t => t.Start());

        TimeSpan interval = TimeSpan.FromSeconds(Math.Clamp(seconds / 30, 0.25, 10));
        using var process = Process.GetCurrentProcess();
        while (workers.Any(t => t.IsAlive))
        {
            // A full compacting collection first, so a sample measures what is retained, not how far the GC has
            // let garbage pile up since its last collection (that swings by hundreds of MiB with sessions this size).
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            process.Refresh();
            samples.Add(new Sample(clock.Elapsed.TotalSeconds, process.WorkingSet64, GC.GetTotalMemory(false), process.Threads.Count, WorkerPool.LiveHelperThreads, Interlocked.Read(ref sessions)));
            workers.FirstOrDefault(t => t.IsAlive)?.Join(interval);
        }
        workers.ForEach(t => t.Join());
        int afterThreads = ThreadLeakTests.SettlesTo(baselineThreads, 2, TimeSpan.FromSeconds(30));

        // Warm-up is the first quarter (at least 2 s): the JIT, the GC's heap growth and the first helper threads
        // settle there. Flat means the second half of the steady state is no higher than the first: medians, so one
        // sample taken while four sessions' weights happened to be alive does not decide it.
        Sample[] steady = [.. samples.Where(x => x.Seconds >= Math.Max(2, seconds / 4))];
        Sample[] early = steady[..(steady.Length / 2)], late = steady[(steady.Length / 2)..];
        static double Median(IEnumerable<double> v)
        {
            double[] a = [.. v.Order()];
            return a.Length == 0 ? double.NaN : a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2;
        }
        double firstRss = Median(early.Select(x => (double)x.RssBytes)), lastRss = Median(late.Select(x => (double)x.RssBytes));
        double firstHeap = Median(early.Select(x => (double)x.HeapBytes)), lastHeap = Median(late.Select(x => (double)x.HeapBytes));
        double firstThreads = Median(early.Select(x => (double)x.Threads)), lastThreads = Median(late.Select(x => (double)x.Threads));
        const double MiB = 1 << 20;
        TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"soak {seconds:F0} s, {Workers} workers: {Interlocked.Read(ref sessions)} sessions created, run 4 times each and disposed; {samples.Count} samples. " +
            $"Median RSS after warm-up {firstRss / MiB:F0} MiB (first half) -> {lastRss / MiB:F0} MiB (second half), max {samples.Max(x => x.RssBytes) / MiB:F0} MiB; " +
            $"managed heap after a full GC {firstHeap / MiB:F0} -> {lastHeap / MiB:F0} MiB; " +
            $"threads {baselineThreads} before, {firstThreads:F0} -> {lastThreads:F0} during (max {samples.Max(x => x.Threads)}, helpers max {samples.Max(x => x.Helpers)}), {afterThreads} after"));
        foreach (Sample x in samples)
        {
            TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  t={x.Seconds,7:F1} s  rss={x.RssBytes / MiB,7:F1} MiB  managed heap={x.HeapBytes / MiB,7:F1} MiB  threads={x.Threads,3}  helpers={x.Helpers}  sessions={x.Sessions}"));
        }

        Assert.That(failures, Is.Empty);
        Assert.That(early, Is.Not.Empty, "too few samples after warm-up");
        // Flat: within 20 % (plus 64 MiB: the GC returns freed memory to the OS lazily) of the first half.
        Assert.That(lastRss, Is.LessThanOrEqualTo(firstRss * 1.2 + 64 * MiB), "resident memory grows");
        Assert.That(lastHeap, Is.LessThanOrEqualTo(firstHeap * 1.2 + 64 * MiB), "the live managed heap grows");
        Assert.That(lastThreads, Is.LessThanOrEqualTo(firstThreads + 4), "the thread count grows");
        Assert.That(samples.Max(x => x.Helpers), Is.LessThanOrEqualTo(WorkerPool.MaxThreads - 1));
        Assert.That(afterThreads, Is.LessThanOrEqualTo(baselineThreads + 2), "threads left after every session was disposed");
        Assert.That(WorkerPool.LiveHelperThreads, Is.Zero);
    }
}
