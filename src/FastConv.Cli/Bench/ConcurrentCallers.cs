using System.Diagnostics;

namespace FastConv.Cli.Bench;

/// <summary>
/// Something several callers run at once: one shared FastConv session or one shared ONNX Runtime InferenceSession,
/// each caller with its own pre-allocated output (and, for ORT, its own IO binding), all reading the same input.
/// </summary>
internal interface IConcurrentBenchSubject : IDisposable
{
    /// <summary>"fastconv:cpu", "ort", … as the report names it.</summary>
    string Name { get; }

    string? Algorithm { get; }

    string Device { get; }

    int Callers { get; }

    /// <summary>One call by caller <paramref name="caller"/>: may run while the other callers' calls run; allocates nothing.</summary>
    void Run(int caller);

    /// <summary>The output of caller <paramref name="caller"/>'s last call.</summary>
    ReadOnlySpan<float> Output(int caller);

    /// <summary>NaN in caller <paramref name="caller"/>'s output, so an element its next call does not write fails the check.</summary>
    void Poison(int caller);
}

/// <summary>
/// A fixed group of caller threads made once per case (the thread pool would add its own start-up delays to a
/// round): each round releases every caller at once, each makes its calls back to back, and the round's wall time is
/// taken from the release to the last caller's end. Threads are background threads and end when the group is disposed.
/// </summary>
internal sealed class ConcurrentCallers : IDisposable
{
    private readonly Thread[] _threads;
    private readonly Barrier _start;
    private readonly Barrier _end;
    private readonly double[] _perCallMs;
    private Action<int>? _work;
    private int _calls;
    private volatile bool _stopping;
    private Exception? _failure;

    public ConcurrentCallers(int callers)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(callers, 1);
        _start = new Barrier(callers + 1);
        _end = new Barrier(callers + 1);
        _perCallMs = new double[callers];
        _threads = new Thread[callers];
        for (int k = 0; k < callers; k++)
        {
            int caller = k;
            _threads[k] = new Thread(() => Loop(caller)) { IsBackground = true, Name = $"fastconv-bench-caller-{k}" };
            _threads[k].Start();
        }
    }

    public int Count => _threads.Length;

    /// <summary>The mean time of one call of each caller in the last round (ms).</summary>
    public ReadOnlySpan<double> PerCallMs => _perCallMs;

    /// <summary>
    /// One round: every caller runs <paramref name="work"/>(caller) <paramref name="calls"/> times; returns the wall time
    /// from the release to the last caller's end. A caller's exception is rethrown here, after every caller has stopped.
    /// </summary>
    public TimeSpan Round(Action<int> work, int calls)
    {
        _work = work;
        _calls = calls;
        long t0 = Stopwatch.GetTimestamp();
        _start.SignalAndWait();
        _end.SignalAndWait();
        TimeSpan wall = Stopwatch.GetElapsedTime(t0);
        if (Interlocked.Exchange(ref _failure, null) is { } e)
        {
            throw new InvalidOperationException($"a bench caller failed: {e.Message}", e);
        }
        return wall;
    }

    private void Loop(int caller)
    {
        while (true)
        {
            _start.SignalAndWait();
            if (_stopping)
            {
                return;
            }
            try
            {
                long t0 = Stopwatch.GetTimestamp();
                for (int i = 0; i < _calls; i++)
                {
                    _work!(caller);
                }
                _perCallMs[caller] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds / _calls;
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _failure, e, null);
            }
            _end.SignalAndWait();
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _start.SignalAndWait();
        foreach (Thread t in _threads)
        {
            t.Join();
        }
        _start.Dispose();
        _end.Dispose();
    }
}
