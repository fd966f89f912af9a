using FastConv.Backends;
using FastConv.Ops;

namespace FastConv.Cli.Bench;

/// <summary>
/// Something <c>fastconv bench</c> times at a batch size: one layer of a named shape set (<see cref="ShapeSets"/>),
/// a memory-bound reference op, or a whole network. <see cref="Create"/> makes the problem once per
/// (workload, batch): inputs and weights from fixed seeds, so FastConv and every peer read the same bytes.
/// </summary>
internal abstract class BenchWorkload
{
    /// <summary>The shape set (vgg16, resnet50, mobilenet, pool, relu) or "network".</summary>
    public abstract string Set { get; }

    /// <summary>The layer's name in its set, or the network's name.</summary>
    public abstract string Name { get; }

    /// <summary>conv, pool, relu or network.</summary>
    public abstract string Kind { get; }

    /// <summary>"set/name": what a figure is labelled with everywhere (table, JSON, plot).</summary>
    public string Id => $"{Set}/{Name}";

    public abstract BenchProblem Create(int batch);

    /// <summary>The problem as plain numbers for another program (bench/gpu/torch_bench.py), or null for a network.</summary>
    public abstract BenchLayer? Layer(int batch);

    public override string ToString() => Id;
}

/// <summary>
/// One layer as <c>--layers-json</c> writes it, so a peer in another language times exactly the same problem:
/// input N×C×H×W, K output channels, R×S window, strides, paddings (top, left, bottom, right), dilations, groups.
/// For pool, K = C and the window is the pooling window; for relu, R = S = 1 and K = C.
/// </summary>
internal sealed record BenchLayer(
    string Workload, string Kind, int N, int C, int H, int W, int K, int R, int S,
    int StrideH, int StrideW, int PadTop, int PadLeft, int PadBottom, int PadRight, int DilationH, int DilationW, int Groups,
    double Flops, double Bytes, string Shape);

/// <summary>What <c>--layers-json</c> writes.</summary>
internal sealed record BenchLayerFile(string Schema, IReadOnlyList<BenchLayer> Layers);

/// <summary>
/// One problem at one batch size: the shared input (and weights), and the factories of the things that
/// compute it — FastConv on a backend, and the peers.
/// </summary>
internal abstract class BenchProblem : IDisposable
{
    /// <summary>The problem in dimension letters, e.g. "N=1 C=64 H=56 W=56 K=64 R=3 S=3 … -> P=56 Q=56".</summary>
    public abstract string Shape { get; }

    /// <summary>
    /// Useful operations of one call: 2·N·K·(C/groups)·R·S·P·Q for a conv; one per comparison for a max-pool
    /// ((R·S−1)·N·C·P·Q) and one per element for ReLU, so memory-bound ops have a place on the roofline.
    /// </summary>
    public abstract double Flops { get; }

    /// <summary>Bytes one call must move at least: input + weights + output, each read or written once.</summary>
    public abstract double Bytes { get; }

    /// <summary>
    /// Relative tolerance of the output comparison (see <see cref="OutputCheck"/>): 0 for ops that only select
    /// input values (max-pool, ReLU); otherwise the sums' rounding bound, looser when Winograd may run.
    /// </summary>
    public abstract float Tolerance(bool exact);

    /// <summary>Whether the check also bounds the difference's norm (<see cref="OutputCheck.Compare"/>): whole networks.</summary>
    public virtual bool Normwise => false;

    /// <summary>
    /// FastConv's plan for this problem on <paramref name="backend"/>, writing its own pre-allocated output
    /// (a network plans a session on the backend of that name, with <paramref name="threads"/> and <paramref name="exact"/>).
    /// </summary>
    public abstract IBenchSubject Plan(IBackend backend, string label, int threads, bool exact);

    /// <summary>ONNX Runtime (CPU execution provider) computing the same problem with <paramref name="threads"/> intra-op threads.</summary>
    public abstract IBenchSubject Ort(int threads);

