using FastConv.Backends;
using FastConv.Graphs.Ops;
using FastConv.Cpu.Threading;
using FastConv.Ops;

namespace FastConv.Cpu;

/// <summary>How the <c>cpu</c> backend may trade accuracy for speed.</summary>
public enum CpuPrecision
{
    /// <summary>Every algorithm, Winograd included (its error bound is documented with it).</summary>
    Fast,
    /// <summary>Only algorithms that sum the same products as the reference (direct, GEMM): no Winograd.</summary>
    Exact,
}

/// <summary>Options of the <c>cpu</c> backend.</summary>
public sealed record CpuBackendOptions
{
    private readonly int? _threads;

    /// <summary>
    /// Worker threads (the caller counts as one), capped at <see cref="WorkerPool.MaxThreads"/> (the logical cores);
    /// default <c>FASTCONV_THREADS</c> or the core count. The variable is read only when no count was given, so a bad
    /// value there cannot fail a caller that names its own.
    /// </summary>
    public int Threads
    {
        get => _threads ?? WorkerPool.DefaultThreads();
        init => _threads = value;
    }
    public CpuPrecision Precision { get; init; } = CpuPrecision.Fast;
    /// <summary>SIMD level; null uses <see cref="CpuFeatures.Current"/>. A level above the detected one is lowered.</summary>
    public SimdLevel? Simd { get; init; }
    /// <summary>Force one conv algorithm by name (tests and benchmarks); null picks the best that supports the shape.</summary>
    public string? ConvAlgorithm { get; init; }
    /// <summary>
    /// Whether sessions run conv chains in the channel-blocked layout (<see cref="CpuLayoutPolicy"/>); null reads
    /// <c>FASTCONV_NCHWC</c> (unset: Auto). Off keeps every node NCHW (the A/B switch).
    /// </summary>
    public CpuBlockedLayout? BlockedLayout { get; init; }
}

/// <summary>What a CPU plan needs from its backend: the SIMD level, the worker pool, the options.</summary>
public sealed record CpuContext(SimdLevel Simd, WorkerPool Pool, CpuBackendOptions Options);

/// <summary>
/// One way to compute a convolution on the CPU (direct, depthwise, 1×1 GEMM, im2col + GEMM, Winograd).
/// <see cref="Conv2dAlgorithms"/> lists them in the order the backend prefers them.
/// </summary>
public interface IConv2dAlgorithm
{
    /// <summary>The name plans report and <see cref="CpuBackendOptions.ConvAlgorithm"/> selects.</summary>
    string Name { get; }

    /// <summary>Whether this algorithm computes the problem (and is allowed by the options' precision).</summary>
    bool Supports(Conv2dShape shape, CpuContext context);

    /// <summary>
    /// Whether automatic selection should take this algorithm for a shape it supports (a speed heuristic;
    /// forcing it by name still works). Defaults to whenever it is supported.
    /// </summary>
    bool IsWorthIt(Conv2dShape shape, CpuContext context) => true;

    IConv2dPlan Plan(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue, CpuContext context);
}

/// <summary>The CPU conv algorithms, most preferred first; the first that supports a shape is chosen.</summary>
public static class Conv2dAlgorithms
{
    public static IReadOnlyList<IConv2dAlgorithm> All { get; } =
    [
        // Depthwise first (it only takes depthwise shapes); Winograd for 3×3 stride 1 in Fast precision;
        // the channel-blocked direct kernel for strided convs, stems and small planes (7×7, 14×14 1×1 too);
        // 1×1 as a plain GEMM; direct for every other dense or grouped shape; im2col + GEMM as the fallback
        // that supports everything. winograd-f2 is only chosen when forced (it is F4's more accurate twin).
        new Conv2dDepthwise(),
        Conv2d.WinogradConv2d.F4,
        Conv2d.WinogradConv2d.F2,
        new Conv2d.Conv2dNchwc(),
        new Conv2d.Gemm1x1Conv2d(),
        new Conv2dDirect(),
        new Conv2d.Im2colGemmConv2d(),
    ];

    public static IConv2dAlgorithm? Find(string name) => All.FirstOrDefault(a => a.Name == name);
}

