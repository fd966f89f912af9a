using BenchmarkDotNet.Attributes;
using FastConv.Backends;
using FastConv.Cli.Bench;
using FastConv.Cpu;
using FastConv.Cpu.Threading;
using FastConv.Ops;

namespace FastConv.Bench;

/// <summary>
/// The memory-bound sets on the 64×224×224 tensor after VGG's conv1_2 (<see cref="ShapeSets.PoolReluInput"/>):
/// FastConv's <c>cpu</c> backend, ONNX Runtime, and a plain copy of the input into a buffer of the same
/// size on the same threads — the ceiling an element-wise op can approach (Relu's target is within 10 % of
/// it). Copy is the baseline, so BenchmarkDotNet's Ratio column is time / copy time; the Markdown report
/// converts to GB/s (bytes read + written / time). See <see cref="Conv2dBenchmarks"/> for how to run.
/// </summary>
[MemoryDiagnoser]
public abstract class MemoryBoundBenchmarks
{
    private ParallelCopy? _copy;
    private AlignedBuffer _copyTarget = null!;
    private OrtOneNode? _ort;
    private CpuBackend? _backend;
    private IUnaryPlan? _plan;
    private AlignedBuffer _yFastConv = null!;

    private protected AlignedBuffer X { get; private set; } = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    [Params(1, 8)]
    public int Batch { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        X = new AlignedBuffer(ShapeSets.PoolReluInput(Batch)).FillUniform(AlignedBuffer.StableSeed(SetName, Batch), -1f, 1f);
        _copyTarget = new AlignedBuffer(X.Shape);
        _copy = new ParallelCopy(X.Memory, _copyTarget.Memory, WorkerPool.ForThreads(Threads));
        _backend = new CpuBackend(new CpuBackendOptions { Threads = Threads });
        _plan = Plan(_backend);
        var yFastConv = new AlignedBuffer(_plan.OutputShape);
        var yOrt = new AlignedBuffer(_plan.OutputShape);
        _ort = CreateOrt(Threads, yOrt);
        yFastConv.Poison();
        yOrt.Poison();
        _plan.Execute(X.Tensor, yFastConv.Tensor);
        _ort.Run();
        // Max and Relu only select input values: bit-exact agreement is the right bar.
        string what = $"{SetName} N={Batch} threads={Threads} algorithm={_plan.Algorithm}";
        OutputCheck.Agree(what, yFastConv.Span, yOrt.Span, 0f);
        Console.WriteLine($"// FastConv check passed: {what}");
        _yFastConv = yFastConv;
    }

    [Benchmark(Baseline = true, Description = "copy")]
    public void Copy() => _copy!.Run();

    [Benchmark]
    public void FastConv() => _plan!.Execute(X.Tensor, _yFastConv.Tensor);

    [Benchmark(Description = "ORT")]
    public void OnnxRuntime() => _ort!.Run();

    [GlobalCleanup]
    public void Cleanup()
    {
        _ort?.Dispose();
        _plan?.Dispose();
        _backend?.Dispose();
        _ort = null;
        _plan = null;
        _backend = null;
    }

    /// <summary>The set's name ("pool", "relu"); not GetType().Name, which in-process runs is BenchmarkDotNet's generated subclass.</summary>
    private protected abstract string SetName { get; }

    /// <summary>FastConv's plan for this set's op.</summary>
    private protected abstract IUnaryPlan Plan(IBackend backend);

    /// <summary>ORT's one-node model for this set's op, reading <see cref="X"/> and writing <paramref name="y"/>.</summary>
    private protected abstract OrtOneNode CreateOrt(int threads, AlignedBuffer y);
}

/// <summary>The <c>pool</c> set: MaxPool 2×2 stride 2 (<see cref="ShapeSets.Pool2x2"/>) on N×64×224×224.</summary>
public class PoolBenchmarks : MemoryBoundBenchmarks
{
    private protected override string SetName => "pool";

    private protected override IUnaryPlan Plan(IBackend backend)
        => backend.PlanPool2d(Pool2dShape.From(X.Shape, ShapeSets.Pool2x2, "MaxPool2d"), max: true);

    private protected override OrtOneNode CreateOrt(int threads, AlignedBuffer y) => OrtOneNode.MaxPool(ShapeSets.Pool2x2, threads, X, y);
}

/// <summary>The <c>relu</c> set: Relu on N×64×224×224.</summary>
public class ReluBenchmarks : MemoryBoundBenchmarks
{
    private protected override string SetName => "relu";

    private protected override IUnaryPlan Plan(IBackend backend) => backend.PlanActivation(Activation.Relu, X.Shape);

    private protected override OrtOneNode CreateOrt(int threads, AlignedBuffer y) => OrtOneNode.Relu(threads, X, y);
}
