using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using FastConv.Backends;
using FastConv.Cpu.Threading;
using Microsoft.ML.OnnxRuntime;

namespace FastConv.Cli.Bench;

/// <summary>What to run and how long to time it.</summary>
internal sealed record BenchOptions
{
    private readonly TimeSpan? _warmup;
    private readonly TimeSpan? _caseBudget;
    private readonly int? _minRounds;
    private readonly TimeSpan? _peakDuration;

    public required IReadOnlyList<string> Workloads { get; init; }

    /// <summary>Input shapes of the network workloads (<c>--shape</c>): their dynamic dimensions; the batch comes from <see cref="Batches"/>.</summary>
    public IReadOnlyDictionary<string, TensorShape>? Shapes { get; init; }

    /// <summary>Backend names (or auto) FastConv runs on.</summary>
    public IReadOnlyList<string> Backends { get; init; } = [BackendRegistry.Auto];

    /// <summary>Peers: ort, torch (TorchSharp, when built in), or any FastConv backend name (cudnn as the GPU peer, reference as the oracle). Null: the default per device.</summary>
    public IReadOnlyList<string>? Peers { get; init; }

    public IReadOnlyList<int> Threads { get; init; } = [Environment.ProcessorCount];
    public IReadOnlyList<int> Batches { get; init; } = [1];

    /// <summary>
    /// Callers at once (<c>--concurrency 1,2,4</c>): above 1, a network runs on one shared FastConv session and ORT on
    /// one shared InferenceSession, each caller on its own thread with its own output; layers are skipped there.
    /// </summary>
    public IReadOnlyList<int> Concurrency { get; init; } = [1];

    public bool Quick { get; init; }

    /// <summary>
    /// <c>--graphs</c>: network workloads on GPU backends run with CUDA Graph capture, and the same session without it
    /// is timed beside them as the peer <see cref="BenchRunner.NoGraphsPeer"/>: the difference is the launch overhead saved.
    /// </summary>
    public bool Graphs { get; init; }

    /// <summary>True forbids algorithms that change the arithmetic (Winograd on the CPU, TF32 on the GPU); the check tolerance tightens.</summary>
    public bool Exact { get; init; }

    /// <summary>Warm-up per case: every subject runs round-robin until this has passed (at least twice each).</summary>
    public TimeSpan Warmup { get => _warmup ?? (Quick ? TimeSpan.FromMilliseconds(60) : TimeSpan.FromMilliseconds(300)); init => _warmup = value; }

    /// <summary>Timing budget per case after warm-up; rounds stop when it is spent and <see cref="MinRounds"/> are done.</summary>
    public TimeSpan CaseBudget { get => _caseBudget ?? (Quick ? TimeSpan.FromMilliseconds(300) : TimeSpan.FromMilliseconds(2000)); init => _caseBudget = value; }

    /// <summary>Rounds always timed: enough for a median and a p10/p90 even for a slow case.</summary>
    public int MinRounds { get => _minRounds ?? (Quick ? 5 : 11); init => _minRounds = value; }

    public int MaxRounds => Quick ? 101 : 501;

    /// <summary>
    /// A sample is at least this long (calls are repeated back to back and averaged): a 20 µs op timed alone
    /// would be dominated by the timer's and the loop's own overhead and by one-off interrupts.
    /// </summary>
    public TimeSpan MinSample => Quick ? TimeSpan.FromMilliseconds(0.5) : TimeSpan.FromMilliseconds(1);

    /// <summary>Duration of each ceiling measurement (FMA loop, copy) per thread count.</summary>
    public TimeSpan PeakDuration { get => _peakDuration ?? (Quick ? TimeSpan.FromMilliseconds(150) : TimeSpan.FromMilliseconds(500)); init => _peakDuration = value; }
}

/// <summary>What the runner reports while it runs (drives the progress bar).</summary>
internal interface IBenchProgress
{
    void Start(int cases);

    void Case(string description);
}

