using System.Runtime.CompilerServices;
using FastConv.Backends;
using FastConv.Gpu.Backends;
using FastConv.Ops;

namespace FastConv.Gpu.FcKernels;

/// <summary>
/// The kernel, argument struct and launch shape of one plan of <see cref="FcKernelBackend"/>: the kernel loaded
/// once, its struct packed once at plan time (constants' addresses included), and per launch only the input and
/// output addresses written in. Constants are uploaded by <see cref="GpuPlanBase"/> (pinned staging, async on the
/// backend's stream); host execution is its staging path, device execution a launch on the caller's stream.
/// </summary>
internal sealed class FcLauncher<T>(GpuKernel kernel, FcLaunchShape launch, KernelArguments args) where T : unmanaged
{
    public void Launch(T values, nint stream)
    {
        args.Set(0, values);
        kernel.Launch(launch.Grid, launch.Block, args, stream, launch.SharedBytes);
    }

    /// <summary>Loads <paramref name="kernelName"/> of <paramref name="source"/> for a checked launch shape.</summary>
    public static FcLauncher<T> Create(GpuBackendContext c, string source, string kernelName, FcLaunchShape launch, string problem, KernelArguments args)
    {
        FcLaunch.Check(kernelName, launch, problem);
        GpuKernel k = c.Kernel(source, kernelName);
        if (launch.SharedBytes > FcKernelVariants.DefaultSharedLimit)
        {
            k.AllowDynamicSharedMemory(launch.SharedBytes);
        }
        return new FcLauncher<T>(k, launch, args);
    }
}

/// <summary>The grid cap of a <see cref="FcKernelBackend"/> plan: the options' MaxGridBlocks, else none beyond each launcher's own.</summary>
internal static class FcCaps
{
    public static long Of(FcKernelOptions o) => o.MaxGridBlocks is { } cap ? Math.Max(1, cap) : long.MaxValue;
}

internal sealed class FcConvPlan : GpuConvPlan
{
    private readonly FcLauncher<FcConv2dArgs> _launcher;
    private readonly FcConv2dArgs _args;

