using FastConv.Backends;
using FastConv.Compilation;
using FastConv.Ops;

namespace FastConv.Gpu.Backends;

/// <summary>
/// What the GPU backends (<c>cuda</c>, <c>cuda-emu</c>, <c>cudnn</c>, <c>cublas</c>) share as device backends: their
/// plans read and write device memory, so a session gives them a device arena and a stream of its own, a page-locked
/// host arena for what crosses, and runs its Copy nodes through their driver — which counts every transfer. With
/// graph capture on, a session records a run's work on its stream into a CUDA Graph through the driver and replays it.
/// </summary>
public abstract class GpuBackendBase : IDeviceBackend, IGraphCaptureBackend
{
    /// <summary>The device, the backend's own stream (plan-time uploads), cuBLAS and the kernel loader its plans share (set by the constructor).</summary>
    public GpuBackendContext Context { get; private protected set; } = null!;

    public GpuDevice Device => Context.Device;

    public abstract string Name { get; }

    public MemorySpace Memory => MemorySpace.Device;

    public TransferCounters Transfers => Device.Driver.Transfers;

    public IDeviceBuffer AllocateArena(long bytes)
    {
        Device.Driver.MakeCurrent();
        return Device.Memory.Allocate(bytes);
    }

    public IDeviceBuffer AllocateHostArena(long bytes)
    {
        Device.Driver.MakeCurrent();
        return Device.Pinned.Rent(bytes);
    }

    public IDeviceStream CreateStream()
    {
        Device.Driver.MakeCurrent();
        return Device.CreateStream();
    }

    public void CopyToDevice(ulong destination, nint source, long bytes, nint stream) => Device.Driver.CopyHostToDeviceAsync(destination, source, bytes, stream);

    public void CopyToHost(nint destination, ulong source, long bytes, nint stream) => Device.Driver.CopyDeviceToHostAsync(destination, source, bytes, stream);

    public void CopyOnDevice(ulong destination, ulong source, long bytes, nint stream) => Device.Driver.CopyDeviceToDeviceAsync(destination, source, bytes, stream);

    public void Synchronize(nint stream) => Device.Driver.StreamSynchronize(stream);

    public void MakeCurrent() => Device.Driver.MakeCurrent();

    public bool SupportsGraphs => Device.Driver.SupportsGraphs;

    public void BeginCapture(nint stream) => Device.Driver.StreamBeginCapture(stream);

    public IDeviceGraph EndCapture(nint stream) => GpuGraph.EndCapture(Device.Driver, stream);

    public abstract IConv2dPlan PlanConv2d(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue);
    public abstract IUnaryPlan PlanPool2d(Pool2dShape shape, bool max);
    public abstract IUnaryPlan PlanGlobalPool(TensorShape input, bool max);
    public abstract IUnaryPlan PlanActivation(Activation activation, TensorShape shape);
    public abstract IUnaryPlan PlanSoftmax(TensorShape shape, int axis);
    public abstract IUnaryPlan PlanGemm(TensorShape aShape, Tensor b, Tensor? c, GemmParams p);

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected abstract void Dispose(bool disposing);
}