    /// <summary>LibTorch through TorchSharp (<see cref="TorchPeer"/>) computing the same problem; single conv layers only.</summary>
    public virtual IBenchSubject Torch(int threads)
        => throw new WorkloadUnavailableException("the torch peer runs single conv layers (torch.nn.functional.conv2d); this workload is not one");

    /// <summary>Whether <see cref="PlanWithGraphs"/> can capture this problem (whole sessions: the network workloads).</summary>
    public virtual bool CanCaptureGraphs => false;

    /// <summary>FastConv with CUDA Graph capture on (<c>--graphs</c>); only where <see cref="CanCaptureGraphs"/>.</summary>
    public virtual IBenchSubject PlanWithGraphs(IBackend backend, string label, int threads, bool exact) => Plan(backend, label, threads, exact);

    /// <summary>What capture did in the last <see cref="PlanWithGraphs"/> subject (read after it was timed).</summary>
    public virtual string? GraphSummary => null;

    /// <summary>
    /// FastConv for <paramref name="callers"/> concurrent callers of one shared session (each with its own output), or
    /// null when the problem is not a session (a single layer's plan is not meant for concurrent calls).
    /// </summary>
    public virtual IConcurrentBenchSubject? PlanConcurrent(IBackend backend, string label, int threads, bool exact, int callers) => null;

    /// <summary>ONNX Runtime for <paramref name="callers"/> concurrent callers of one shared InferenceSession, or null.</summary>
    public virtual IConcurrentBenchSubject? OrtConcurrent(int threads, int callers) => null;

    public virtual void Dispose()
    {
    }
}

/// <summary>A thing that computes a problem into its own pre-allocated output: FastConv on a backend, or a peer.</summary>
internal interface IBenchSubject : IDisposable
{
    /// <summary>"fastconv:cpu", "ort", "fastconv:cudnn", … as the report names it.</summary>
    string Name { get; }

    /// <summary>The algorithm or kernel chosen, when the subject says (FastConv's plans do).</summary>
    string? Algorithm { get; }

    /// <summary>cpu or gpu: where the work runs (a time ratio across devices is reported, never hidden, but labelled).</summary>
    string Device { get; }

    /// <summary>One call: reads the shared input, writes <see cref="Output"/>; allocates nothing.</summary>
    void Run();

    /// <summary>The output of the last <see cref="Run"/> (host memory).</summary>
    ReadOnlySpan<float> Output { get; }

    /// <summary>Fills the output with NaN, so an element the next run does not write cannot pass the check.</summary>
    void Poison();
}

/// <summary>A subject whose output is an <see cref="AlignedBuffer"/> and whose call is a delegate set up once.</summary>
internal sealed class BufferSubject(string name, string? algorithm, string device, AlignedBuffer output, Action run, IDisposable? owned) : IBenchSubject
{
    public string Name => name;
    public string? Algorithm => algorithm;
    public string Device => device;
    public ReadOnlySpan<float> Output => output.Span;

    public void Run() => run();

    public void Poison() => output.Poison();

    public void Dispose() => owned?.Dispose();
}

/// <summary>Parses workload names and holds the embedded default set.</summary>
internal static class BenchWorkloads
{
    /// <summary>The named sets a bare name expands to.</summary>
    public static IReadOnlyList<string> SetNames { get; } = ["vgg16", "resnet50", "mobilenet", "pool", "relu"];

    /// <summary>
    /// The embedded default (<c>fastconv bench</c> with no workload, and the README's main job): one layer of
    /// each kind that matters — the 7×7/2 stem, a 3×3 that Winograd may take, a strided 3×3, a 1×1 expand, a
    /// 7×7-plane 3×3, VGG's heaviest-per-call 3×3, a depthwise and a pointwise layer — plus the two memory-bound
    /// references and ResNet-18 as a whole network. About 30 s on 2 cores at the default settings.
    /// </summary>
    public static IReadOnlyList<string> Default { get; } =
    [
        "resnet50/stem", "resnet50/l1_3x3", "resnet50/l2_3x3_s2", "resnet50/l3_1x1_expand", "resnet50/l4_3x3",
        "vgg16/conv3_2", "mobilenet/dw144_56", "mobilenet/pw24_144", "pool", "relu", "builtin:resnet18",
    ];

