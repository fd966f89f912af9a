using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;

namespace FastConv.Cpu.Threading;

/// <summary>
/// A unit of parallel work: <see cref="Run"/> is called once for every index of a <see cref="WorkerPool.For"/>.
/// Implement it on a class allocated at plan time, so that running allocates nothing.
/// </summary>
public interface IParallelJob
{
    void Run(int index);
}

/// <summary>
/// A degree of parallelism over the one process-wide set of CPU worker threads (ONNX Runtime's users learned that
/// a pool per session contends and leaks threads). A <see cref="WorkerPool"/> owns no thread: <see cref="Threads"/>
/// only says how many threads — the caller and up to <see cref="Threads"/> − 1 helpers — may work on one
/// <see cref="For"/>. The helpers come from <see cref="WorkerThreads"/>: at most <see cref="MaxThreads"/> − 1 of
/// them in the whole process, started when first needed and ended after <see cref="IdleTimeout"/> without work, so
/// any number of sessions, with any thread counts, hold at most one core's worth of threads each and none when idle.
/// <para>
/// <see cref="For"/> hands out indices dynamically; the calling thread works too and never waits for a helper the
/// OS has not scheduled yet (it drains the indices alone if need be). Calls from several threads, on one pool or
/// many, run side by side, sharing the helpers; a <see cref="For"/> from inside a job runs inline on the calling
/// thread. Zero allocation per call once a calling thread has made its first call (and the helpers it uses are
/// running: a helper that ended after the idle timeout is started again, which allocates once).
/// </para>
/// </summary>
public sealed class WorkerPool : IDisposable
{
    /// <summary>Environment variable that sizes <see cref="Shared"/> (default: the logical core count).</summary>
    public const string ThreadsVariable = "FASTCONV_THREADS";

    private static readonly ConcurrentDictionary<int, WorkerPool> BySize = new();

    [ThreadStatic]
    internal static bool t_inJob;

    [ThreadStatic]
    private static ParallelCall? t_call;

    private readonly bool _cached;
    private volatile bool _disposed;

    /// <summary>
    /// A pool of <paramref name="threads"/> (the caller included), capped at <see cref="MaxThreads"/>: more threads
    /// than cores only take turns on them, and every plan sized for them would hold idle scratch.
    /// </summary>
    public WorkerPool(int threads)
        : this(threads, cached: false)
    {
    }

    private WorkerPool(int threads, bool cached)
    {
        if (threads < 1)
        {
            throw new InvalidHyperparameterException($"WorkerPool: thread count must be >= 1, got {threads}.");
        }
        Threads = Math.Min(threads, MaxThreads);
        _cached = cached;
    }

    /// <summary>
    /// The most threads one call uses, and the most the process holds for all pools together (helpers plus the
    /// caller): the logical core count (<see cref="Environment.ProcessorCount"/>, which honours the process's CPU
    /// affinity and container quota). A larger request (<c>Threads = 1000</c>) is capped to it.
    /// </summary>
    public static int MaxThreads { get; } = Math.Max(1, Environment.ProcessorCount);

