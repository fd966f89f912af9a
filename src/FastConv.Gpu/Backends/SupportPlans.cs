using FastConv.Backends;
using FastConv.Interop;
using FastConv.Ops;

namespace FastConv.Gpu.Backends;

// The plans both library backends share where the libraries have nothing better: element-wise activations,
// pooling the cuDNN descriptor cannot express, global pooling, softmax, and cuBLAS Gemm for FC layers.
// Kernel arguments are packed once here; ExecuteDevice only writes the two addresses and launches.

internal static class SupportLaunch
{
    public const uint Threads = 256;

    /// <summary>A grid-stride launch: enough blocks to fill the device a few times over, no more.</summary>
    public static Dim3 Grid(GpuBackendContext c, long count)
    {
        long blocks = (count + Threads - 1) / Threads;
        long cap = (long)c.Device.Info.Multiprocessors * 32;
        return new Dim3((uint)Math.Clamp(blocks, 1, Math.Max(1, cap)));
    }

    public static int ActivationCode(ActivationKind kind) => (int)kind;
}

/// <summary>y = act(x) element-wise through fcg_activation (in place allowed).</summary>
internal sealed class GpuActivationPlan : GpuUnaryPlan
{
    private readonly GpuKernel _kernel;
    private readonly KernelArguments _args;
    private readonly Dim3 _grid;

    public GpuActivationPlan(GpuBackendContext c, Activation activation, TensorShape shape)
        : base(c, activation.ToString(), $"fcg_activation({activation})", shape, shape)
    {
        _kernel = c.Support("fcg_activation");
        _args = Own(new KernelArguments(8, 8, 8, 4, 4, 4));
        _args.Set(2, (long)shape.ElementCount);
        _args.Set(3, SupportLaunch.ActivationCode(activation.Kind));
        _args.Set(4, activation.Alpha);
        _args.Set(5, activation.Beta);
        _grid = SupportLaunch.Grid(c, shape.ElementCount);
    }

    public override void ExecuteDevice(ulong x, ulong y, nint stream)
    {
        _args.Set(0, x);
        _args.Set(1, y);
        _kernel.Launch(_grid, new Dim3(SupportLaunch.Threads), _args, stream);
    }
}

/// <summary>Max or average pooling through fcg_pool2d (any padding, ceil mode, dilation for max).</summary>
internal sealed class GpuPool2dPlan : GpuUnaryPlan
{
    private readonly GpuKernel _kernel;
    private readonly KernelArguments _args;
    private readonly Dim3 _grid;

    public GpuPool2dPlan(GpuBackendContext c, Pool2dShape s, bool max)
        : base(c, max ? "MaxPool2d" : "AvgPool2d", "fcg_pool2d", s.InputShape, s.OutputShape)
    {
        _kernel = c.Support("fcg_pool2d");
        Pool2dParams p = s.Params;
        _args = Own(new KernelArguments(8, 8, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4));
        int[] ints = [s.N * s.C, s.H, s.W, s.P, s.Q, s.R, s.S, p.StrideH, p.StrideW, p.Padding.Top, p.Padding.Left, p.Padding.Bottom, p.Padding.Right,
            p.DilationH, p.DilationW, max ? 1 : 0, p.CountIncludePad ? 1 : 0];
        for (int i = 0; i < ints.Length; i++)
        {
            _args.Set(2 + i, ints[i]);
        }
        _grid = SupportLaunch.Grid(c, s.OutputShape.ElementCount);
    }

    public override void ExecuteDevice(ulong x, ulong y, nint stream)
    {
        _args.Set(0, x);
        _args.Set(1, y);
        _kernel.Launch(_grid, new Dim3(SupportLaunch.Threads), _args, stream);
    }
}

/// <summary>Global max / average pool, one warp per (n, c) plane.</summary>
internal sealed class GpuGlobalPoolPlan : GpuUnaryPlan
{
    private readonly GpuKernel _kernel;
    private readonly KernelArguments _args;
    private readonly Dim3 _grid;

    public GpuGlobalPoolPlan(GpuBackendContext c, TensorShape input, bool max)
        : base(c, max ? "GlobalMaxPool" : "GlobalAveragePool", "fcg_global_pool", input, OutputOf(input, max))
    {
        _kernel = c.Support("fcg_global_pool");
        _args = Own(new KernelArguments(8, 8, 4, 4, 4));
        int nc = input[0] * input[1];
        _args.Set(2, nc);
        _args.Set(3, input[2] * input[3]);
        _args.Set(4, max ? 1 : 0);
        _grid = new Dim3((uint)Math.Max(1, (nc * 32L + SupportLaunch.Threads - 1) / SupportLaunch.Threads));
    }

