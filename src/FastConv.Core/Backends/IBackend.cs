using FastConv.Ops;

namespace FastConv.Backends;

/// <summary>The backend names, one each, everywhere: CLI, tests, benchmarks.</summary>
public static class BackendNames
{
    public const string Reference = "reference";
    public const string Cpu = "cpu";
    public const string Cuda = "cuda";
    public const string Cudnn = "cudnn";
    public const string Cublas = "cublas";
    public const string CudaEmu = "cuda-emu";

    public static IReadOnlyList<string> All { get; } = [Reference, Cpu, Cuda, Cudnn, Cublas, CudaEmu];
}

/// <summary>Where a backend's plans read and write the activations a session hands them.</summary>
public enum MemorySpace
{
    /// <summary>Host memory (managed arrays, pinned where the backend wants it).</summary>
    Host,
    /// <summary>Device memory (a GPU's global memory, or the emulator's device address space).</summary>
    Device,
}

/// <summary>
/// One backend interface, per op "plan for this shape, then execute". Planning does everything that can
/// be done once — validation, algorithm choice, packed or transformed weights, workspace — so that
/// <c>Execute</c> only reads its inputs and writes its outputs, allocating nothing. The scalar reference
/// implements it too, which is what lets one test body run on every backend.
/// <para>
/// Every backend runs the core CNN ops below (conv, pooling, activations, softmax, fully-connected). Any other op is
/// a planner interface declared beside the op's definition (<c>src/FastConv.Core/Graphs/Ops</c>, e.g.
/// <see cref="Graphs.Ops.IBinaryPlanner"/>) that a backend implements when it runs that op; the graph's place pass gives a node
/// to the first backend of the session that implements its planner, so a backend implements only what it accelerates.
/// </para>
/// Plans are not thread-safe: one plan executes on one thread at a time (a session serializes or pools them).
/// </summary>
public interface IBackend : IDisposable
{
    /// <summary>One of <see cref="BackendNames"/>.</summary>
    string Name { get; }

    /// <summary>
    /// Where the tensors given to this backend's plans live. Host for every backend today: the GPU backends take host
    /// tensors and stage them through pinned buffers; a device-resident backend says <see cref="MemorySpace.Device"/>
    /// and the place pass puts Copy nodes where data crosses between spaces.
    /// </summary>
    MemorySpace Memory => MemorySpace.Host;

    /// <summary>
    /// Plans a convolution: weights K×(C/groups)×R×S and bias [K] are read now (and may be packed,
    /// transformed, or have the epilogue's Scale folded in); the caller may reuse its tensors afterwards.
    /// </summary>
    IConv2dPlan PlanConv2d(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue);

    /// <summary>Plans MaxPool2d (<paramref name="max"/> true) or AvgPool2d.</summary>
    IUnaryPlan PlanPool2d(Pool2dShape shape, bool max);

    /// <summary>Plans GlobalMaxPool (<paramref name="max"/> true) or GlobalAveragePool on an N×C×H×W input.</summary>
    IUnaryPlan PlanGlobalPool(TensorShape input, bool max);

    /// <summary>Plans an element-wise activation on tensors of <paramref name="shape"/>; Execute may run in place (x = y).</summary>
    IUnaryPlan PlanActivation(Activation activation, TensorShape shape);

    /// <summary>Plans Softmax along <paramref name="axis"/> (negative counts from the end).</summary>
    IUnaryPlan PlanSoftmax(TensorShape shape, int axis);

    /// <summary>
    /// Plans a Gemm whose B (and C) are constants, as in a fully-connected layer:
    /// <c>Y = Alpha·op(A)·op(B) + Beta·C</c> with A of <paramref name="aShape"/> supplied at execution.
    /// </summary>
    IUnaryPlan PlanGemm(TensorShape aShape, Tensor b, Tensor? c, GemmParams p);
}

/// <summary>
/// What a backend that wants a blocked activation layout (NCHW8c, NCHW16c) for some nodes tells the layout pass.
/// Backends without it get <see cref="TensorLayout.Nchw"/> everywhere, and no Reorder node is ever inserted for them.
/// </summary>
public interface ILayoutPolicy
{
    /// <summary>
    /// The layout in which the node of op <paramref name="opType"/> reads its activation inputs and writes its outputs
    /// on this backend (<see cref="TensorLayout.Nchw"/> when it has no blocked kernel for it).
    /// </summary>
    TensorLayout Preferred(string opType, Graphs.Ops.OpContext context);

    /// <summary>
    /// Whether the backend blocks <paramref name="graph"/> at all, asked once before <see cref="Preferred"/>: a policy
    /// keeps a whole graph NCHW where its blocked chains would not pay (where the NCHW kernels they displace are
    /// faster), rather than leaving islands that cost two reorders each. Default: yes.
    /// </summary>
    bool Applies(Graphs.Graph graph) => true;

    /// <summary>
    /// Whether the node runs in whichever layout its first input has, NCHW or this backend's blocked one (it has a
    /// kernel for both, as pooling does), so it neither starts a blocked chain nor ends one. Default: no.
    /// </summary>
    bool Follows(string opType, Graphs.Ops.OpContext context) => false;
}

/// <summary>
/// How a backend with an <see cref="ILayoutPolicy"/> plans the nodes it asked to run blocked: the same problems as the
/// plain planners, with input and output in the given blocked layout (NCHWc; a residual in it too). The layout pass
/// gives such a node blocked buffers, so its plan must know at plan time (packed weights differ per layout).
/// </summary>
public interface IBlockedLayoutPlanner
{
    IConv2dPlan PlanConv2d(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue, TensorLayout layout);

    IUnaryPlan PlanPool2d(Pool2dShape shape, bool max, TensorLayout layout);

    IUnaryPlan PlanGlobalPool(TensorShape input, bool max, TensorLayout layout);

    /// <summary>Concat along channels (axis 1) of 4-D inputs whose channel counts are whole blocks.</summary>
    INaryPlan PlanConcat(IReadOnlyList<TensorShape> inputs, int axis, TensorLayout layout);
}

/// <summary>A planned op with two run-time inputs and one output.</summary>
public interface IBinaryPlan : IPlan
{
    void Execute(Tensor a, Tensor b, Tensor y);
}

/// <summary>A planned op with any number of run-time inputs (Concat) and one output.</summary>
public interface INaryPlan : IPlan
{
    void Execute(ReadOnlySpan<Tensor> inputs, Tensor y);
}

/// <summary>What every plan reports: the algorithm chosen and the workspace it holds.</summary>
public interface IPlan : IDisposable
{
    /// <summary>A short name of the algorithm or kernel chosen, e.g. "winograd-f4x4" or "im2col+sgemm".</summary>
    string Algorithm { get; }

    /// <summary>Bytes of workspace (packed weights, scratch) the plan holds.</summary>
    long WorkspaceBytes { get; }

    /// <summary>The output shape the plan writes.</summary>
    TensorShape OutputShape { get; }
}

/// <summary>A planned op with one input and one output.</summary>
public interface IUnaryPlan : IPlan
{
    void Execute(Tensor x, Tensor y);
}

/// <summary>A planned convolution; Execute takes a residual exactly when the epilogue adds one.</summary>
public interface IConv2dPlan : IPlan
{
    Conv2dShape Shape { get; }
    void Execute(Tensor x, Tensor y, Tensor? residual = null);
}