    /// <summary>
    /// Expands names: a set name (every layer of it), "set/layer" (one layer), "builtin:NAME" or a path ending
    /// in .onnx (a network), "default" (<see cref="Default"/>). Throws <see cref="InvalidBenchArgumentException"/>
    /// naming the bad name and what is known. <paramref name="shapes"/> (<c>--shape</c>) fixes the networks' input shapes.
    /// </summary>
    public static IReadOnlyList<BenchWorkload> Parse(IEnumerable<string> names, IReadOnlyDictionary<string, TensorShape>? shapes = null)
    {
        var result = new List<BenchWorkload>();
        foreach (string raw in names)
        {
            foreach (string name in raw.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (name == "default")
                {
                    result.AddRange(Parse(Default, shapes));
                }
                else if (name.StartsWith("builtin:", StringComparison.Ordinal) || name.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
                {
                    result.Add(NetworkWorkloads.Create(name, shapes));
                }
                else
                {
                    result.AddRange(Layers(name));
                }
            }
        }
        // The same workload named twice (a set and one of its layers) is timed once.
        return [.. result.DistinctBy(w => w.Id)];
    }

    private static IEnumerable<BenchWorkload> Layers(string name)
    {
        string set = name, layer = "";
        int slash = name.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            set = name[..slash];
            layer = name[(slash + 1)..];
        }
        switch (set)
        {
            case "pool":
                return [new PoolWorkload()];
            case "relu":
                return [new ReluWorkload()];
        }
        IReadOnlyList<NamedConv2d> layers = set switch
        {
            "vgg16" => ShapeSets.Vgg16,
            "resnet50" => ShapeSets.ResNet50,
            "mobilenet" => ShapeSets.MobileNet,
            _ => throw new InvalidBenchArgumentException(
                $"unknown workload '{name}': use a set ({string.Join(", ", SetNames)}), set/layer (e.g. resnet50/l1_3x3), builtin:NAME, a .onnx file, or 'default'"),
        };
        if (layer.Length == 0)
        {
            return layers.Select(l => new ConvWorkload(l));
        }
        NamedConv2d? one = layers.FirstOrDefault(l => l.Name == layer);
        return one is null
            ? throw new InvalidBenchArgumentException($"no layer '{layer}' in set {set}; its layers: {string.Join(", ", layers.Select(l => l.Name))}")
            : [new ConvWorkload(one)];
    }
}

/// <summary>A bad argument to <c>fastconv bench</c>: says which and what would be accepted.</summary>
public sealed class InvalidBenchArgumentException(string message) : FastConvException(message);

/// <summary>One convolution of a named set; ConvEpilogue.None (bias only), as the ORT one-node model computes.</summary>
internal sealed class ConvWorkload(NamedConv2d layer) : BenchWorkload
{
    public override string Set => layer.Set;
    public override string Name => layer.Name;
    public override string Kind => "conv";

    public override BenchProblem Create(int batch) => new ConvProblem(layer, layer.WithBatch(batch));

    public override BenchLayer Layer(int batch)
    {
        Conv2dShape s = layer.WithBatch(batch);
        Conv2dParams p = s.Params;
        return new BenchLayer(Id, Kind, s.N, s.C, s.H, s.W, s.K, s.R, s.S, p.StrideH, p.StrideW, p.Padding.Top, p.Padding.Left, p.Padding.Bottom, p.Padding.Right,
            p.DilationH, p.DilationW, p.Groups, s.Flops, ConvProblem.BytesOf(s), s.ToString());
    }
}

/// <summary>A convolution problem: input U(−1,1), weights U(−1,1)/√fan-in, bias U(−0.1,0.1), all from seeds of the layer's name.</summary>
internal sealed class ConvProblem : BenchProblem
{
    private readonly Conv2dShape _shape;
    private readonly float[] _weights;
    private readonly float[] _bias;
    private readonly AlignedBuffer _x;

