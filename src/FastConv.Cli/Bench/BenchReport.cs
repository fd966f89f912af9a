using System.Text.Json;
using System.Text.Json.Serialization;

namespace FastConv.Cli.Bench;

/// <summary>
/// Everything one <c>fastconv bench</c> run measured, as written by <c>--json</c> (snake_case; schema in
/// docs/bench/bench.schema.json, checked by a test). Times are milliseconds per call.
/// </summary>
/// <param name="Schema">"fastconv-bench/2" (2 added concurrency and throughput_per_s; /1 files still read): bumped when a field changes meaning.</param>
/// <param name="CreatedUtc">When the run ended (ISO 8601, UTC).</param>
/// <param name="Machine">What it ran on.</param>
/// <param name="Versions">FastConv, .NET and peer versions.</param>
/// <param name="Settings">The settings the figures were taken with.</param>
/// <param name="Peaks">The machine's ceilings measured in the same run, per thread count.</param>
/// <param name="Cases">One entry per (workload, backend, threads, batch).</param>
/// <param name="SkippedBackends">Backends asked for that could not be created here, with the reason.</param>
/// <param name="Imported">Peer figures merged from other runs (--peer-json), e.g. PyTorch on the GPU machine.</param>
/// <param name="Notes">Free-text remarks for a reader (load on the machine, what was merged).</param>
internal sealed record BenchReport(
    string Schema,
    string CreatedUtc,
    BenchMachine Machine,
    BenchVersions Versions,
    BenchSettingsRecord Settings,
    IReadOnlyList<BenchPeak> Peaks,
    IReadOnlyList<BenchCase> Cases,
    IReadOnlyList<BenchSkippedBackend> SkippedBackends,
    IReadOnlyList<BenchImport> Imported,
    IReadOnlyList<string> Notes)
{
    public const string SchemaId = "fastconv-bench/2";

    /// <summary>Cases whose outputs disagreed with a peer, or that failed to plan or run.</summary>
    [JsonIgnore]
    public int Problems => Cases.Count(c => c.Status is BenchStatus.Mismatch or BenchStatus.Failed);

    public string ToJson() => JsonSerializer.Serialize(this, BenchJsonContext.Relaxed.BenchReport);

    public static BenchReport FromJson(string json)
        => JsonSerializer.Deserialize(json, BenchJsonContext.Default.BenchReport) ?? throw new InvalidBenchArgumentException("the bench JSON is empty");
}

/// <summary>The machine: CPU, cores, OS, SIMD level FastConv uses, GPU status.</summary>
internal sealed record BenchMachine(string Cpu, int LogicalCores, string Os, string Simd, string SimdReason, string Gpu, double? LoadAverage);

/// <summary>Versions of everything timed.</summary>
internal sealed record BenchVersions(string Fastconv, string Dotnet, string OnnxRuntime);

/// <summary>The run's settings: what was asked for, and the timing rules.</summary>
internal sealed record BenchSettingsRecord(
    IReadOnlyList<string> Workloads,
    IReadOnlyList<string> Backends,
    IReadOnlyList<string> Peers,
    IReadOnlyList<int> Threads,
    IReadOnlyList<int> Batches,
    bool Quick,
    bool Exact,
    double WarmupMs,
    double CaseBudgetMs,
    int MinRounds,
    int MaxRounds,
    double MinSampleMs,
    IReadOnlyList<int>? Concurrency = null,
    bool Graphs = false);

/// <summary>The measured ceilings for one thread count: the FMA loop and a parallel copy.</summary>
/// <param name="Threads">The thread count both ceilings were measured on.</param>
/// <param name="FmaGflops">fp32 FMA GFLOP/s of a register-only loop (<see cref="FmaPeak"/>): "% of peak" divides by it.</param>
/// <param name="CopyGbs">GB/s (read + written) of a parallel copy of a buffer far larger than the caches: the roofline's memory roof.</param>
internal sealed record BenchPeak(int Threads, double FmaGflops, double CopyGbs);

/// <summary>Case status: ok (checked and timed), mismatch (outputs disagree: not timed), failed, skipped, unchecked (no peer compared).</summary>
internal static class BenchStatus
{
    public const string Ok = "ok";
    public const string Mismatch = "mismatch";
    public const string Failed = "failed";
    public const string Skipped = "skipped";
    public const string Unchecked = "unchecked";
    public const string Imported = "imported";
}