    private static TensorShape OutputOf(TensorShape input, bool max)
    {
        input.RequireRank(4, "input", max ? "GlobalMaxPool" : "GlobalAveragePool");
        return TensorShape.Of(input[0], input[1], 1, 1);
    }

    public override void ExecuteDevice(ulong x, ulong y, nint stream)
    {
        _args.Set(0, x);
        _args.Set(1, y);
        _kernel.Launch(_grid, new Dim3(SupportLaunch.Threads), _args, stream);
    }
}

/// <summary>Softmax along an axis through fcg_softmax (the tensor seen as [outer][axis][inner]).</summary>
internal sealed class GpuSoftmaxPlan : GpuUnaryPlan
{
    private readonly GpuKernel _kernel;
    private readonly KernelArguments _args;
    private readonly Dim3 _grid;

    public GpuSoftmaxPlan(GpuBackendContext c, TensorShape shape, int axis)
        : base(c, "Softmax", "fcg_softmax", shape, shape)
    {
        var (outer, length, inner) = Split(shape, axis);
        _kernel = c.Support("fcg_softmax");
        _args = Own(new KernelArguments(8, 8, 4, 4, 4));
        _args.Set(2, outer);
        _args.Set(3, length);
        _args.Set(4, inner);
        _grid = SupportLaunch.Grid(c, (long)outer * inner);
    }

    /// <summary>(outer, axis length, inner) of a softmax along <paramref name="axis"/>.</summary>
    public static (int Outer, int Length, int Inner) Split(TensorShape shape, int axis)
    {
        int a = shape.NormalizeAxis(axis, "Softmax");
        int outer = 1, inner = 1;
        for (int i = 0; i < a; i++)
        {
            outer *= shape[i];
        }
        for (int i = a + 1; i < shape.Rank; i++)
        {
            inner *= shape[i];
        }
        return (outer, shape[a], inner);
    }

    public override void ExecuteDevice(ulong x, ulong y, nint stream)
    {
        _args.Set(0, x);
        _args.Set(1, y);
        _kernel.Launch(_grid, new Dim3(SupportLaunch.Threads), _args, stream);
    }
}

/// <summary>
/// Gemm with constant B (and C): <c>Y = α·op(A)·op(B) + β·C</c> by one cuBLAS call. cuBLAS is column-major,
/// so the row-major product is computed as <c>Yᵀ = op(B)ᵀ·op(A)ᵀ</c>: B goes first, and a row-major matrix is
/// its own transpose in column-major terms. C is broadcast into Y first (fcg_broadcast_rows), then β·Y is added.
/// </summary>
internal sealed class GpuGemmPlan : GpuUnaryPlan
{
    private readonly DeviceBuffer _b;
    private readonly DeviceBuffer? _c;
    private readonly GpuKernel? _broadcast;
    private readonly KernelArguments? _broadcastArgs;
    private readonly int _m, _n, _k, _ldA, _ldB;
    private readonly GemmParams _p;
    private readonly Dim3 _grid;

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
                _c = Upload(cTensor.Span);
                _broadcast = c.Support("fcg_broadcast_rows");
                int rows = cTensor.Shape.Rank == 2 ? cTensor.Shape[0] : 1;
                int cols = cTensor.Shape.Rank == 0 ? 1 : cTensor.Shape[cTensor.Shape.Rank - 1];
                _broadcastArgs = Own(new KernelArguments(8, 8, 4, 4, 4, 4));
                _broadcastArgs.Set(1, _c.Address);
                _broadcastArgs.Set(2, _m);
                _broadcastArgs.Set(3, _n);
                _broadcastArgs.Set(4, rows);
                _broadcastArgs.Set(5, cols);
                _grid = SupportLaunch.Grid(c, (long)_m * _n);
            }
        }
        catch
        {
            // A plan that fails part-way (out of memory on its third buffer, a library refusing a shape) gives back what it took.
            Dispose();
            throw;
        }
    }

    public override void ExecuteDevice(ulong x, ulong y, nint stream)
    {
        float beta = 0f;
        if (_broadcast is not null)
        {
            _broadcastArgs!.Set(0, y);
            _broadcast.Launch(_grid, new Dim3(SupportLaunch.Threads), _broadcastArgs, stream);
            beta = _p.Beta;
        }
        Cublas.Sgemm(Context.CublasOn(stream),
            _p.TransB ? CublasOperation.Transpose : CublasOperation.None,
            _p.TransA ? CublasOperation.Transpose : CublasOperation.None,
            _n, _m, _k, _p.Alpha, _b.Address, _ldB, x, _ldA, beta, y, _n);
    }
}