    public FcConvPlan(GpuBackendContext c, FcKernelOptions options, Conv2dShape s, Tensor weights, Tensor? bias, ConvEpilogue e, string kernel)
        : base(c, s, weights, bias, e, kernel)
    {
        try
        {
            _args = FcLaunch.Conv2dArgs(s, e) with
            {
                Wt = Upload(weights.Span).Address,
                Bias = bias is null ? 0 : Upload(bias.Span).Address,
                Scale = e.Scale is null ? 0 : Upload(e.Scale).Address,
                Shift = e.Shift is null ? 0 : Upload(e.Shift).Address,
            };
            _launcher = FcLauncher<FcConv2dArgs>.Create(c, "conv2d.cu", kernel, FcLaunch.Conv2d(kernel, s, FcCaps.Of(options)), s.ToString(),
                Own(new KernelArguments(Unsafe.SizeOf<FcConv2dArgs>())));
            CompleteUploads();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private protected override void Enqueue(ulong x, ulong y, ulong residual, nint stream)
        => _launcher.Launch(_args with { X = x, Y = y, Residual = residual }, stream);
}

internal sealed class FcPool2dPlan : GpuUnaryPlan
{
    private readonly FcLauncher<FcPool2dArgs> _launcher;
    private readonly FcPool2dArgs _args;

    public FcPool2dPlan(GpuBackendContext c, FcKernelOptions options, Pool2dShape s, bool max, string kernel)
        : base(c, max ? "MaxPool2d" : "AvgPool2d", kernel, s.InputShape, s.OutputShape)
    {
        try
        {
            _args = FcLaunch.Pool2dArgs(s, max);
            _launcher = FcLauncher<FcPool2dArgs>.Create(c, "pool2d.cu", kernel, FcLaunch.Pool2d(kernel, s, FcCaps.Of(options)), s.ToString(),
                Own(new KernelArguments(Unsafe.SizeOf<FcPool2dArgs>())));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private protected override void Enqueue(ulong x, ulong y, nint stream) => _launcher.Launch(_args with { X = x, Y = y }, stream);
}

internal sealed class FcGlobalPoolPlan : GpuUnaryPlan
{
    private readonly FcLauncher<FcGlobalPoolArgs> _launcher;
    private readonly FcGlobalPoolArgs _args;

    public FcGlobalPoolPlan(GpuBackendContext c, FcKernelOptions options, TensorShape input, bool max, string kernel)
        : base(c, max ? "GlobalMaxPool" : "GlobalAveragePool", kernel, input, TensorShape.Of(input[0], input[1], 1, 1))
    {
        try
        {
            int planes = input[0] * input[1];
            _args = new FcGlobalPoolArgs { Planes = planes, HW = input[2] * input[3], IsMax = max ? 1 : 0 };
            _launcher = FcLauncher<FcGlobalPoolArgs>.Create(c, "pool2d.cu", kernel, FcLaunch.GlobalPool(kernel, planes, FcCaps.Of(options)), $"X={input}",
                Own(new KernelArguments(Unsafe.SizeOf<FcGlobalPoolArgs>())));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private protected override void Enqueue(ulong x, ulong y, nint stream) => _launcher.Launch(_args with { X = x, Y = y }, stream);
}

internal sealed class FcActivationPlan : GpuUnaryPlan
{
    private readonly FcLauncher<FcActivationArgs> _launcher;
    private readonly FcActivationArgs _args;
    private readonly bool _vec4;

    public FcActivationPlan(GpuBackendContext c, FcKernelOptions options, Activation activation, TensorShape shape, string kernel)
        : base(c, "Activation", kernel, shape, shape)
    {
        try
        {
            _args = FcLaunch.ActivationArgs(activation, shape.ElementCount);
            _vec4 = kernel == "activation_v1_vec4";
            _launcher = FcLauncher<FcActivationArgs>.Create(c, "activation.cu", kernel, FcLaunch.Activation(kernel, shape.ElementCount, FcCaps.Of(options)),
                $"{activation} X={shape}", Own(new KernelArguments(Unsafe.SizeOf<FcActivationArgs>())));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private protected override void Enqueue(ulong x, ulong y, nint stream)
    {
        if (_vec4 && ((x | y) & 15) != 0)
        {
            // Device allocations are 256-byte aligned; an address inside a session's arena need not be.
            throw new InvalidShapeException($"{Algorithm}: x (0x{x:x}) and y (0x{y:x}) must be 16-byte aligned for its 16-byte loads.");
        }
        _launcher.Launch(_args with { X = x, Y = y }, stream);
    }
}

internal sealed class FcSoftmaxPlan : GpuUnaryPlan
{
    private readonly FcLauncher<FcSoftmaxArgs> _launcher;
    private readonly FcSoftmaxArgs _args;

    public FcSoftmaxPlan(GpuBackendContext c, FcKernelOptions options, TensorShape shape, int axis, string kernel)
        : base(c, "Softmax", kernel, shape, shape)
    {
        try
        {
            var (outer, length, inner) = FcLaunch.SoftmaxSplit(shape, axis);
            _args = new FcSoftmaxArgs { Outer = outer, Len = length, Inner = inner };
            _launcher = FcLauncher<FcSoftmaxArgs>.Create(c, "softmax.cu", kernel, FcLaunch.Softmax(kernel, outer, inner, FcCaps.Of(options)),
                $"X={shape} axis={axis}", Own(new KernelArguments(Unsafe.SizeOf<FcSoftmaxArgs>())));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private protected override void Enqueue(ulong x, ulong y, nint stream) => _launcher.Launch(_args with { X = x, Y = y }, stream);
}

internal sealed class FcGemmPlan : GpuUnaryPlan
{
    private readonly FcLauncher<FcGemmArgs> _launcher;
    private readonly FcGemmArgs _args;

    public FcGemmPlan(GpuBackendContext c, FcKernelOptions options, TensorShape aShape, Tensor b, Tensor? cTensor, GemmParams p, string kernel)
        : base(c, "Gemm", kernel, aShape, p.OutputShape(aShape, b.Shape))
    {
        try
        {
            int m = OutputShape[0], n = OutputShape[1], k = p.TransA ? aShape[0] : aShape[1];
            ulong cAddress = 0;
            int csm = 0, csn = 0;
            if (cTensor is not null && p.Beta != 0f)
            {
                Broadcast.RequireUnidirectional(cTensor.Shape, OutputShape, "C", "Gemm");
                int[] strides = Broadcast.Strides(cTensor.Shape, OutputShape);
                csm = strides[0];
                csn = strides[1];
                cAddress = Upload(cTensor.Span).Address;
            }
            _args = new FcGemmArgs
            {
                B = Upload(b.Span).Address, C = cAddress, M = m, N = n, Kd = k,
                TransA = p.TransA ? 1 : 0, TransB = p.TransB ? 1 : 0, CStrideM = csm, CStrideN = csn, Alpha = p.Alpha, Beta = p.Beta,
            };
            _launcher = FcLauncher<FcGemmArgs>.Create(c, "gemm.cu", kernel, FcLaunch.Gemm(kernel, m, n, FcCaps.Of(options)),
                $"A {aShape}, B {b.Shape}, C {cTensor?.Shape.ToString() ?? "none"}, {p}", Own(new KernelArguments(Unsafe.SizeOf<FcGemmArgs>())));
            CompleteUploads();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private protected override void Enqueue(ulong x, ulong y, nint stream) => _launcher.Launch(_args with { A = x, Y = y }, stream);
}