    public ConvProblem(NamedConv2d layer, Conv2dShape shape)
    {
        _shape = shape;
        // Weights U(−1,1)/√fan-in keep every output O(1) whatever the layer, so one relative tolerance fits all.
        float gain = 1f / MathF.Sqrt(shape.InputChannelsPerGroup * shape.R * shape.S);
        _weights = new float[shape.WeightShape.ElementCount];
        AlignedBuffer.Uniform(_weights, AlignedBuffer.StableSeed(layer.ToString(), 2), -gain, gain);
        _bias = new float[shape.K];
        AlignedBuffer.Uniform(_bias, AlignedBuffer.StableSeed(layer.ToString(), 3), -0.1f, 0.1f);
        _x = new AlignedBuffer(shape.InputShape).FillUniform(AlignedBuffer.StableSeed(layer.ToString(), 1), -1f, 1f);
    }

    public override string Shape => _shape.ToString();
    public override double Flops => _shape.Flops;
    public override double Bytes => BytesOf(_shape);

    public static double BytesOf(Conv2dShape s) => 4.0 * (s.InputShape.ElementCount + s.WeightShape.ElementCount + s.K + s.OutputShape.ElementCount);

    public override float Tolerance(bool exact) => exact ? OutputCheck.SameSumsTolerance : OutputCheck.FastTolerance;

    public override IBenchSubject Plan(IBackend backend, string label, int threads, bool exact)
    {
        IConv2dPlan plan = backend.PlanConv2d(_shape, Tensor.FromArray(_weights, _shape.WeightShape.Dims), Tensor.FromArray(_bias, _shape.K), ConvEpilogue.None);
        var y = new AlignedBuffer(_shape.OutputShape);
        Tensor x = _x.Tensor, yt = y.Tensor;
        return new BufferSubject(label, plan.Algorithm, BenchDevices.Of(backend.Name), y, () => plan.Execute(x, yt), plan);
    }

    public override IBenchSubject Ort(int threads)
    {
        var y = new AlignedBuffer(_shape.OutputShape);
        OrtOneNode ort = OrtOneNode.Conv(_shape, _weights, _bias, threads, _x, y);
        return new BufferSubject("ort", null, "cpu", y, ort.Run, ort);
    }

    public override IBenchSubject Torch(int threads) => TorchPeer.Conv(_shape, _weights, _bias, threads, _x);
}

/// <summary>The <c>pool</c> set: MaxPool 2×2 stride 2 on N×64×224×224 (the tensor after VGG's conv1_2).</summary>
internal sealed class PoolWorkload : BenchWorkload
{
    public override string Set => "pool";
    public override string Name => "maxpool2x2_s2";
    public override string Kind => "pool";

    public override BenchProblem Create(int batch) => new UnaryProblem("pool", ShapeSets.PoolReluInput(batch), pool: true);

    public override BenchLayer Layer(int batch) => UnaryProblem.Layer(this, batch);
}

/// <summary>The <c>relu</c> set: ReLU on N×64×224×224.</summary>
internal sealed class ReluWorkload : BenchWorkload
{
    public override string Set => "relu";
    public override string Name => "relu";
    public override string Kind => "relu";

    public override BenchProblem Create(int batch) => new UnaryProblem("relu", ShapeSets.PoolReluInput(batch), pool: false);

    public override BenchLayer Layer(int batch) => UnaryProblem.Layer(this, batch);
}

/// <summary>Max-pool or ReLU on one input from a seed of the set's name.</summary>
internal sealed class UnaryProblem : BenchProblem
{
    private readonly bool _pool;
    private readonly AlignedBuffer _x;
    private readonly Pool2dShape _poolShape;

    public UnaryProblem(string set, TensorShape input, bool pool)
    {
        _pool = pool;
        _x = new AlignedBuffer(input).FillUniform(AlignedBuffer.StableSeed(set, input[0]), -1f, 1f);
        _poolShape = Pool2dShape.From(input, ShapeSets.Pool2x2, "MaxPool2d");
    }