/// <summary>
/// Runs <c>fastconv bench</c>: measures the ceilings, then for every (threads, backend, workload, batch) plans
/// FastConv, creates the peers on the same input and weights, compares every output with FastConv's before
/// anything is timed, and times the subjects that agree interleaved in the same rounds.
/// </summary>
internal sealed class BenchRunner(BenchOptions options, Func<string, BackendOptions, (IBackend Backend, IReadOnlyList<string> Skipped)>? createBackend = null)
{
    private readonly Func<string, BackendOptions, (IBackend Backend, IReadOnlyList<string> Skipped)> _createBackend
        = createBackend ?? ((name, o) => BackendRegistry.Resolve(name, o));

    public BenchReport Run(IBenchProgress? progress = null) => Run(BenchWorkloads.Parse(options.Workloads, options.Shapes), progress);

    /// <summary>Runs the given workloads (tests pass their own tiny ones; the names in the options are only recorded).</summary>
    public BenchReport Run(IReadOnlyList<BenchWorkload> workloads, IBenchProgress? progress = null)
    {
        var peaks = new List<BenchPeak>();
        var cases = new List<BenchCase>();
        var skipped = new List<BenchSkippedBackend>();
        var notes = new List<string>();
        progress?.Start(options.Threads.Count * options.Backends.Count * workloads.Count * options.Batches.Count * options.Concurrency.Count);

        foreach (int threads in options.Threads)
        {
            progress?.Case($"ceilings on {threads} thread(s)");
            peaks.Add(MeasurePeak(threads));
            foreach (string backendName in options.Backends)
            {
                IBackend backend;
                try
                {
                    (backend, IReadOnlyList<string> passedOver) = _createBackend(backendName, new BackendOptions { Threads = threads, Exact = options.Exact });
                    foreach (string why in passedOver)
                    {
                        AddSkip(skipped, why[..why.IndexOf(':', StringComparison.Ordinal)], why[(why.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim());
                    }
                }
                catch (BackendUnavailableException e)
                {
                    AddSkip(skipped, e.Backend, e.Reason);
                    for (int i = 0; i < workloads.Count * options.Batches.Count * options.Concurrency.Count; i++)
                    {
                        progress?.Case($"{backendName}: skipped");
                    }
                    continue;
                }
                if (options.Graphs && backend.Name == BackendNames.CudaEmu && !notes.Any(n => n.StartsWith(EmuGraphNote, StringComparison.Ordinal)))
                {
                    notes.Add(EmuGraphNote + " the emulator runs each kernel on the CPU, so --graphs figures there compare two ways of driving the emulator, not a GPU's launch overhead (compiled and emulated, not run on a GPU).");
                }
                using (backend)
                {
                    foreach (BenchWorkload workload in workloads)
                    {
                        foreach (int batch in options.Batches)
                        {
                            foreach (int callers in options.Concurrency)
                            {
                                progress?.Case($"{workload.Id} N={batch} on {backend.Name}, {threads} thread(s){(callers > 1 ? $", {callers} callers" : "")}");
                                cases.Add(callers == 1 ? RunCase(workload, backend, threads, batch, peaks[^1])
                                    : RunConcurrentCase(workload, backend, threads, batch, callers, peaks[^1]));
                            }
                        }
                    }
                }
            }
        }
        return new BenchReport(
            BenchReport.SchemaId,
            DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture),
            Machine(),
            Versions(),
            new BenchSettingsRecord(
                options.Workloads, options.Backends, options.Peers ?? ["default"], options.Threads, options.Batches, options.Quick, options.Exact,
                options.Warmup.TotalMilliseconds, options.CaseBudget.TotalMilliseconds, options.MinRounds, options.MaxRounds, options.MinSample.TotalMilliseconds,
                options.Concurrency, options.Graphs),
            peaks, cases, skipped, [], notes);
    }

    private static void AddSkip(List<BenchSkippedBackend> skipped, string backend, string reason)
    {
        if (!skipped.Any(s => s.Backend == backend))
        {
            skipped.Add(new BenchSkippedBackend(backend, reason));
        }
    }

    /// <summary>Peers when none were named: ONNX Runtime for the CPU, cuDNN's best algorithm for our GPU kernels.</summary>
    private IReadOnlyList<string> PeersFor(string backend)
        => options.Peers ?? (BenchDevices.Of(backend) == "cpu" ? ["ort"] : backend == BackendNames.Cudnn ? ["ort"] : [BackendNames.Cudnn]);

    /// <summary>The peer <c>--graphs</c> adds: FastConv on the same backend, run step by step.</summary>
    public const string NoGraphsPeer = "no-graphs";

    private const string EmuGraphNote = "cuda-emu:";

    /// <summary>One case: plan, peers, check, then time. Never throws for a problem of the case itself; the status says.</summary>
    internal BenchCase RunCase(BenchWorkload workload, IBackend backend, int threads, int batch, BenchPeak peak)
    {
        string device = BenchDevices.Of(backend.Name);
        BenchCase Empty(string status, string reason, string shape = "", double flops = 0, double bytes = 0, IReadOnlyList<BenchPeerResult>? peers = null)
            => new(workload.Id, workload.Set, workload.Name, workload.Kind, backend.Name, device, threads, batch, shape, flops, bytes,
                bytes > 0 ? flops / bytes : 0, status, reason, null, peers ?? []);

        BenchProblem problem;
        try
        {
            problem = workload.Create(batch);
        }
        catch (WorkloadUnavailableException e)
        {
            return Empty(BenchStatus.Skipped, e.Message);
        }
        using (problem)
        {
            var subjects = new List<IBenchSubject>();
            try
            {
                IBenchSubject fast;
                // Graph capture saves host-side launch work on a GPU backend; the host backends have nothing to capture.
                bool graphs = options.Graphs && device != "cpu" && problem.CanCaptureGraphs;
                try
                {
                    fast = graphs
                        ? problem.PlanWithGraphs(backend, $"fastconv:{backend.Name}+graphs", threads, options.Exact)
                        : problem.Plan(backend, $"fastconv:{backend.Name}", threads, options.Exact);
                }
                catch (FastConvException e)
                {
                    return Empty(BenchStatus.Failed, $"FastConv could not plan it on {backend.Name}: {e.Message}", problem.Shape, problem.Flops, problem.Bytes);
                }
                subjects.Add(fast);

                // Every peer first computes the same problem once; its output is compared with FastConv's before any timing.
                var peerResults = new List<(string Name, IBenchSubject? Subject, Agreement? Check, string? Error)>();
                float tolerance = problem.Tolerance(options.Exact);
                fast.Poison();
                fast.Run();
                foreach (string peerName in (graphs ? [NoGraphsPeer] : Array.Empty<string>()).Concat(PeersFor(backend.Name)))
                {
                    IBenchSubject? peer = null;
                    try
                    {
                        peer = peerName == NoGraphsPeer
                            ? problem.Plan(backend, $"fastconv:{backend.Name}", threads, options.Exact)
                            : CreatePeer(problem, peerName, threads);
                        subjects.Add(peer);
                        peer.Poison();
                        peer.Run();
                        Agreement check = OutputCheck.Compare(fast.Output, peer.Output, tolerance, "FastConv", peerName, problem.Normwise);
                        peerResults.Add((peerName, peer, check, null));
                    }
                    catch (Exception e) when (e is FastConvException or OnnxRuntimeException)
                    {
                        peerResults.Add((peerName, null, null, e.Message));
                    }
                }

                bool anyMismatch = peerResults.Any(p => p.Check is { Agrees: false });
                bool anyAgree = peerResults.Any(p => p.Check is { Agrees: true });
                // Wrong answers are not timed: a mismatch leaves FastConv and the disagreeing peer without figures.
                var timed = new List<IBenchSubject>();
                if (!anyMismatch)
                {
                    timed.Add(fast);
                    timed.AddRange(peerResults.Where(p => p.Check is { Agrees: true }).Select(p => p.Subject!));
                }
                Dictionary<IBenchSubject, Samples> samples = Time(timed);

                BenchTiming? Timing(IBenchSubject s) => samples.TryGetValue(s, out Samples? x)
                    ? x.ToTiming(s.Name, s.Algorithm, problem.Flops, problem.Bytes, s.Device == "cpu" ? peak.FmaGflops : BenchDevices.H100SxmFp32Gflops)
                    : null;

                BenchTiming? fastTiming = Timing(fast);
                var peers = peerResults.Select(p =>
                {
                    if (p.Subject is null)
                    {
                        return new BenchPeerResult(p.Name, "same-run", "?", "failed", null, null, p.Error ?? "", null, null);
                    }
                    BenchTiming? t = Timing(p.Subject);
                    Agreement c = p.Check!;
                    double? ratio = t is not null && fastTiming is not null && p.Subject.Device == fast.Device ? fastTiming.MedianMs / t.MedianMs : null;
                    return new BenchPeerResult(p.Name, "same-run", p.Subject.Device, c.Agrees ? "agree" : "mismatch",
                        Finite(c.MaxAbsDiff), Finite(c.Bound), c.Detail, t, ratio);
                }).ToList();

                string status = anyMismatch ? BenchStatus.Mismatch : anyAgree ? BenchStatus.Ok : BenchStatus.Unchecked;
                string? reason = anyMismatch
                    ? "outputs disagree (not timed): " + string.Join("; ", peers.Where(p => p.Check == "mismatch").Select(p => p.Detail))
                    : anyAgree ? null : "no peer could check FastConv's output: " + string.Join("; ", peers.Select(p => $"{p.Peer}: {p.Detail}"));
                double? saved = graphs && fastTiming is not null && peers.FirstOrDefault(p => p.Peer == NoGraphsPeer)?.Timing is { } stepwise
                    ? stepwise.MedianMs - fastTiming.MedianMs
                    : null;
                return new BenchCase(workload.Id, workload.Set, workload.Name, workload.Kind, backend.Name, device, threads, batch, problem.Shape,
                    problem.Flops, problem.Bytes, problem.Flops / problem.Bytes, status, reason, fastTiming, peers,
                    GraphSavedMs: saved, Graphs: graphs ? problem.GraphSummary : null);
            }
            catch (FastConvException e)
            {
                return Empty(BenchStatus.Failed, e.Message, problem.Shape, problem.Flops, problem.Bytes);
            }
            finally
            {
                foreach (IBenchSubject s in subjects)
                {
                    s.Dispose();
                }
            }
        }
    }

    private static double? Finite(double x) => double.IsFinite(x) ? x : null;

    /// <summary>
    /// One case with <paramref name="callers"/> concurrent callers: FastConv on one shared session and ORT on one shared
    /// InferenceSession (the only peer here), caller 0 of each checked against the other before timing, then both timed
    /// in interleaved rounds (<see cref="TimeConcurrent"/>), and every caller's last output checked again afterwards (a
    /// race shows as a mismatch). Never throws for a problem of the case itself.
    /// </summary>
    internal BenchCase RunConcurrentCase(BenchWorkload workload, IBackend backend, int threads, int batch, int callers, BenchPeak peak)
    {
        string device = BenchDevices.Of(backend.Name);
        BenchCase Empty(string status, string reason, string shape = "", double flops = 0, double bytes = 0, IReadOnlyList<BenchPeerResult>? peers = null)
            => new(workload.Id, workload.Set, workload.Name, workload.Kind, backend.Name, device, threads, batch, shape, flops, bytes,
                bytes > 0 ? flops / bytes : 0, status, reason, null, peers ?? [], callers);

        BenchProblem problem;
        try
        {
            problem = workload.Create(batch);
        }
        catch (WorkloadUnavailableException e)
        {
            return Empty(BenchStatus.Skipped, e.Message);
        }
        using (problem)
        {
            IConcurrentBenchSubject? fast = null, ort = null;
            try
            {
                try
                {
                    fast = problem.PlanConcurrent(backend, $"fastconv:{backend.Name}", threads, options.Exact, callers);
                }
                catch (FastConvException e)
                {
                    return Empty(BenchStatus.Failed, $"FastConv could not plan it on {backend.Name}: {e.Message}", problem.Shape, problem.Flops, problem.Bytes);
                }
                if (fast is null)
                {
                    return Empty(BenchStatus.Skipped, $"--concurrency {callers} runs whole networks on one shared session; a single layer's plan is not called concurrently",
                        problem.Shape, problem.Flops, problem.Bytes);
                }
                float tolerance = problem.Tolerance(options.Exact);
                fast.Poison(0);
                fast.Run(0);
                float[] reference = fast.Output(0).ToArray();
                string? ortError = null;
                Agreement? check = null;
                try
                {
                    ort = problem.OrtConcurrent(threads, callers);
                    if (ort is not null)
                    {
                        ort.Poison(0);
                        ort.Run(0);
                        check = OutputCheck.Compare(reference, ort.Output(0), tolerance, "FastConv", "ort");
                    }
                }
                catch (Exception e) when (e is FastConvException or OnnxRuntimeException)
                {
                    ortError = e.Message;
                }
                if (check is { Agrees: false })
                {
                    return Empty(BenchStatus.Mismatch, "outputs disagree (not timed): " + check.Detail, problem.Shape, problem.Flops, problem.Bytes,
                        [new BenchPeerResult("ort", "same-run", "cpu", "mismatch", Finite(check.MaxAbsDiff), Finite(check.Bound), check.Detail, null, null)]);
                }

                var timed = new List<IConcurrentBenchSubject> { fast };
                if (check is { Agrees: true })
                {
                    timed.Add(ort!);
                }
                for (int k = 0; k < callers; k++)
                {
                    foreach (IConcurrentBenchSubject s in timed)
                    {
                        s.Poison(k);
                    }
                }
                Dictionary<IConcurrentBenchSubject, (Samples Latency, double Throughput)> results = TimeConcurrent(timed, callers);

                // Every caller's last output against caller 0's checked one: concurrent calls must not disturb each other.
                foreach (IConcurrentBenchSubject s in timed)
                {
                    for (int k = 0; k < callers; k++)
                    {
                        Agreement same = OutputCheck.Compare(s.Output(k), reference, tolerance, $"{s.Name} caller {k}", "FastConv caller 0");
                        if (!same.Agrees)
                        {
                            return Empty(BenchStatus.Mismatch, $"concurrent calls disagree: {same.Detail}", problem.Shape, problem.Flops, problem.Bytes);
                        }
                    }
                }

                double? peakGflops = device == "cpu" ? peak.FmaGflops : BenchDevices.H100SxmFp32Gflops;
                BenchTiming Timing(IConcurrentBenchSubject s)
                {
                    (Samples latency, double throughput) = results[s];
                    return latency.ToTiming(s.Name, s.Algorithm, problem.Flops, problem.Bytes, s.Device == "cpu" ? peak.FmaGflops : peakGflops) with { ThroughputPerS = throughput };
                }
                BenchTiming fastTiming = Timing(fast);
                var peers = new List<BenchPeerResult>();
                if (check is { Agrees: true })
                {
                    BenchTiming t = Timing(ort!);
                    peers.Add(new BenchPeerResult("ort", "same-run", "cpu", "agree", Finite(check.MaxAbsDiff), Finite(check.Bound), check.Detail, t,
                        fast.Device == "cpu" ? fastTiming.MedianMs / t.MedianMs : null));
                }
                else
                {
                    peers.Add(new BenchPeerResult("ort", "same-run", "?", "failed", null, null, ortError ?? "ONNX Runtime has no shared-session peer for this workload", null, null));
                }
                string status = check is { Agrees: true } ? BenchStatus.Ok : BenchStatus.Unchecked;
                string? reason = status == BenchStatus.Ok ? null : "no peer could check FastConv's output: " + peers[0].Detail;
                return new BenchCase(workload.Id, workload.Set, workload.Name, workload.Kind, backend.Name, device, threads, batch, problem.Shape,
                    problem.Flops, problem.Bytes, problem.Flops / problem.Bytes, status, reason, fastTiming, peers, callers);
            }
            catch (FastConvException e)
            {
                return Empty(BenchStatus.Failed, e.Message, problem.Shape, problem.Flops, problem.Bytes);
            }
            finally
            {
                fast?.Dispose();
                ort?.Dispose();
            }
        }
    }

    /// <summary>
    /// Concurrent timing: a warm-up, then rounds alternating between the subjects (the order rotating each round); in a
    /// round every caller makes the same number of back-to-back calls at once (enough for a round of ≥ 5 ms, at least
    /// <see cref="BenchOptions.MinSample"/>). Per subject: each caller's mean call time of each round (the latency
    /// samples) and, per round, all callers' calls over the round's wall time (the throughput; the median is reported).
    /// </summary>
    private Dictionary<IConcurrentBenchSubject, (Samples Latency, double Throughput)> TimeConcurrent(IReadOnlyList<IConcurrentBenchSubject> subjects, int callers)
    {
        using var group = new ConcurrentCallers(callers);
        var estimate = new double[subjects.Count];
        var warm = Stopwatch.StartNew();
        for (int round = 0; round < 2 || warm.Elapsed < options.Warmup; round++)
        {
            for (int i = 0; i < subjects.Count; i++)
            {
                IConcurrentBenchSubject s = subjects[i];
                estimate[i] = group.Round(s.Run, 1).TotalSeconds;
            }
        }
        double roundSeconds = Math.Max(options.MinSample.TotalSeconds, 0.005);
        var calls = new int[subjects.Count];
        var latency = new List<double>[subjects.Count];
        var throughput = new List<double>[subjects.Count];
        for (int i = 0; i < subjects.Count; i++)
        {
            calls[i] = (int)Math.Clamp(Math.Ceiling(roundSeconds / Math.Max(estimate[i], 1e-9)), 1, 10_000);
            latency[i] = [];
            throughput[i] = [];
        }
        var budget = Stopwatch.StartNew();
        for (int round = 0; round < options.MaxRounds && (round < options.MinRounds || budget.Elapsed < options.CaseBudget); round++)
        {
            for (int j = 0; j < subjects.Count; j++)
            {
                int i = (j + round) % subjects.Count;
                TimeSpan wall = group.Round(subjects[i].Run, calls[i]);
                foreach (double ms in group.PerCallMs)
                {
                    latency[i].Add(ms);
                }
                throughput[i].Add(callers * calls[i] / wall.TotalSeconds);
            }
        }
        var result = new Dictionary<IConcurrentBenchSubject, (Samples, double)>();
        for (int i = 0; i < subjects.Count; i++)
        {
            result[subjects[i]] = (new Samples(latency[i], calls[i]), Samples.Quantile([.. throughput[i].Order()], 0.5));
        }
        return result;
    }

    private IBenchSubject CreatePeer(BenchProblem problem, string peer, int threads)
    {
        if (peer == "ort")
        {
            return problem.Ort(threads);
        }
        if (peer == TorchPeer.Name)
        {
            return problem.Torch(threads);
        }
        // Any other peer is a FastConv backend (cudnn's own algorithm search, or the scalar reference).
        (IBackend backend, _) = _createBackend(peer, new BackendOptions { Threads = threads, Exact = options.Exact });
        try
        {
            IBenchSubject planned = problem.Plan(backend, peer, threads, options.Exact);
            return new OwningSubject(planned, backend);
        }
        catch
        {
            backend.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Interleaved timing: warm-up round-robin, then rounds in which every subject takes one sample, the
    /// order rotating each round so no subject always runs right after another's cache traffic. A sample is
    /// the mean of enough back-to-back calls to last <see cref="BenchOptions.MinSample"/>.
    /// </summary>
    private Dictionary<IBenchSubject, Samples> Time(IReadOnlyList<IBenchSubject> subjects)
    {
        var result = new Dictionary<IBenchSubject, Samples>();
        if (subjects.Count == 0)
        {
            return result;
        }
        var estimate = new double[subjects.Count];
        var warm = Stopwatch.StartNew();
        for (int round = 0; round < 2 || warm.Elapsed < options.Warmup; round++)
        {
            for (int i = 0; i < subjects.Count; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                subjects[i].Run();
                estimate[i] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            }
        }
        var calls = new int[subjects.Count];
        var lists = new List<double>[subjects.Count];
        for (int i = 0; i < subjects.Count; i++)
        {
            calls[i] = (int)Math.Clamp(Math.Ceiling(options.MinSample.TotalSeconds / Math.Max(estimate[i], 1e-9)), 1, 10_000);
            lists[i] = new List<double>(options.MaxRounds);
        }
        var budget = Stopwatch.StartNew();
        for (int round = 0; round < options.MaxRounds && (round < options.MinRounds || budget.Elapsed < options.CaseBudget); round++)
        {
            for (int j = 0; j < subjects.Count; j++)
            {
                int i = (j + round) % subjects.Count;
                IBenchSubject s = subjects[i];
                int n = calls[i];
                long t0 = Stopwatch.GetTimestamp();
                for (int k = 0; k < n; k++)
                {
                    s.Run();
                }
                lists[i].Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds / n);
            }
        }
        for (int i = 0; i < subjects.Count; i++)
        {
            result[subjects[i]] = new Samples(lists[i], calls[i]);
        }
        return result;
    }

    /// <summary>The FMA ceiling and the copy bandwidth on <paramref name="threads"/> threads, measured now.</summary>
    private BenchPeak MeasurePeak(int threads)
    {
        double fma = FmaPeak.Measure(threads, options.PeakDuration);
        // 64 MiB each way: far beyond any L3 of the machines we run on, so the copy streams from DRAM.
        const int elements = 16 << 20;
        float[] source = GC.AllocateUninitializedArray<float>(elements, pinned: true);
        float[] target = GC.AllocateUninitializedArray<float>(elements, pinned: true);
        source.AsSpan().Fill(1f);
        target.AsSpan().Clear();
        var copy = new ParallelCopy(source, target, WorkerPool.ForThreads(threads));
        copy.Run();
        double best = 0;
        var total = Stopwatch.StartNew();
        while (total.Elapsed < options.PeakDuration)
        {
            long t0 = Stopwatch.GetTimestamp();
            copy.Run();
            best = Math.Max(best, 2.0 * elements * sizeof(float) / Stopwatch.GetElapsedTime(t0).TotalSeconds / 1e9);
        }
        return new BenchPeak(threads, fma, best);
    }

    internal static BenchMachine Machine()
    {
        Interop.GpuStatus gpu = Interop.GpuProbe.Detect();
        string gpuText = gpu.Usable
            ? string.Join(", ", gpu.Devices.Select(d => $"{d.Name} ({d.Architecture})"))
            : $"none usable: {gpu.Unusable}";
        double? load = null;
        try
        {
            if (File.Exists("/proc/loadavg"))
            {
                load = double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        catch (IOException)
        {
        }
        return new BenchMachine(Cpu.CpuFeatures.CpuModel(), Environment.ProcessorCount, RuntimeInformation.OSDescription,
            Cpu.CpuFeatures.Current.ToString(), Cpu.CpuFeatures.Explain(), gpuText, load);
    }

    internal static BenchVersions Versions()
    {
        string version = typeof(BenchRunner).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?";
        return new BenchVersions(version.Split('+')[0], RuntimeInformation.FrameworkDescription, OrtEnv.Instance().GetVersionString());
    }

    /// <summary>A peer planned on its own backend, which it owns.</summary>
    private sealed class OwningSubject(IBenchSubject inner, IBackend backend) : IBenchSubject
    {
        public string Name => inner.Name;
        public string? Algorithm => inner.Algorithm;
        public string Device => inner.Device;
        public ReadOnlySpan<float> Output => inner.Output;

        public void Run() => inner.Run();

        public void Poison() => inner.Poison();

        public void Dispose()
        {
            inner.Dispose();
            backend.Dispose();
        }
    }
}

/// <summary>Per-call times of one subject (ms) and the statistics the report prints.</summary>
internal sealed class Samples(List<double> ms, int callsPerSample)
{
    public BenchTiming ToTiming(string subject, string? algorithm, double flops, double bytes, double? peakGflops)
    {
        double[] sorted = [.. ms.Order()];
        double median = Quantile(sorted, 0.5);
        double gflops = flops / (median * 1e-3) / 1e9;
        return new BenchTiming(subject, algorithm, sorted.Length, callsPerSample, median, Quantile(sorted, 0.1), Quantile(sorted, 0.9), sorted[0],
            gflops, bytes / (median * 1e-3) / 1e9, peakGflops is > 0 ? 100.0 * gflops / peakGflops.Value : null, 1000.0 / median);
    }

    /// <summary>Linear interpolation between closest ranks (numpy's default), on sorted values.</summary>
    public static double Quantile(IReadOnlyList<double> sorted, double q)
    {
        if (sorted.Count == 1)
        {
            return sorted[0];
        }
        double pos = q * (sorted.Count - 1);
        int lo = (int)Math.Floor(pos);
        int hi = Math.Min(lo + 1, sorted.Count - 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }
}