/// <summary>One (workload, backend, threads, batch, concurrency): FastConv's figures and each peer's.</summary>
/// <param name="Workload">"set/name".</param>
/// <param name="Set">The shape set, or "network".</param>
/// <param name="Name">The layer or network name.</param>
/// <param name="Kind">conv, pool, relu or network.</param>
/// <param name="Backend">The backend FastConv ran on (the one <c>auto</c> chose, when asked for auto).</param>
/// <param name="Device">cpu or gpu.</param>
/// <param name="Threads">CPU threads of FastConv and the CPU peers (0: imported figures only).</param>
/// <param name="Batch">N.</param>
/// <param name="Shape">The problem in dimension letters.</param>
/// <param name="Flops">Useful operations per call (see <see cref="BenchProblem.Flops"/>).</param>
/// <param name="Bytes">Minimum bytes moved per call.</param>
/// <param name="Intensity">Flops / Bytes: the roofline's x.</param>
/// <param name="Status">See <see cref="BenchStatus"/>.</param>
/// <param name="Reason">Why it is not ok, in one line.</param>
/// <param name="Fastconv">FastConv's timing (null unless checked and timed).</param>
/// <param name="Peers">Each peer: its check and its timing.</param>
/// <param name="Concurrency">Callers running at once on one shared session (FastConv) and one shared InferenceSession (ORT); 0 in files before schema 2 (read as 1).</param>
/// <param name="GraphSavedMs">With --graphs: the median without graph capture (peer <c>no-graphs</c>, the same backend in the same rounds) minus FastConv's median with it.</param>
/// <param name="Graphs">With --graphs: what capture did, or why it captured nothing.</param>
internal sealed record BenchCase(
    string Workload,
    string Set,
    string Name,
    string Kind,
    string Backend,
    string Device,
    int Threads,
    int Batch,
    string Shape,
    double Flops,
    double Bytes,
    double Intensity,
    string Status,
    string? Reason,
    BenchTiming? Fastconv,
    IReadOnlyList<BenchPeerResult> Peers,
    int Concurrency = 1,
    double? GraphSavedMs = null,
    string? Graphs = null);

/// <summary>The timing of one subject in one case.</summary>
/// <param name="Subject">"fastconv:cpu", "ort", "pytorch", …</param>
/// <param name="Algorithm">The algorithm chosen, when the subject says.</param>
/// <param name="Samples">Timed samples (each the mean of <paramref name="CallsPerSample"/> back-to-back calls).</param>
/// <param name="CallsPerSample">Back-to-back calls averaged into one sample (enough to outlast timer overhead).</param>
/// <param name="MedianMs">Median of the samples.</param>
/// <param name="P10Ms">10th percentile.</param>
/// <param name="P90Ms">90th percentile.</param>
/// <param name="MinMs">The fastest sample.</param>
/// <param name="Gflops">Flops / median.</param>
/// <param name="Gbs">Bytes / median.</param>
/// <param name="PctPeak">Gflops / the FMA peak of the same thread count measured in the run (CPU), or / the H100 SXM's 67 TFLOP/s FP32 (GPU), in percent.</param>
/// <param name="ThroughputPerS">Calls completed per second of wall time, all callers together: 1000 / median for one caller; for
/// several, the median over rounds of (calls of every caller) / (the round's wall time). Images per second = this × batch.</param>
internal sealed record BenchTiming(
    string Subject,
    string? Algorithm,
    int Samples,
    int CallsPerSample,
    double MedianMs,
    double P10Ms,
    double P90Ms,
    double MinMs,
    double Gflops,
    double Gbs,
    double? PctPeak,
    double? ThroughputPerS = null);

/// <summary>One peer in one case.</summary>
/// <param name="Peer">ort, a FastConv backend name (cudnn, reference, …), or pytorch (imported).</param>
/// <param name="Source">same-run, or the imported file's name.</param>
/// <param name="Device">cpu or gpu.</param>
/// <param name="Check">agree, mismatch, failed (the peer could not run), not-compared (imported figures).</param>
/// <param name="MaxAbsDiff">Largest |FastConv − peer| when compared.</param>
/// <param name="Bound">The absolute bound the difference was held to.</param>
/// <param name="Detail">The check's one line, or why there is none.</param>
/// <param name="Timing">The peer's timing (null when the check did not pass).</param>
/// <param name="Ratio">FastConv median / peer median (below 1: FastConv faster), when both were timed on the same device.</param>
internal sealed record BenchPeerResult(
    string Peer,
    string Source,
    string Device,
    string Check,
    double? MaxAbsDiff,
    double? Bound,
    string Detail,
    BenchTiming? Timing,
    double? Ratio);

/// <summary>A backend that was asked for and could not be created here.</summary>
internal sealed record BenchSkippedBackend(string Backend, string Reason);

/// <summary>A peer file merged into the report.</summary>
internal sealed record BenchImport(string File, string Peer, string Device, string Versions, int Results);

/// <summary>Source-generated (reflection-free, trim-safe) JSON for the report.</summary>
[JsonSerializable(typeof(BenchReport))]
[JsonSerializable(typeof(PeerFile))]
[JsonSerializable(typeof(BenchLayerFile))]
[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
internal sealed partial class BenchJsonContext : JsonSerializerContext
{
    /// <summary>The attribute's options with apostrophes and non-ASCII text written as they are (the reasons quote names: 'cuda').</summary>
    public static BenchJsonContext Relaxed { get; } = new(new JsonSerializerOptions
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