    /// <summary>The pool or relu problem as numbers (see <see cref="BenchLayer"/>), without allocating it.</summary>
    public static BenchLayer Layer(BenchWorkload workload, int batch)
    {
        TensorShape x = ShapeSets.PoolReluInput(batch);
        bool pool = workload.Kind == "pool";
        Pool2dParams p = ShapeSets.Pool2x2;
        Pool2dShape ps = Pool2dShape.From(x, p, "MaxPool2d");
        return pool
            ? new BenchLayer(workload.Id, workload.Kind, x[0], x[1], x[2], x[3], x[1], p.KernelH, p.KernelW, p.StrideH, p.StrideW,
                p.Padding.Top, p.Padding.Left, p.Padding.Bottom, p.Padding.Right, p.DilationH, p.DilationW, x[1], FlopsOf(x, ps, true), BytesOf(x, ps, true), ShapeOf(x, ps, true))
            : new BenchLayer(workload.Id, workload.Kind, x[0], x[1], x[2], x[3], x[1], 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, x[1], FlopsOf(x, ps, false), BytesOf(x, ps, false), ShapeOf(x, ps, false));
    }

    private static string ShapeOf(TensorShape x, Pool2dShape ps, bool pool)
        => pool ? $"N={ps.N} C={ps.C} H={ps.H} W={ps.W} {ShapeSets.Pool2x2} -> P={ps.P} Q={ps.Q}" : $"x {x}";

    private static double FlopsOf(TensorShape x, Pool2dShape ps, bool pool)
        => pool ? (double)(ps.R * ps.S - 1) * ps.OutputShape.ElementCount : x.ElementCount;

    private static double BytesOf(TensorShape x, Pool2dShape ps, bool pool)
        => 4.0 * (x.ElementCount + (pool ? ps.OutputShape.ElementCount : x.ElementCount));

    public override string Shape => ShapeOf(_x.Shape, _poolShape, _pool);

    public override double Flops => FlopsOf(_x.Shape, _poolShape, _pool);

    public override double Bytes => BytesOf(_x.Shape, _poolShape, _pool);

    // Max and ReLU only select input values: bit-exact agreement is the right bar.
    public override float Tolerance(bool exact) => 0f;

    public override IBenchSubject Plan(IBackend backend, string label, int threads, bool exact)
    {
        IUnaryPlan plan = _pool ? backend.PlanPool2d(_poolShape, max: true) : backend.PlanActivation(Activation.Relu, _x.Shape);
        var y = new AlignedBuffer(plan.OutputShape);
        Tensor x = _x.Tensor, yt = y.Tensor;
        return new BufferSubject(label, plan.Algorithm, BenchDevices.Of(backend.Name), y, () => plan.Execute(x, yt), plan);
    }

    public override IBenchSubject Ort(int threads)
    {
        var y = new AlignedBuffer(_pool ? _poolShape.OutputShape : _x.Shape);
        OrtOneNode ort = _pool ? OrtOneNode.MaxPool(ShapeSets.Pool2x2, threads, _x, y) : OrtOneNode.Relu(threads, _x, y);
        return new BufferSubject("ort", null, "cpu", y, ort.Run, ort);
    }
}

/// <summary>Where a backend runs, and the GPU limits its figures are held against.</summary>
internal static class BenchDevices
{
    public static string Of(string backend) => backend is BackendNames.Cpu or BackendNames.Reference ? "cpu" : "gpu";

    /// <summary>
    /// The H100 SXM's datasheet limits, the 100 % of a GPU figure: 67 TFLOP/s FP32 (non-tensor) and 3.35 TB/s HBM3.
    /// The CPU's 100 % is measured in the run instead (<see cref="FmaPeak"/>); a GPU's FMA loop is left to the GPU helpers.
    /// </summary>
    public const double H100SxmFp32Gflops = 67_000;

    public const double H100SxmHbmGbs = 3_350;
}
