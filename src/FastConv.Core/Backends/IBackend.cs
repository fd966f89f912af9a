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

/// <summary>
/// One backend interface, per op "plan for this shape, then execute". Planning does everything that can
/// be done once — validation, algorithm choice, packed or transformed weights, workspace — so that
/// <c>Execute</c> only reads its inputs and writes its outputs, allocating nothing. The scalar reference
/// implements it too, which is what lets one test body run on every backend.
/// Plans are not thread-safe: one plan executes on one thread at a time (a session serializes or pools them).
/// </summary>
public interface IBackend : IDisposable
{
    /// <summary>One of <see cref="BackendNames"/>.</summary>
    string Name { get; }

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

    // The plan methods below are what a whole network needs beyond the core CNN ops. Each has a default that
    // returns null, meaning "this backend does not run it": a session then plans that node on the cpu backend
    // (or the reference), so a backend implements only what it accelerates.

    /// <summary>Plans a transposed convolution: weights C×(K/groups)×R×S and bias [K] are read now.</summary>
    IUnaryPlan? PlanConvTranspose2d(ConvTranspose2dShape shape, Tensor weights, Tensor? bias) => null;

    /// <summary>Plans an element-wise binary op with NumPy broadcasting of <paramref name="a"/> and <paramref name="b"/>.</summary>
    IBinaryPlan? PlanBinary(BinaryOpKind op, TensorShape a, TensorShape b) => null;

    /// <summary>Plans BatchNormalization in inference mode; scale, bias, mean and var ([C]) are read now.</summary>
    IUnaryPlan? PlanBatchNormalization(TensorShape x, Tensor scale, Tensor bias, Tensor mean, Tensor var, float epsilon) => null;

    /// <summary>Plans PRelu with a constant slope that broadcasts unidirectionally to <paramref name="x"/>.</summary>
    IUnaryPlan? PlanPRelu(TensorShape x, Tensor slope) => null;

    /// <summary>Plans Gelu.</summary>
    IUnaryPlan? PlanGelu(TensorShape x, GeluParams p) => null;

    /// <summary>Plans an element-wise square root.</summary>
    IUnaryPlan? PlanSqrt(TensorShape x) => null;

    /// <summary>Plans MatMul of two run-time operands (NumPy semantics).</summary>
    IBinaryPlan? PlanMatMul(TensorShape a, TensorShape b) => null;

    /// <summary>Plans Concat of the inputs along <paramref name="axis"/>.</summary>
    INaryPlan? PlanConcat(IReadOnlyList<TensorShape> inputs, int axis) => null;

    /// <summary>Plans Transpose by <paramref name="perm"/> (a permutation of the axes).</summary>
    IUnaryPlan? PlanTranspose(TensorShape x, IReadOnlyList<int> perm) => null;

    /// <summary>Plans Pad.</summary>
    IUnaryPlan? PlanPad(TensorShape x, PadParams p) => null;

    /// <summary>Plans Resize of an N×C×H×W tensor.</summary>
    IUnaryPlan? PlanResize(TensorShape x, ResizeParams p) => null;

    /// <summary>Plans ReduceMean over <paramref name="axes"/> (normalized, sorted, distinct).</summary>
    IUnaryPlan? PlanReduceMean(TensorShape x, IReadOnlyList<int> axes, bool keepDims) => null;
}

/// <summary>The element-wise binary ops (ONNX Add, Sub, Mul, Div, Pow), with NumPy broadcasting.</summary>
public enum BinaryOpKind { Add, Sub, Mul, Div, Pow }

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