    /// <summary>
    /// How long a helper thread waits for work before it ends (default 5 s): long enough that back-to-back runs
    /// never pay for starting threads, short enough that a process that stopped inferring holds none.
    /// </summary>
    public static TimeSpan IdleTimeout
    {
        get => WorkerThreads.IdleTimeout;
        set => WorkerThreads.IdleTimeout = value > TimeSpan.Zero && value.TotalMilliseconds <= int.MaxValue
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, "the idle timeout must be positive and at most int.MaxValue ms");
    }

    /// <summary>Helper threads alive in the process now (for tests and diagnostics).</summary>
    public static int LiveHelperThreads => WorkerThreads.Live;

    /// <summary>The process-wide pool sized by <c>FASTCONV_THREADS</c> or the logical core count.</summary>
    public static WorkerPool Shared => ForThreads(DefaultThreads());

    /// <summary>
    /// The pool for <paramref name="threads"/> (capped at <see cref="MaxThreads"/>): one object per degree, all
    /// sharing the process's helper threads. Disposing it does nothing; it is shared.
    /// </summary>
    public static WorkerPool ForThreads(int threads)
    {
        if (threads < 1)
        {
            throw new InvalidHyperparameterException($"WorkerPool: thread count must be >= 1, got {threads}.");
        }
        return BySize.GetOrAdd(Math.Min(threads, MaxThreads), t => new WorkerPool(t, cached: true));
    }

    /// <summary>
    /// The thread count <see cref="Shared"/> uses: <c>FASTCONV_THREADS</c>, else the logical core count. Read only when
    /// called (a caller that names its thread count never reads the variable); a value that is not a whole number
    /// ≥ 1 throws <see cref="InvalidSettingException"/> naming the variable.
    /// </summary>
    public static int DefaultThreads()
    {
        string? env = Environment.GetEnvironmentVariable(ThreadsVariable);
        if (string.IsNullOrEmpty(env))
        {
            return Environment.ProcessorCount;
        }
        return int.TryParse(env, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) && n >= 1
            ? n
            : throw new InvalidSettingException(ThreadsVariable, $"{ThreadsVariable}='{env}' is not a thread count >= 1; set a whole number (it is capped at the {MaxThreads} logical cores) or unset it.");
    }

    /// <summary>Threads one call may use, the caller included (the request capped at <see cref="MaxThreads"/>).</summary>
    public int Threads { get; }

    /// <summary>Runs <c>job.Run(i)</c> for every i in [0, count) and returns when all are done; rethrows the first failure.</summary>
    public void For(int count, IParallelJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (count <= 0)
        {
            return;
        }
        if (count == 1 || Threads == 1 || t_inJob)
        {
            for (int i = 0; i < count; i++)
            {
                job.Run(i);
            }
            return;
        }
        ParallelCall call = t_call ??= new ParallelCall();
        call.Run(job, count, Math.Min(Threads - 1, count - 1));
    }

    /// <summary>Marks a pool made with the constructor as disposed (it owns no thread); the shared pools ignore it.</summary>
    public void Dispose()
    {
        if (!_cached)
        {
            _disposed = true;
        }
    }
}

/// <summary>
/// One calling thread's <see cref="WorkerPool.For"/> in flight, reused by every call from that thread (so a call
/// allocates nothing). Helpers join it through <see cref="TryJoin"/>, while it is listed in <see cref="WorkerThreads"/>.
/// </summary>
internal sealed class ParallelCall
{
    // Helpers still working, plus Unjoined until the caller closes admission and subtracts it (adding the count
    // that joined): whoever brings it to zero is the last one out. If that is a helper, the caller is waiting and
    // gets the signal; if it is the caller, every helper is gone and it does not wait. No signal outlives its call.
    private const int Unjoined = 1 << 30;

    private readonly ManualResetEventSlim _done = new(false);
    private IParallelJob? _job;
    private int _count;
    private int _next;
    // Admission of helpers: ≥ 0 counts the helpers that joined, negative means closed. The caller closes it once it
    // has drained the indices itself, then waits only for helpers that joined.
    private int _admission = int.MinValue;
    private int _remaining;
    private ExceptionDispatchInfo? _failure;

    /// <summary>Helpers this call can still use.</summary>
    internal int Wanted;

    /// <summary>Links of <see cref="WorkerThreads"/>' list of open calls (guarded by its lock).</summary>
    internal ParallelCall? Previous, NextOpen;
    internal bool Listed;

    public void Run(IParallelJob job, int count, int helpers)
    {
        _job = job;
        _count = count;
        _next = 0;
        _failure = null;
        _remaining = Unjoined;
        _done.Reset();
        Wanted = helpers;
        Volatile.Write(ref _admission, 0);
        WorkerThreads.Open(this);
        WorkerPool.t_inJob = true;
        try
        {
            Work();
        }
        catch (Exception e)
        {
            _failure ??= ExceptionDispatchInfo.Capture(e);
            _next = int.MaxValue / 2; // stop handing out indices
        }
        finally
        {
            WorkerPool.t_inJob = false;
        }
        int joined = Interlocked.Exchange(ref _admission, int.MinValue);
        WorkerThreads.Close(this);
        if (Interlocked.Add(ref _remaining, joined - Unjoined) != 0)
        {
            _done.Wait();
        }
        _job = null;
        _failure?.Throw();
    }

    /// <summary>True when there are indices left and room for another helper (read under the list's lock).</summary>
    internal bool WantsHelp => Volatile.Read(ref _next) < _count && Volatile.Read(ref _admission) is >= 0 and var a && a < Wanted;