/// <summary>
/// The <c>cpu</c> backend: SIMD kernels chosen once from the CPU's features (or forced lower), threads
/// from the one process-wide pool (<see cref="WorkerPool"/>: backends share its helper threads and hold none
/// themselves), weights packed at plan time, no allocation when a plan executes. It implements the planner of every op
/// FastConv defines (docs/op-coverage.md), so no node of a float32 model falls back to the reference.
/// </summary>
public sealed class CpuBackend : IBackend, ILayoutPolicy, IBlockedLayoutPlanner, IBinaryPlanner, IConcatPlanner, IBatchNormalizationPlanner, ISqrtPlanner, IReorderPlanner,
    IConvTranspose2dPlanner, IResizePlanner, IMatMulPlanner, ITransposePlanner, IPadPlanner, IPReluPlanner, IGeluPlanner, IErfPlanner,
    IMishPlanner, ISoftplusPlanner, ILayerNormalizationPlanner, IInstanceNormalizationPlanner, IGroupNormalizationPlanner, IReduceMeanPlanner, IReducePlanner,
    ISlicePlanner, IExpandPlanner, IGatherPlanner
{
    private readonly ReferenceBackend _reference = new();
    private readonly CpuLayoutPolicy _layout;

    public CpuBackend(CpuBackendOptions? options = null)
    {
        Options = options ?? new CpuBackendOptions();
        SimdLevel level = Options.Simd is { } s && s < CpuFeatures.Current ? s : CpuFeatures.Current;
        Context = new CpuContext(level, WorkerPool.ForThreads(Options.Threads), Options);
        _layout = new CpuLayoutPolicy(Context);
    }

    /// <summary>The blocked layout the layout pass gets for this backend's chains (NCHW when the policy is off).</summary>
    public TensorLayout BlockedLayout => _layout.Layout;

    public TensorLayout Preferred(string opType, OpContext context) => _layout.Preferred(opType, context);

    public bool Applies(Graphs.Graph graph) => _layout.Applies(graph, Name);

    public bool Follows(string opType, OpContext context) => _layout.Follows(opType, context);

    public IConv2dPlan PlanConv2d(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue, TensorLayout layout) =>
        layout.IsBlocked
            ? Conv2d.Conv2dNchwcChain.Plan(shape, weights, bias, epilogue, layout, Context, () => PlanConv2d(shape, weights, bias, epilogue))
            : PlanConv2d(shape, weights, bias, epilogue);

    public IUnaryPlan PlanPool2d(Pool2dShape shape, bool max, TensorLayout layout) =>
        layout.IsBlocked ? Elementwise.CpuNchwcPlans.Pool2d(shape, max, layout, Context) : PlanPool2d(shape, max);

    public IUnaryPlan PlanGlobalPool(TensorShape input, bool max, TensorLayout layout) =>
        layout.IsBlocked ? Elementwise.CpuNchwcPlans.GlobalPool(input, max, layout, Context) : PlanGlobalPool(input, max);

    public INaryPlan PlanConcat(IReadOnlyList<TensorShape> inputs, int axis, TensorLayout layout) =>
        layout.IsBlocked ? Elementwise.CpuNchwcPlans.Concat(inputs, axis, layout) : PlanConcat(inputs, axis);

    public string Name => BackendNames.Cpu;
    public CpuBackendOptions Options { get; }
    public CpuContext Context { get; }

    public IConv2dPlan PlanConv2d(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue)
    {
        shape.Validate(weights.Shape, bias?.Shape);
        epilogue.Validate(shape.K, shape.ToString());
        if (Options.ConvAlgorithm is { } forced)
        {
            IConv2dAlgorithm algorithm = Conv2dAlgorithms.Find(forced)
                ?? throw new InvalidHyperparameterException($"cpu backend: unknown conv algorithm '{forced}'; known: {string.Join(", ", Conv2dAlgorithms.All.Select(a => a.Name))}.");
            if (!algorithm.Supports(shape, Context))
            {
                throw new InvalidHyperparameterException($"cpu backend: conv algorithm '{forced}' does not support {shape} (precision {Options.Precision}).");
            }
            return algorithm.Plan(shape, weights, bias, epilogue, Context);
        }
        IConv2dAlgorithm? fallback = null;
        foreach (IConv2dAlgorithm algorithm in Conv2dAlgorithms.All)
        {
            if (algorithm.Supports(shape, Context))
            {
                if (algorithm.IsWorthIt(shape, Context))
                {
                    return algorithm.Plan(shape, weights, bias, epilogue, Context);
                }
                fallback ??= algorithm;
            }
        }
        if (fallback is not null)
        {
            return fallback.Plan(shape, weights, bias, epilogue, Context);
        }
        return _reference.PlanConv2d(shape, weights, bias, epilogue);
    }

    public IUnaryPlan PlanPool2d(Pool2dShape shape, bool max) => new Elementwise.CpuPool2dPlan(shape, max, Context);

    public IUnaryPlan PlanGlobalPool(TensorShape input, bool max) => new Elementwise.CpuGlobalPoolPlan(input, max, Context);

    public IUnaryPlan PlanActivation(Activation activation, TensorShape shape) => new Elementwise.CpuActivationPlan(activation, shape, Context);

    public IUnaryPlan PlanSoftmax(TensorShape shape, int axis) => new Elementwise.CpuSoftmaxPlan(shape, axis, Context);

    public IUnaryPlan PlanGemm(TensorShape aShape, Tensor b, Tensor? c, GemmParams p) => new CpuGemmPlan(aShape, b, c, p, Context);

    public IBinaryPlan PlanBinary(BinaryOpKind op, TensorShape a, TensorShape b, Activation activation = default) =>
        new Elementwise.CpuBinaryPlan(op, a, b, activation, Context.Simd);

    public INaryPlan PlanConcat(IReadOnlyList<TensorShape> inputs, int axis) => new Elementwise.CpuConcatPlan(inputs, axis);

    public IUnaryPlan PlanBatchNormalization(TensorShape x, Tensor scale, Tensor bias, Tensor mean, Tensor var, float epsilon)
        => new Elementwise.CpuBatchNormPlan(x, scale, bias, mean, var, epsilon);

    public IUnaryPlan PlanSqrt(TensorShape x) => new Elementwise.CpuSqrtPlan(x);

    /// <summary>NCHW ↔ NCHWc with register transposes; other pairs (NCHWc of two block sizes) with the reference's loops.</summary>
    public IUnaryPlan PlanReorder(TensorShape shape, TensorLayout from, TensorLayout to) =>
        from.IsBlocked != to.IsBlocked && shape.Rank == 4 ? new Elementwise.NchwcReorderPlan(shape, from, to, Context) : _reference.PlanReorder(shape, from, to);

    public IUnaryPlan PlanConvTranspose2d(ConvTranspose2dShape shape, Tensor weights, Tensor? bias) => new Conv2d.ConvTranspose2dGemmPlan(shape, weights, bias, Context);

    public IUnaryPlan PlanResize(TensorShape x, ResizeParams p) => new Elementwise.CpuResizePlan(x, p, Context);

    public IBinaryPlan PlanMatMul(TensorShape a, TensorShape b) => new CpuMatMulPlan(a, b, Context);

    public IUnaryPlan PlanTranspose(TensorShape x, IReadOnlyList<int> perm) => Elementwise.CpuStridedCopyPlan.Transpose(x, perm, Context);

    public IUnaryPlan PlanPad(TensorShape x, PadParams p) => new Elementwise.CpuPadPlan(x, p, Context);

    public IUnaryPlan PlanPRelu(TensorShape x, Tensor slope) => new Elementwise.CpuPReluPlan(x, slope);

    public IUnaryPlan PlanGelu(TensorShape x, GeluParams p) =>
        new Elementwise.CpuUnaryOperatorPlan<Kernels.GeluOperator>("Gelu", new Kernels.GeluOperator(p.Approximate == GeluApproximation.Tanh), x, Context);

    public IUnaryPlan PlanErf(TensorShape x) => new Elementwise.CpuUnaryOperatorPlan<Kernels.ErfOperator>("Erf", default, x, Context);

    public IUnaryPlan PlanMish(TensorShape x) => new Elementwise.CpuUnaryOperatorPlan<Kernels.MishOperator>("Mish", default, x, Context);

    public IUnaryPlan PlanSoftplus(TensorShape x) => new Elementwise.CpuUnaryOperatorPlan<Kernels.SoftplusOperator>("Softplus", default, x, Context);

    public IUnaryPlan PlanLayerNormalization(TensorShape x, int axis, float epsilon, Tensor scale, Tensor? bias) =>
        Elementwise.CpuNormalizationPlan.Layer(x, axis, epsilon, scale, bias, Context);

    public IUnaryPlan PlanInstanceNormalization(TensorShape x, float epsilon, Tensor scale, Tensor bias) =>
        Elementwise.CpuNormalizationPlan.Instance(x, epsilon, scale, bias, Context);

    public IUnaryPlan PlanGroupNormalization(TensorShape x, int groups, float epsilon, Tensor scale, Tensor bias) =>
        Elementwise.CpuNormalizationPlan.Group(x, groups, epsilon, scale, bias, Context);

    public IUnaryPlan PlanReduceMean(TensorShape x, IReadOnlyList<int> axes, bool keepDims) => new Elementwise.CpuReducePlan(ReduceKind.Mean, x, axes, keepDims, Context);

    public IUnaryPlan PlanReduce(ReduceKind kind, TensorShape x, IReadOnlyList<int> axes, bool keepDims) => new Elementwise.CpuReducePlan(kind, x, axes, keepDims, Context);

    public IUnaryPlan PlanSlice(TensorShape x, IReadOnlyList<int> starts, IReadOnlyList<int> steps, TensorShape output) =>
        Elementwise.CpuStridedCopyPlan.Slice(x, starts, steps, output, Context);

    public IUnaryPlan PlanExpand(TensorShape x, TensorShape output) => Elementwise.CpuStridedCopyPlan.Expand(x, output, Context);

    public IUnaryPlan PlanGather(TensorShape x, int axis, IReadOnlyList<int> indices, TensorShape indicesShape) =>
        new Elementwise.CpuGatherPlan(x, axis, indices, indicesShape);

    public void Dispose() => _reference.Dispose();
}
