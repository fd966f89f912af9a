using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Graphs.Ops;
using FastConv.Ops;

namespace FastConv.Tests.Compilation;

/// <summary>
/// A backend with device memory for testing the place pass alone: it runs the core CNN ops and copies (so reshapes stay
/// on it) and the binary ops but no Sqrt, and is never asked to plan (the tests stop before plans).
/// </summary>
internal sealed class FakeDeviceBackend : IDeviceBackend, IBinaryPlanner
{
    public string Name => "fake-device";
    public MemorySpace Memory => MemorySpace.Device;
    public TransferCounters Transfers => default;
    public IDeviceBuffer AllocateArena(long bytes) => throw new NotSupportedException();
    public IDeviceBuffer AllocateHostArena(long bytes) => throw new NotSupportedException();
    public IDeviceStream CreateStream() => throw new NotSupportedException();
    public void CopyToDevice(ulong destination, nint source, long bytes, nint stream) => throw new NotSupportedException();
    public void CopyToHost(nint destination, ulong source, long bytes, nint stream) => throw new NotSupportedException();
    public void CopyOnDevice(ulong destination, ulong source, long bytes, nint stream) => throw new NotSupportedException();
    public void MakeCurrent() => throw new NotSupportedException();
    public void Synchronize(nint stream) => throw new NotSupportedException();
    public IConv2dPlan PlanConv2d(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue) => throw new NotSupportedException();
    public IUnaryPlan PlanPool2d(Pool2dShape shape, bool max) => throw new NotSupportedException();
    public IUnaryPlan PlanGlobalPool(TensorShape input, bool max) => throw new NotSupportedException();
    public IUnaryPlan PlanActivation(Activation activation, TensorShape shape) => throw new NotSupportedException();
    public IUnaryPlan PlanSoftmax(TensorShape shape, int axis) => throw new NotSupportedException();
    public IUnaryPlan PlanGemm(TensorShape aShape, Tensor b, Tensor? c, GemmParams p) => throw new NotSupportedException();
    public IBinaryPlan PlanBinary(BinaryOpKind op, TensorShape a, TensorShape b, Activation activation = default) => throw new NotSupportedException();

    public void Dispose()
    {
    }
}

/// <summary>
/// The reference backend under another name that asks for NCHW8c on Relu nodes: the layout pass's test subject. Its Relu
/// plan runs on the blocked buffer (an element-wise op does not care), its reorders are the reference's.
/// </summary>
internal sealed class BlockedReluBackend : IBackend, ILayoutPolicy, IReorderPlanner, IBinaryPlanner
{
    private readonly ReferenceBackend _reference = new();

    public string Name => "blocked-relu";
    public TensorLayout Preferred(string opType, OpContext context) => opType == "Relu" ? TensorLayout.Blocked(8) : TensorLayout.Nchw;
    public IConv2dPlan PlanConv2d(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue) => _reference.PlanConv2d(shape, weights, bias, epilogue);
    public IUnaryPlan PlanPool2d(Pool2dShape shape, bool max) => _reference.PlanPool2d(shape, max);
    public IUnaryPlan PlanGlobalPool(TensorShape input, bool max) => _reference.PlanGlobalPool(input, max);
    public IUnaryPlan PlanActivation(Activation activation, TensorShape shape) => _reference.PlanActivation(activation, shape);
    public IUnaryPlan PlanSoftmax(TensorShape shape, int axis) => _reference.PlanSoftmax(shape, axis);
    public IUnaryPlan PlanGemm(TensorShape aShape, Tensor b, Tensor? c, GemmParams p) => _reference.PlanGemm(aShape, b, c, p);
    public IUnaryPlan PlanReorder(TensorShape shape, TensorLayout from, TensorLayout to) => _reference.PlanReorder(shape, from, to);
    public IBinaryPlan PlanBinary(BinaryOpKind op, TensorShape a, TensorShape b, Activation activation = default) => _reference.PlanBinary(op, a, b, activation);

    public void Dispose() => _reference.Dispose();
}