    /// <summary>Admits one helper unless the call has closed or has all the helpers it wants.</summary>
    internal bool TryJoin()
    {
        int admitted;
        do
        {
            admitted = Volatile.Read(ref _admission);
            if (admitted < 0 || admitted >= Wanted)
            {
                return false;
            }
        }
        while (Interlocked.CompareExchange(ref _admission, admitted + 1, admitted) != admitted);
        return true;
    }

    /// <summary>A joined helper's share: indices until none are left, then its exit.</summary>
    internal void Help()
    {
        try
        {
            Work();
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _failure, ExceptionDispatchInfo.Capture(e), null);
            _next = int.MaxValue / 2;
        }
        finally
        {
            if (Interlocked.Decrement(ref _remaining) == 0)
            {
                _done.Set();
            }
        }
    }

    private void Work()
    {
        IParallelJob job = _job!;
        int i;
        while ((i = Interlocked.Increment(ref _next) - 1) < _count)
        {
            job.Run(i);
        }
    }
}

/// <summary>
/// The process's helper threads: at most <see cref="WorkerPool.MaxThreads"/> − 1, started on demand by the calls
/// that want help, each ending after <see cref="IdleTimeout"/> without work. Open calls wait in a list (a linked
/// list through the calls themselves: no allocation); an idle helper takes the first call that still wants help.
/// </summary>
internal static class WorkerThreads
{
    private static readonly Lock s_lock = new();
    private static readonly SemaphoreSlim s_wake = new(0);
    private static ParallelCall? s_head, s_tail;
    private static int s_live, s_idle, s_started;

    public static TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(5);

    public static int Live => Volatile.Read(ref s_live);

    private static int MaxHelpers => WorkerPool.MaxThreads - 1;

    /// <summary>Lists <paramref name="call"/> and wakes (or starts) the helpers it wants.</summary>
    public static void Open(ParallelCall call)
    {
        int wake, start;
        lock (s_lock)
        {
            call.Previous = s_tail;
            call.NextOpen = null;
            if (s_tail is null)
            {
                s_head = call;
            }
            else
            {
                s_tail.NextOpen = call;
            }
            s_tail = call;
            call.Listed = true;
            // Idle helpers not already woken take the call first; then new threads, up to the process-wide cap.
            // Busy helpers look at the list again before they sleep, so a call also gets them as they free up.
            wake = Math.Min(call.Wanted, Math.Max(0, s_idle - s_wake.CurrentCount));
            start = Math.Min(call.Wanted - wake, MaxHelpers - s_live);
            if (start > 0)
            {
                s_live += start;
            }
        }
        if (wake > 0)
        {
            s_wake.Release(wake);
        }
        for (int i = 0; i < start; i++)
        {
            int id = Interlocked.Increment(ref s_started);
            new Thread(HelperLoop) { IsBackground = true, Name = $"FastConv worker {id}" }.Start();
        }
    }

    /// <summary>Unlists <paramref name="call"/> (its admission is closed already).</summary>
    public static void Close(ParallelCall call)
    {
        lock (s_lock)
        {
            if (!call.Listed)
            {
                return;
            }
            if (call.Previous is null)
            {
                s_head = call.NextOpen;
            }
            else
            {
                call.Previous.NextOpen = call.NextOpen;
            }
            if (call.NextOpen is null)
            {
                s_tail = call.Previous;
            }
            else
            {
                call.NextOpen.Previous = call.Previous;
            }
            call.Previous = call.NextOpen = null;
            call.Listed = false;
        }
    }

    private static ParallelCall? TakeCall()
    {
        for (ParallelCall? c = s_head; c is not null; c = c.NextOpen)
        {
            if (c.WantsHelp && c.TryJoin())
            {
                return c;
            }
        }
        return null;
    }

    private static void HelperLoop()
    {
        WorkerPool.t_inJob = true; // a For from inside a job runs inline
        while (true)
        {
            ParallelCall? call;
            lock (s_lock)
            {
                call = TakeCall();
                if (call is null)
                {
                    s_idle++;
                }
            }
            if (call is not null)
            {
                call.Help();
                continue;
            }
            bool woken = s_wake.Wait(IdleTimeout);
            lock (s_lock)
            {
                s_idle--;
                if (!woken && (s_head is null || !AnyWantsHelp()))
                {
                    s_live--;
                    return;
                }
            }
        }
    }

    private static bool AnyWantsHelp()
    {
        for (ParallelCall? c = s_head; c is not null; c = c.NextOpen)
        {
            if (c.WantsHelp)
            {
                return true;
            }
        }
        return false;
    }
}
