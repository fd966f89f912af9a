using FastConv.Backends;

namespace FastConv.Compilation;

/// <summary>
/// One planned node: a backend plan bound, at plan time, to the tensors it reads and writes (views of the session's
/// arena and of constants), so running it is one virtual call and no allocation. Op definitions make them through
/// <see cref="KernelBinding"/>.
/// </summary>
public abstract class Step : IDisposable
{
    private protected Step(string node, string backend, IPlan? plan)
    {
        Node = node;
        Backend = backend;
        Plan = plan;
    }

    /// <summary>The node, as errors name it ("Conv 'layer1.0.conv1'").</summary>
    public string Node { get; }

    /// <summary>The backend the node was placed on.</summary>
    public string Backend { get; }

    public IPlan? Plan { get; }

    public virtual string Algorithm => Plan?.Algorithm ?? "copy";

    public abstract void Execute();

    public void Dispose() => Plan?.Dispose();
}

internal sealed class ConvStep(string node, string backend, IConv2dPlan plan, Tensor x, Tensor y, Tensor? residual) : Step(node, backend, plan)
{
    public override void Execute() => plan.Execute(x, y, residual);
}

internal sealed class UnaryStep(string node, string backend, IUnaryPlan plan, Tensor x, Tensor y) : Step(node, backend, plan)
{
    public override void Execute() => plan.Execute(x, y);
}

internal sealed class BinaryStep(string node, string backend, IBinaryPlan plan, Tensor a, Tensor b, Tensor y) : Step(node, backend, plan)
{
    public override void Execute() => plan.Execute(a, b, y);
}

internal sealed class NaryStep(string node, string backend, INaryPlan plan, Tensor[] inputs, Tensor y) : Step(node, backend, plan)
{
    public override void Execute() => plan.Execute(inputs, y);
}

internal sealed class DeviceUnaryStep(string node, string backend, IDeviceUnaryPlan device, IPlan plan, ulong x, ulong y, nint stream) : Step(node, backend, plan)
{
    public override void Execute() => device.ExecuteDevice(x, y, stream);
}

internal sealed class DeviceConvStep(string node, string backend, IDeviceConv2dPlan device, IPlan plan, ulong x, ulong y, ulong residual, nint stream) : Step(node, backend, plan)
{
    public override void Execute() => device.ExecuteDevice(x, y, residual, stream);
}

/// <summary>A reshape on the device: the same elements under another shape, copied within device memory.</summary>
internal sealed class DeviceCopyStep(string node, string backend, IDeviceBackend device, ulong x, ulong y, long bytes, nint stream) : Step(node, backend, null)
{
    public override void Execute()
    {
        if (x != y && bytes > 0)
        {
            device.CopyOnDevice(y, x, bytes, stream);
        }
    }
}

/// <summary>
/// A Copy node: a value crossing between the host arena (page-locked) and the device arena, queued on the run's stream.
/// A copy down waits for the stream, since host code reads it next; a copy up needs no wait, as the host wrote its
/// source before queueing it.
/// </summary>
internal sealed class TransferStep(string node, string backend, IDeviceBackend device, BoundValue from, BoundValue to, long bytes, nint stream) : Step(node, backend, null)
{
    public bool ToDevice => to.IsDevice;

    public override string Algorithm => to.IsDevice ? "copy host to device" : "copy device to host";

    public long Bytes => bytes;

    /// <summary>
    /// For one run (IO binding): the host side is the caller's page-locked buffer at this address instead of the arena
    /// slot, or — when <see cref="OnDevice"/> — the copy stays on the device, from or to the caller's device buffer.
    /// 0 runs the copy as planned.
    /// </summary>
    public ulong Override { get; set; }

    public bool OnDevice { get; set; }

    /// <summary>While its segment is captured into a graph: the copy down is recorded and the wait is left to the run (a capturing stream cannot be waited on).</summary>
    public bool InCapture { get; set; }

    public override void Execute()
    {
        if (bytes == 0)
        {
            return;
        }
        if (Override != 0 && OnDevice)
        {
            // The caller's tensor is on the device already (or wants the result there): no bus crossing at all.
            if (to.IsDevice)
            {
                device.CopyOnDevice(to.Device, Override, bytes, stream);
            }
            else
            {
                device.CopyOnDevice(Override, from.Device, bytes, stream);
            }
            return;
        }
        if (to.IsDevice)
        {
            device.CopyToDevice(to.Device, Override != 0 ? (nint)Override : from.HostPointer, bytes, stream);
        }
        else
        {
            device.CopyToHost(Override != 0 ? (nint)Override : to.HostPointer, from.Device, bytes, stream);
            // What comes down is read by host code next (a node that fell back to the host, or the caller): wait for it.
            if (!InCapture)
            {
                device.Synchronize(stream);
            }
        }
    }
}

/// <summary>Reshape, Flatten, and a kept Identity/Dropout: the same elements under another shape.</summary>
internal sealed class CopyStep(string node, string backend, Tensor x, Tensor y) : Step(node, backend, null)
{
    public override void Execute()
    {
        if (!x.Memory.Equals(y.Memory))
        {
            x.Span.CopyTo(y.Span);
        }
    }
}
