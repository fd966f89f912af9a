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
/// A persistent pool of worker threads, one per process per thread count (ONNX Runtime's users learned
/// that a pool per session contends). <see cref="For"/> hands out indices dynamically; the calling thread
/// works too, so a pool of T threads starts T − 1 workers. Calls from several threads at once are
/// serialized; a <see cref="For"/> from inside a job runs inline on the calling thread. Zero allocation per call.
/// </summary>
public sealed class WorkerPool : IDisposable
{
    /// <summary>Environment variable that sizes <see cref="Shared"/> (default: the logical core count).</summary>
    public const string ThreadsVariable = "FASTCONV_THREADS";

    private static readonly ConcurrentDictionary<int, WorkerPool> BySize = new();

    [ThreadStatic]
    private static bool t_inJob;

    private readonly Thread[] _workers;
    private readonly SemaphoreSlim _start = new(0);
    private readonly ManualResetEventSlim _done = new(false);
    private readonly Lock _gate = new();
    private IParallelJob? _job;
    private int _count;
    private int _next;
    // Admission of helpers to the current call: ≥ 0 counts the helpers that joined, negative means closed.
    // The caller closes it once it has drained the indices itself, then waits only for helpers that joined —
    // never for one the OS has not scheduled yet (on a loaded machine that wait cost milliseconds per call).
    private int _admission = int.MinValue;
    // Helpers still working, plus Unjoined until the caller closes admission and subtracts it (adding the count
    // that joined): whoever brings it to zero is the last one out. If that is a helper, the caller is waiting and
    // gets the signal; if it is the caller, every helper is gone and it does not wait. No signal outlives its call.
    private const int Unjoined = 1 << 30;
    private int _remaining;
    private ExceptionDispatchInfo? _failure;
    private volatile bool _disposed;

    public WorkerPool(int threads)
    {
        if (threads < 1)
        {
            throw new InvalidHyperparameterException($"WorkerPool: thread count must be >= 1, got {threads}.");
        }
        Threads = threads;
        _workers = new Thread[threads - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            _workers[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"FastConv worker {i + 1}/{threads}" };
            _workers[i].Start();
        }
    }

    /// <summary>The process-wide pool sized by <c>FASTCONV_THREADS</c> or the logical core count.</summary>
    public static WorkerPool Shared => ForThreads(DefaultThreads());

    /// <summary>The process-wide pool with exactly <paramref name="threads"/> threads (created once).</summary>
    public static WorkerPool ForThreads(int threads) => BySize.GetOrAdd(threads, t => new WorkerPool(t));

    /// <summary>The thread count <see cref="Shared"/> uses.</summary>
    public static int DefaultThreads()
    {
        string? env = Environment.GetEnvironmentVariable(ThreadsVariable);
        if (string.IsNullOrEmpty(env))
        {
            return Environment.ProcessorCount;
        }
        return int.TryParse(env, out int n) && n >= 1
            ? n
            : throw new InvalidHyperparameterException($"{ThreadsVariable}='{env}' is not a thread count >= 1.");
    }

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
        lock (_gate)
        {
            _job = job;
            _count = count;
            _next = 0;
            _failure = null;
            _remaining = Unjoined;
            _done.Reset();
            Volatile.Write(ref _admission, 0);
            // Wake as many helpers as could take an index; permits left over from a call they slept through count.
            int wake = Math.Min(Threads - 1, count - 1) - _start.CurrentCount;
            if (wake > 0)
            {
                _start.Release(wake);
            }
            t_inJob = true;
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
                t_inJob = false;
            }
            int joined = Interlocked.Exchange(ref _admission, int.MinValue);
            if (Interlocked.Add(ref _remaining, joined - Unjoined) != 0)
            {
                _done.Wait();
            }
            _job = null;
            _failure?.Throw();
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

    private void WorkerLoop()
    {
        t_inJob = true;
        while (true)
        {
            _start.Wait();
            if (_disposed)
            {
                return;
            }
            if (!TryJoin())
            {
                continue; // woken for a call that the caller already finished alone
            }
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
    }

    private bool TryJoin()
    {
        int admitted;
        do
        {
            admitted = Volatile.Read(ref _admission);
            if (admitted < 0)
            {
                return false;
            }
        }
        while (Interlocked.CompareExchange(ref _admission, admitted + 1, admitted) != admitted);
        return true;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _start.Release(_workers.Length);
        foreach (Thread t in _workers)
        {
            t.Join();
        }
        _start.Dispose();
        _done.Dispose();
    }
}
