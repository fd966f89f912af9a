using System.Runtime.CompilerServices;
using FastConv.Backends;
using FastConv.Gpu.FcKernels;
using FastConv.Ops;

namespace FastConv.Gpu.Backends;

/// <summary>
/// What the library backends' conv plans share: validation, weights and per-channel vectors on the device,
/// host staging, and the epilogue kernel (bias, folded batch-norm, residual, activation in the reference's order)
/// for whatever the library did not fuse.
/// </summary>
public abstract class GpuConvPlan : GpuPlanBase, IGpuConv2dPlan
{
    private readonly Action<ulong, ulong, ulong, nint> _run;
    private GpuKernel? _epilogue;
    private KernelArguments? _epilogueArgs;
    private FcConv2dArgs _epilogueStruct;
    private FcLaunchShape _epilogueLaunch;

    private protected GpuConvPlan(GpuBackendContext c, Conv2dShape s, Tensor weights, Tensor? bias, ConvEpilogue epilogue, string algorithm)
        : base(c, algorithm, s.InputShape, Validated(s, weights, bias, epilogue))
    {
        Shape = s;
        Epilogue = epilogue;
        _run = Enqueue;
    }

    private static TensorShape Validated(Conv2dShape s, Tensor weights, Tensor? bias, ConvEpilogue epilogue)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(epilogue);
        s.Validate(weights.Shape, bias?.Shape);
        epilogue.Validate(s.K, s.ToString());
        return s.OutputShape;
    }

    public Conv2dShape Shape { get; }
    public ConvEpilogue Epilogue { get; }

    public void Execute(Tensor x, Tensor y, Tensor? residual = null)
    {
        string problem = Shape.ToString();
        RequireShape(x, Shape.InputShape, "input", "Conv2d", problem);
        RequireShape(y, Shape.OutputShape, "output", "Conv2d", problem);
        if (Epilogue.AddResidual != residual is not null)
        {
            throw new InvalidShapeException($"Conv2d: the epilogue {(Epilogue.AddResidual ? "adds a residual but none was given" : "adds no residual but one was given")}; {problem}.");
        }
        if (residual is not null)
        {
            RequireShape(residual, Shape.OutputShape, "residual", "Conv2d", problem);
        }
        Staged(x, y, residual, _run);
    }

    public void ExecuteDevice(ulong x, ulong y, ulong residual, nint stream)
    {
        CompleteUploads();
        Enqueue(x, y, residual, stream);
    }

    /// <summary>Queues the convolution on <paramref name="stream"/> (the plan's constants are on the device).</summary>
    private protected abstract void Enqueue(ulong x, ulong y, ulong residual, nint stream);

    /// <summary>
    /// Prepares the epilogue kernel for what is left after the library's own work: <paramref name="bias"/> when the
    /// library did not add it, Scale/Shift, the residual, the activation. Returns false when nothing is left.
    /// </summary>
    private protected bool PrepareEpilogue(DeviceBuffer? bias, bool residualLeft, bool activationLeft)
    {
        DeviceBuffer? scale = Epilogue.Scale is { } sc ? Upload(sc) : null;
        DeviceBuffer? shift = Epilogue.Shift is { } sh ? Upload(sh) : null;
        Activation act = activationLeft ? Epilogue.Activation : Activation.None;
        if (bias is null && scale is null && shift is null && !residualLeft && act.Kind == ActivationKind.None)
        {
            return false;
        }
        // conv2d_epilogue (native/kernels/support.cu) is fc_conv_store, the epilogue of every conv2d.cu kernel.
        _epilogue = Context.Kernel("support.cu", "conv2d_epilogue");
        _epilogueArgs = Own(new KernelArguments(Unsafe.SizeOf<FcConv2dArgs>()));
        _epilogueStruct = FcLaunch.Conv2dArgs(Shape, Epilogue with { Activation = act }) with
        {
            Bias = bias?.Address ?? 0UL,
            Scale = scale?.Address ?? 0UL,
            Shift = shift?.Address ?? 0UL,
        };
        _epilogueLaunch = FcLaunch.Elementwise(Shape.OutputShape.ElementCount, Context.GridCap);
        return true;
    }

    /// <summary>Queues the epilogue prepared by <see cref="PrepareEpilogue"/>, if any.</summary>
    private protected void RunEpilogue(ulong y, ulong residual, nint stream)
    {
        if (_epilogue is null)
        {
            return;
        }
        _epilogueArgs!.Set(0, _epilogueStruct with { Y = y, Residual = residual });
        _epilogue.Launch(_epilogueLaunch.Grid, _epilogueLaunch.Block, _epilogueArgs, stream);
    }
}
