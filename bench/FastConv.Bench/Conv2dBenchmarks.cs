using BenchmarkDotNet.Attributes;
using FastConv.Cli.Bench;
using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Ops;

namespace FastConv.Bench;

/// <summary>
/// Conv2d on the named shape sets (<see cref="ShapeSets"/>), FastConv's <c>cpu</c> backend against ONNX
/// Runtime in the same run: same input bytes, same weights and bias, same thread count, both writing
/// pre-allocated outputs. ORT is the baseline, so BenchmarkDotNet's Ratio column is FastConv/ORT time.
/// <list type="bullet">
/// <item><c>FastConv</c>: the default (fast) precision, which may choose Winograd for 3×3 stride-1 layers.</item>
/// <item><c>FastConvExact</c>: <see cref="CpuPrecision.Exact"/> (no Winograd), only for dense 3×3 stride-1
/// layers (other layers would time the same plan twice; <see cref="BenchConfig"/> filters them out), so
/// Winograd's gain is the difference of the two rows.</item>
/// </list>
/// Every case first checks FastConv's output against ORT's (<see cref="OutputCheck"/>) and fails if they differ.
/// Run one set (repository root; each set is a class, each layer a parameter):
/// <code>
/// ./build.sh --target=Bench --filter='*Vgg16Benchmarks*'        # 13 layers × threads {1,2} × batch {1,8} × 3 methods
/// ./build.sh --target=Bench --filter='*ResNet50Benchmarks*'
/// ./build.sh --target=Bench --filter='*MobileNetBenchmarks*'
/// ./build.sh --target=Bench --filter='*PoolBenchmarks*'  /  '*ReluBenchmarks*'  /  '*FmaPeakBenchmarks*'
/// dotnet run -c Release --project bench/FastConv.Bench -- --filter '*ResNet50*(Threads: 1, Batch: 1, Layer: "l1_3x3")'   # one case
/// dotnet run -c Release --project bench/FastConv.Bench -- report   # rewrite docs/cpu-benchmarks.md from the stored rows
/// </code>
/// The whole suite (<c>--filter '*'</c>, about 440 cases) takes roughly 15–25 minutes on 2 cores with the default
/// quick job (<see cref="BenchConfig.Quick"/>; a <c>--job</c> on the command line replaces it, e.g. <c>--job dry --inProcess</c>
/// for a smoke test). Each run merges its cases into <c>BenchmarkDotNet.Artifacts/fastconv-cpu-rows.json</c> and rewrites
/// <c>docs/cpu-benchmarks.md</c> from all stored rows, so sets can be run one at a time; delete that file to start a fresh table.
/// The process exits non-zero when any case failed (its output check included).
/// </summary>
[MemoryDiagnoser]
public abstract class Conv2dBenchmarks
{
    // The problem (seeded input, weights, bias), FastConv's plan and ORT's one-node model are the CLI's
    // (FastConv.Cli.Bench), so `fastconv bench` and these benchmarks time exactly the same thing.
    private ConvProblem? _problem;
    private IBenchSubject? _fast;
    private IBenchSubject? _ort;
    private CpuBackend? _backend;

    /// <summary>The layers of this class's set.</summary>
    protected abstract IReadOnlyList<NamedConv2d> Set { get; }

    /// <summary>Layer names of the set, in the set's order (BenchmarkDotNet's parameter source).</summary>
    public IEnumerable<string> Layers => Set.Select(l => l.Name);

    // Full names read "Vgg16Benchmarks.FastConv(Threads: 1, Batch: 1, Layer: "conv3_2")"; filters match that.
    [ParamsSource(nameof(Layers))]
    public string Layer { get; set; } = "";

    [Params(1, 2)]
    public int Threads { get; set; }

    [Params(1, 8)]
    public int Batch { get; set; }

    /// <summary>Whether the <c>FastConvExact</c> row means something for this layer: dense 3×3, stride 1, no dilation.</summary>
    public static bool IsWinogradCandidate(Conv2dShape s)
        => s.R == 3 && s.S == 3 && s.Groups == 1 && s.Params.StrideH == 1 && s.Params.StrideW == 1
           && s.Params.DilationH == 1 && s.Params.DilationW == 1;

    [GlobalSetup(Targets = [nameof(OnnxRuntime), nameof(FastConv)])]
    public void SetupFast() => Setup(CpuPrecision.Fast);

    [GlobalSetup(Target = nameof(FastConvExact))]
    public void SetupExact() => Setup(CpuPrecision.Exact);

    [Benchmark(Baseline = true, Description = "ORT")]
    public void OnnxRuntime() => _ort!.Run();

    [Benchmark]
    public void FastConv() => _fast!.Run();

    [Benchmark]
    public void FastConvExact() => _fast!.Run();

    [GlobalCleanup]
    public void Cleanup()
    {
        _ort?.Dispose();
        _fast?.Dispose();
        _backend?.Dispose();
        _problem?.Dispose();
        _ort = null;
        _fast = null;
        _backend = null;
        _problem = null;
    }

    private void Setup(CpuPrecision precision)
    {
        NamedConv2d layer = Set.FirstOrDefault(l => l.Name == Layer)
            ?? throw new InvalidOperationException($"No layer '{Layer}' in {GetType().Name}.");
        Conv2dShape shape = layer.WithBatch(Batch);
        bool exact = precision == CpuPrecision.Exact;
        _problem = new ConvProblem(layer, shape);
        _backend = new CpuBackend(new CpuBackendOptions { Threads = Threads, Precision = precision });
        _fast = _problem.Plan(_backend, "FastConv", Threads, exact);
        _ort = _problem.Ort(Threads);

        _fast.Poison();
        _ort.Poison();
        _fast.Run();
        _ort.Run();
        string what = $"{layer} N={Batch} threads={Threads} precision={precision} algorithm={_fast.Algorithm} ({shape})";
        OutputCheck.Agree(what, _fast.Output, _ort.Output, _problem.Tolerance(exact));
        Console.WriteLine($"// FastConv check passed: {what}");
    }
}

/// <summary>The 13 VGG-16 convolutions (all 3×3 stride 1: every layer has a FastConvExact row).</summary>
public class Vgg16Benchmarks : Conv2dBenchmarks
{
    protected override IReadOnlyList<NamedConv2d> Set => ShapeSets.Vgg16;
}

/// <summary>ResNet-50's distinct convolutions: the 7×7/2 stem, 1×1, 3×3, strided 3×3 and strided 1×1.</summary>
public class ResNet50Benchmarks : Conv2dBenchmarks
{
    protected override IReadOnlyList<NamedConv2d> Set => ShapeSets.ResNet50;
}

/// <summary>MobileNetV2's depthwise 3×3 and pointwise 1×1 convolutions.</summary>
public class MobileNetBenchmarks : Conv2dBenchmarks
{
    protected override IReadOnlyList<NamedConv2d> Set => ShapeSets.MobileNet;
}
