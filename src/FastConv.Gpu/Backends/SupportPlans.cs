using System.Runtime.CompilerServices;
using FastConv.Backends;
using FastConv.Gpu.FcKernels;
using FastConv.Interop;
using FastConv.Ops;

namespace FastConv.Gpu.Backends;

// The plans both library backends share where the libraries have nothing better: element-wise activations,
// pooling the cuDNN descriptor cannot express, global pooling, softmax, and cuBLAS Gemm for FC layers. They run the
// kernels of native/kernels — the ones the cuda backend runs and `fastconv check --backend cuda-emu` checks against
// the reference in every CI run — with launch shapes and argument structs from FcLaunch, so there is one set of
// kernels with one set of semantics (NaN included). Arguments are packed once; Enqueue only writes the addresses.

/// <summary>y = act(x) element-wise through activation.cu (in place allowed).</summary>
internal sealed class GpuActivationPlan : GpuUnaryPlan
{
    private readonly GpuKernel _vec4, _naive;
    private readonly KernelArguments _args;
    private readonly FcActivationArgs _struct;
    private readonly FcLaunchShape _vec4Launch, _naiveLaunch;

    public GpuActivationPlan(GpuBackendContext c, Activation activation, TensorShape shape)
        : base(c, activation.ToString(), $"activation({activation})", shape, shape)
    {
        try
        {
            _vec4 = c.Kernel("activation.cu", "activation_v1_vec4");
            _naive = c.Kernel("activation.cu", "activation_naive");
            _args = Own(new KernelArguments(Unsafe.SizeOf<FcActivationArgs>()));
            _struct = FcLaunch.ActivationArgs(activation, shape.ElementCount);
            _vec4Launch = FcLaunch.Activation("activation_v1_vec4", shape.ElementCount, c.GridCap);
            _naiveLaunch = FcLaunch.Activation("activation_naive", shape.ElementCount, c.GridCap);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private protected override void Enqueue(ulong x, ulong y, nint stream)
    {
        // A session may hand in addresses inside an arena: the 16-byte loads of vec4 need both 16-byte aligned.
        bool aligned = ((x | y) & 15) == 0;
        _args.Set(0, _struct with { X = x, Y = y });
        FcLaunchShape l = aligned ? _vec4Launch : _naiveLaunch;
        (aligned ? _vec4 : _naive).Launch(l.Grid, l.Block, _args, stream);
    }
}

/// <summary>Max or average pooling through pool2d.cu (any padding, ceil mode, dilation for max): the tiled kernel where it fits.</summary>
internal sealed class GpuPool2dPlan : GpuUnaryPlan
{
    private readonly GpuKernel _kernel;
    private readonly KernelArguments _args;
    private readonly FcPool2dArgs _struct;
    private readonly FcLaunchShape _launch;

    public GpuPool2dPlan(GpuBackendContext c, Pool2dShape s, bool max)
        : base(c, max ? "MaxPool2d" : "AvgPool2d", FcLaunch.ChoosePool2d(s), s.InputShape, s.OutputShape)
    {
        try
        {
            _kernel = c.Kernel("pool2d.cu", Algorithm);
            _args = Own(new KernelArguments(Unsafe.SizeOf<FcPool2dArgs>()));
            _struct = FcLaunch.Pool2dArgs(s, max);
            _launch = FcLaunch.Check(Algorithm, FcLaunch.Pool2d(Algorithm, s, c.GridCap), s.ToString());
            if (_launch.SharedBytes > FcKernelVariants.DefaultSharedLimit)
            {
                _kernel.AllowDynamicSharedMemory(_launch.SharedBytes);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private protected override void Enqueue(ulong x, ulong y, nint stream)
    {
        _args.Set(0, _struct with { X = x, Y = y });
        _kernel.Launch(_launch.Grid, _launch.Block, _args, stream, _launch.SharedBytes);
    }
}

/// <summary>Global max / average pool through global_pool_v1_warp (a warp per (n, c) plane, grid-stride).</summary>
internal sealed class GpuGlobalPoolPlan : GpuUnaryPlan
{
    private readonly GpuKernel _kernel;
    private readonly KernelArguments _args;
    private readonly FcGlobalPoolArgs _struct;
    private readonly FcLaunchShape _launch;

    public GpuGlobalPoolPlan(GpuBackendContext c, TensorShape input, bool max)
        : base(c, max ? "GlobalMaxPool" : "GlobalAveragePool", "global_pool_v1_warp", input, OutputOf(input, max))
    {
        try
        {
            _kernel = c.Kernel("pool2d.cu", "global_pool_v1_warp");
            _args = Own(new KernelArguments(Unsafe.SizeOf<FcGlobalPoolArgs>()));
            int planes = input[0] * input[1];
            _struct = new FcGlobalPoolArgs { Planes = planes, HW = input[2] * input[3], IsMax = max ? 1 : 0 };
            _launch = FcLaunch.GlobalPool("global_pool_v1_warp", planes, c.GridCap);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private static TensorShape OutputOf(TensorShape input, bool max)
    {
        input.RequireRank(4, "input", max ? "GlobalMaxPool" : "GlobalAveragePool");
        return TensorShape.Of(input[0], input[1], 1, 1);
    }

    private protected override void Enqueue(ulong x, ulong y, nint stream)
    {
        _args.Set(0, _struct with { X = x, Y = y });
        _kernel.Launch(_launch.Grid, _launch.Block, _args, stream);
    }
}

/// <summary>Softmax along an axis through softmax.cu (the tensor seen as [outer][axis][inner]): a warp per row along the last axis.</summary>
internal sealed class GpuSoftmaxPlan : GpuUnaryPlan
{
    private readonly GpuKernel _kernel;
    private readonly KernelArguments _args;
    private readonly FcSoftmaxArgs _struct;
    private readonly FcLaunchShape _launch;

    public GpuSoftmaxPlan(GpuBackendContext c, TensorShape shape, int axis)
        : base(c, "Softmax", FcLaunch.ChooseSoftmax(FcLaunch.SoftmaxSplit(shape, axis).Inner), shape, shape)
    {
        try
        {
            var (outer, length, inner) = FcLaunch.SoftmaxSplit(shape, axis);
            _kernel = c.Kernel("softmax.cu", Algorithm);
            _args = Own(new KernelArguments(Unsafe.SizeOf<FcSoftmaxArgs>()));
            _struct = new FcSoftmaxArgs { Outer = outer, Len = length, Inner = inner };
            _launch = FcLaunch.Softmax(Algorithm, outer, inner, c.GridCap);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>(outer, axis length, inner) of a softmax along <paramref name="axis"/>.</summary>
    public static (int Outer, int Length, int Inner) Split(TensorShape shape, int axis) => FcLaunch.SoftmaxSplit(shape, axis);

    private protected override void Enqueue(ulong x, ulong y, nint stream)
    {
        _args.Set(0, _struct with { X = x, Y = y });
        _kernel.Launch(_launch.Grid, _launch.Block, _args, stream);
    }
}

/// <summary>
/// Gemm with constant B (and C): <c>Y = α·op(A)·op(B) + β·C</c> by one cuBLAS call. cuBLAS is column-major,
/// so the row-major product is computed as <c>Yᵀ = op(B)ᵀ·op(A)ᵀ</c>: B goes first, and a row-major matrix is
/// its own transpose in column-major terms. C is broadcast into Y first (gemm_broadcast_c), then β·Y is added.
/// </summary>
internal sealed class GpuGemmPlan : GpuUnaryPlan
{
    private readonly DeviceBuffer _b;
    private readonly DeviceBuffer? _c;
    private readonly GpuKernel? _broadcast;
    private readonly KernelArguments? _broadcastArgs;
    private readonly FcBroadcastArgs _broadcastStruct;
    private readonly FcLaunchShape _broadcastLaunch;
    private readonly int _m, _n, _k, _ldA, _ldB;
    private readonly GemmParams _p;

    public GpuGemmPlan(GpuBackendContext c, TensorShape aShape, Tensor b, Tensor? cTensor, GemmParams p)
        : base(c, "Gemm", "cublas-sgemm", aShape, p.OutputShape(aShape, b.Shape))
    {
        try
        {
            _p = p;
            _m = OutputShape[0];
            _n = OutputShape[1];
            _k = p.TransA ? aShape[0] : aShape[1];
            _ldA = aShape[1];
            _ldB = b.Shape[1];
            _b = Upload(b.Span);
            if (cTensor is not null && p.Beta != 0f)
            {
                Broadcast.RequireUnidirectional(cTensor.Shape, OutputShape, "C", "Gemm");
                int[] strides = Broadcast.Strides(cTensor.Shape, OutputShape);
                _c = Upload(cTensor.Span);
                _broadcast = c.Kernel("support.cu", "gemm_broadcast_c");
                _broadcastArgs = Own(new KernelArguments(Unsafe.SizeOf<FcBroadcastArgs>()));
                _broadcastStruct = new FcBroadcastArgs { C = _c.Address, M = _m, N = _n, CStrideM = strides[0], CStrideN = strides[1] };
                _broadcastLaunch = FcLaunch.Elementwise((long)_m * _n, c.GridCap);
            }
            CompleteUploads();
        }
        catch
        {
            // A plan that fails part-way (out of memory on its third buffer, a library refusing a shape) gives back what it took.
            Dispose();
            throw;
        }
    }

    private protected override void Enqueue(ulong x, ulong y, nint stream)
    {
        float beta = 0f;
        if (_broadcast is not null)
        {
            _broadcastArgs!.Set(0, _broadcastStruct with { Y = y });
            _broadcast.Launch(_broadcastLaunch.Grid, _broadcastLaunch.Block, _broadcastArgs, stream);
            beta = _p.Beta;
        }
        Cublas.Sgemm(Context.CublasOn(stream),
            _p.TransB ? CublasOperation.Transpose : CublasOperation.None,
            _p.TransA ? CublasOperation.Transpose : CublasOperation.None,
            _n, _m, _k, _p.Alpha, _b.Address, _ldB, x, _ldA, beta, y, _n);
    }
}
