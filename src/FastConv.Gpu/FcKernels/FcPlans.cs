using FastConv.Backends;
using FastConv.Ops;

namespace FastConv.Gpu.FcKernels;

/// <summary>
/// What every plan of <see cref="FcKernelBackend"/> shares: device buffers rented from the device's caching
/// allocator at plan time, the kernel loaded once, its argument struct packed once (buffer addresses do not
/// change between runs), and the launch shape. Execute = copy in, launch, copy out.
/// </summary>
internal abstract class FcPlan : IPlan
{
    private readonly List<DeviceBuffer> _buffers = [];
    private readonly KernelArguments _args;
    private GpuKernel? _kernel;
    private Dim3 _grid, _block;
    private int _shared;
    private readonly long _maxGrid;

    protected FcPlan(GpuDevice device, FcKernelOptions options, string kernel, TensorShape outputShape, int argBytes)
    {
        Device = device;
        _maxGrid = options.MaxGridBlocks is { } cap ? Math.Max(1, cap) : long.MaxValue;
        Algorithm = kernel;
        OutputShape = outputShape;
        _args = new KernelArguments(argBytes);
    }

    protected GpuDevice Device { get; }
    public string Algorithm { get; }
    public TensorShape OutputShape { get; }
    public long WorkspaceBytes { get; private set; }

    protected DeviceBuffer Alloc(long floats)
    {
        DeviceBuffer b = Device.Memory.Allocate(Math.Max(1, floats) * sizeof(float));
        _buffers.Add(b);
        WorkspaceBytes += b.Bytes;
        return b;
    }

    protected DeviceBuffer Constant(ReadOnlySpan<float> values)
    {
        DeviceBuffer b = Alloc(values.Length);
        Upload(b, values);
        return b;
    }

    protected unsafe void Upload(DeviceBuffer b, ReadOnlySpan<float> data)
    {
        if (data.Length == 0)
        {
            return;
        }
        fixed (float* p = data)
        {
            Device.Driver.CopyHostToDevice(b.Address, (nint)p, data.Length * (long)sizeof(float));
        }
    }

    protected unsafe void Download(Span<float> data, DeviceBuffer b)
    {
        if (data.Length == 0)
        {
            return;
        }
        fixed (float* p = data)
        {
            Device.Driver.CopyDeviceToHost((nint)p, b.Address, data.Length * (long)sizeof(float));
        }
    }

    /// <summary>Loads the kernel from <paramref name="source"/>, packs its one argument and fixes the launch shape.</summary>
    protected void Prepare<T>(string source, T args, Dim3 grid, Dim3 block, long sharedBytes = 0) where T : unmanaged
    {
        if (grid.Y > FcKernelVariants.MaxGridYZ || grid.Z > FcKernelVariants.MaxGridYZ)
        {
            // WhyNot keeps the automatic choice away from this; a forced kernel gets a typed error, never an invalid launch.
            throw new InvalidShapeException($"{Algorithm}: launch grid {grid} exceeds the 65535 limit of gridDim.y/z; {this}.");
        }
        _kernel = Device.Kernels.Get(source, Algorithm);
        _args.Set(0, args);
        _grid = grid;
        _block = block;
        _shared = checked((int)sharedBytes);
        if (_shared > FcKernelVariants.DefaultSharedLimit)
        {
            _kernel.AllowDynamicSharedMemory(_shared);
        }
    }

    protected void Launch() => _kernel!.Launch(_grid, _block, _args, 0, _shared);

    /// <summary>Blocks of <paramref name="perBlock"/> items covering <paramref name="work"/>, for a dimension the kernel does not stride over (no cap: Prepare checks the hardware limit).</summary>
    protected static uint Blocks(long work, long perBlock)
        => (uint)Math.Clamp((work + perBlock - 1) / perBlock, 1, int.MaxValue);

    /// <summary>
    /// Blocks for a dimension the kernel walks grid-stride: enough to cover <paramref name="work"/>, at most
    /// <paramref name="cap"/> (and the options' MaxGridBlocks); the kernel's loop does the rest.
    /// </summary>
    protected uint Strided(long work, long perBlock, long cap)
        => (uint)Math.Clamp((work + perBlock - 1) / perBlock, 1, Math.Min(cap, _maxGrid));

    protected static void RequireShape(Tensor t, TensorShape expected, string what, string op, string problem)
    {
        if (t.Shape != expected)
        {
            throw new InvalidShapeException($"{op}: {what} has shape {t.Shape}, expected {expected}; {problem}.");
        }
    }

    public void Dispose()
    {
        _args.Dispose();
        foreach (DeviceBuffer b in _buffers)
        {
            b.Dispose();
        }
        _buffers.Clear();
    }
}

internal sealed class FcConvPlan : FcPlan, IConv2dPlan
{
    private readonly DeviceBuffer _x, _y;
    private readonly DeviceBuffer? _residual;

    public FcConvPlan(GpuDevice device, FcKernelOptions options, Conv2dShape s, Tensor weights, Tensor? bias, ConvEpilogue e, string kernel)
        : base(device, options, kernel, s.OutputShape, System.Runtime.CompilerServices.Unsafe.SizeOf<FcConv2dArgs>())
    {
        Shape = s;
        Epilogue = e;
        _x = Alloc(s.InputShape.ElementCount);
        _y = Alloc(s.OutputShape.ElementCount);
        _residual = e.AddResidual ? Alloc(s.OutputShape.ElementCount) : null;
        var a = new FcConv2dArgs
        {
            X = _x.Address,
            Wt = Constant(weights.Span).Address,
            Bias = bias is null ? 0 : Constant(bias.Span).Address,
            Scale = e.Scale is null ? 0 : Constant(e.Scale).Address,
            Shift = e.Shift is null ? 0 : Constant(e.Shift).Address,
            Residual = _residual?.Address ?? 0,
            Y = _y.Address,
            N = s.N, C = s.C, H = s.H, W = s.W, K = s.K, R = s.R, S = s.S, P = s.P, Q = s.Q,
            StrideH = s.Params.StrideH, StrideW = s.Params.StrideW, PadTop = s.Params.Padding.Top, PadLeft = s.Params.Padding.Left,
            DilH = s.Params.DilationH, DilW = s.Params.DilationW, Groups = s.Groups,
            Act = (int)e.Activation.Kind, Alpha = e.Activation.Alpha, Beta = e.Activation.Beta,
        };
        long m = (long)s.N * s.P * s.Q;
        uint gemmBlocksM = Blocks(m, 64), gemmBlocksN = Blocks(s.OutputChannelsPerGroup, 64);
        switch (kernel)
        {
            case "conv2d_naive":
                Prepare("conv2d.cu", a, new Dim3(Strided(s.OutputShape.ElementCount, 256, 1 << 20)), new Dim3(256));
                break;
            case "conv2d_v1_depthwise":
                Prepare("conv2d.cu", a, new Dim3(Blocks(s.Q, 32), Blocks(s.P, 8), (uint)(s.N * s.K)), new Dim3(32, 8), FcKernelVariants.DepthwiseSharedBytes(s));
                break;
            case "conv2d_v2_direct":
                Prepare("conv2d.cu", a, new Dim3(Blocks(m, 128), Blocks(s.K, 8)), new Dim3(128), FcKernelVariants.DirectSharedBytes(s));
                break;
            case "conv2d_v3_igemm_fp32":
                Prepare("conv2d.cu", a, new Dim3(gemmBlocksM, gemmBlocksN, (uint)s.Groups), new Dim3(256));
                break;
            default:
                Prepare("conv2d.cu", a, new Dim3(gemmBlocksM, gemmBlocksN, (uint)s.Groups), new Dim3(128));
                break;
        }
    }

    public Conv2dShape Shape { get; }
    public ConvEpilogue Epilogue { get; }

    public void Execute(Tensor x, Tensor y, Tensor? residual = null)
    {
        RequireShape(x, Shape.InputShape, "input", "Conv2d", Shape.ToString());
        RequireShape(y, Shape.OutputShape, "output", "Conv2d", Shape.ToString());
        if (Epilogue.AddResidual != residual is not null)
        {
            throw new InvalidShapeException($"Conv2d: the epilogue {(Epilogue.AddResidual ? "adds a residual but none was given" : "adds no residual but one was given")}; {Shape}.");
        }
        Upload(_x, x.Span);
        if (residual is not null)
        {
            RequireShape(residual, Shape.OutputShape, "residual", "Conv2d", Shape.ToString());
            Upload(_residual!, residual.Span);
        }
        Launch();
        Download(y.Span, _y);
    }
}

internal sealed class FcPool2dPlan : FcPlan, IUnaryPlan
{
    private readonly DeviceBuffer _x, _y;
    private readonly Pool2dShape _shape;
    private readonly string _op;

    public FcPool2dPlan(GpuDevice device, FcKernelOptions options, Pool2dShape s, bool max, string kernel)
        : base(device, options, kernel, s.OutputShape, System.Runtime.CompilerServices.Unsafe.SizeOf<FcPool2dArgs>())
    {
        _shape = s;
        _op = max ? "MaxPool2d" : "AvgPool2d";
        _x = Alloc(s.InputShape.ElementCount);
        _y = Alloc(s.OutputShape.ElementCount);
        var p = s.Params;
        var a = new FcPool2dArgs
        {
            X = _x.Address, Y = _y.Address, N = s.N, C = s.C, H = s.H, W = s.W, P = s.P, Q = s.Q, R = s.R, S = s.S,
            StrideH = p.StrideH, StrideW = p.StrideW, PadTop = p.Padding.Top, PadLeft = p.Padding.Left, PadBottom = p.Padding.Bottom, PadRight = p.Padding.Right,
            DilH = p.DilationH, DilW = p.DilationW, IsMax = max ? 1 : 0, CountIncludePad = p.CountIncludePad ? 1 : 0,
        };
        if (kernel == "pool2d_naive")
        {
            Prepare("pool2d.cu", a, new Dim3(Strided(s.OutputShape.ElementCount, 256, 1 << 20)), new Dim3(256));
        }
        else
        {
            Prepare("pool2d.cu", a, new Dim3(Blocks(s.Q, 32), Blocks(s.P, 8), (uint)(s.N * s.C)), new Dim3(32, 8), FcKernelVariants.PoolSharedBytes(s));
        }
    }

    public void Execute(Tensor x, Tensor y)
    {
        RequireShape(x, _shape.InputShape, "input", _op, _shape.ToString());
        RequireShape(y, _shape.OutputShape, "output", _op, _shape.ToString());
        Upload(_x, x.Span);
        Launch();
        Download(y.Span, _y);
    }
}

internal sealed class FcGlobalPoolPlan : FcPlan, IUnaryPlan
{
    private readonly DeviceBuffer _x, _y;
    private readonly TensorShape _input;
    private readonly string _op;

    public FcGlobalPoolPlan(GpuDevice device, FcKernelOptions options, TensorShape input, bool max, string kernel)
        : base(device, options, kernel, TensorShape.Of(input[0], input[1], 1, 1), System.Runtime.CompilerServices.Unsafe.SizeOf<FcGlobalPoolArgs>())
    {
        _input = input;
        _op = max ? "GlobalMaxPool" : "GlobalAveragePool";
        int planes = input[0] * input[1], hw = input[2] * input[3];
        _x = Alloc(input.ElementCount);
        _y = Alloc(planes);
        var a = new FcGlobalPoolArgs { X = _x.Address, Y = _y.Address, Planes = planes, HW = hw, IsMax = max ? 1 : 0 };
        if (kernel == "global_pool_naive")
        {
            Prepare("pool2d.cu", a, new Dim3(Strided(planes, 128, 1 << 20)), new Dim3(128));
        }
        else
        {
            Prepare("pool2d.cu", a, new Dim3(Strided(planes, 8, 1 << 20)), new Dim3(256));
        }
    }

    public void Execute(Tensor x, Tensor y)
    {
        RequireShape(x, _input, "input", _op, $"X={_input}");
        RequireShape(y, OutputShape, "output", _op, $"X={_input}");
        Upload(_x, x.Span);
        Launch();
        Download(y.Span, _y);
    }
}

internal sealed class FcActivationPlan : FcPlan, IUnaryPlan
{
    private readonly DeviceBuffer _x, _y;
    private readonly Activation _activation;
    private readonly long _count;

    public FcActivationPlan(GpuDevice device, FcKernelOptions options, Activation activation, TensorShape shape, string kernel)
        : base(device, options, kernel, shape, System.Runtime.CompilerServices.Unsafe.SizeOf<FcActivationArgs>())
    {
        _activation = activation;
        _count = shape.ElementCount;
        _x = Alloc(_count);
        _y = Alloc(_count);
        var a = new FcActivationArgs { X = _x.Address, Y = _y.Address, Count = _count, Act = (int)activation.Kind, Alpha = activation.Alpha, Beta = activation.Beta };
        // vec4: a quarter of the threads; device buffers are 256-byte aligned, as its 16-byte accesses need.
        long work = kernel == "activation_naive" ? _count : (_count + 3) / 4;
        Prepare("activation.cu", a, new Dim3(Strided(work, 256, 4096)), new Dim3(256));
    }

    public void Execute(Tensor x, Tensor y)
    {
        RequireShape(x, OutputShape, "input", "Activation", $"{_activation} X={OutputShape}");
        RequireShape(y, OutputShape, "output", "Activation", $"{_activation} X={OutputShape}");
        if (_count == 0)
        {
            return;
        }
        Upload(_x, x.Span);
        Launch();
        Download(y.Span, _y);
    }
}

internal sealed class FcSoftmaxPlan : FcPlan, IUnaryPlan
{
    private readonly DeviceBuffer _x, _y;
    private readonly int _axis;

    public FcSoftmaxPlan(GpuDevice device, FcKernelOptions options, TensorShape shape, int axis, string kernel)
        : base(device, options, kernel, shape, System.Runtime.CompilerServices.Unsafe.SizeOf<FcSoftmaxArgs>())
    {
        _axis = axis;
        int outer = 1, inner = 1;
        for (int i = 0; i < axis; i++)
        {
            outer *= shape[i];
        }
        for (int i = axis + 1; i < shape.Rank; i++)
        {
            inner *= shape[i];
        }
        _x = Alloc(shape.ElementCount);
        _y = Alloc(shape.ElementCount);
        var a = new FcSoftmaxArgs { X = _x.Address, Y = _y.Address, Outer = outer, Len = shape[axis], Inner = inner };
        if (kernel == "softmax_v1_warp")
        {
            Prepare("softmax.cu", a, new Dim3(Strided(outer, 8, 1 << 20)), new Dim3(256));
        }
        else
        {
            Prepare("softmax.cu", a, new Dim3(Strided((long)outer * inner, 128, 1 << 20)), new Dim3(128));
        }
    }

    public void Execute(Tensor x, Tensor y)
    {
        RequireShape(x, OutputShape, "input", "Softmax", $"X={OutputShape} axis={_axis}");
        RequireShape(y, OutputShape, "output", "Softmax", $"X={OutputShape} axis={_axis}");
        if (OutputShape.ElementCount == 0)
        {
            return;
        }
        Upload(_x, x.Span);
        Launch();
        Download(y.Span, _y);
    }
}

internal sealed class FcGemmPlan : FcPlan, IUnaryPlan
{
    private readonly DeviceBuffer _a, _y;
    private readonly TensorShape _aShape;
    private readonly string _problem;

    public FcGemmPlan(GpuDevice device, FcKernelOptions options, TensorShape aShape, Tensor b, Tensor? c, GemmParams p, string kernel)
        : base(device, options, kernel, p.OutputShape(aShape, b.Shape), System.Runtime.CompilerServices.Unsafe.SizeOf<FcGemmArgs>())
    {
        _aShape = aShape;
        _problem = $"A {aShape}, B {b.Shape}, C {c?.Shape.ToString() ?? "none"}, {p}";
        int m = OutputShape[0], n = OutputShape[1], k = p.TransA ? aShape[0] : aShape[1];
        _a = Alloc(aShape.ElementCount);
        _y = Alloc((long)m * n);
        ulong cAddress = 0;
        int csm = 0, csn = 0;
        if (c is not null && p.Beta != 0f)
        {
            Broadcast.RequireUnidirectional(c.Shape, OutputShape, "C", "Gemm");
            int[] strides = Broadcast.Strides(c.Shape, OutputShape);
            csm = strides[0];
            csn = strides[1];
            cAddress = Constant(c.Span).Address;
        }
        var a = new FcGemmArgs
        {
            A = _a.Address, B = Constant(b.Span).Address, C = cAddress, Y = _y.Address, M = m, N = n, Kd = k,
            TransA = p.TransA ? 1 : 0, TransB = p.TransB ? 1 : 0, CStrideM = csm, CStrideN = csn, Alpha = p.Alpha, Beta = p.Beta,
        };
        if (kernel == "gemm_v1_tiled")
        {
            // Both tile dimensions grid-stride: gridDim.y is capped at the hardware's 65,535 (it was 2²⁰: an invalid launch past M = 2M rows).
            Prepare("gemm.cu", a, new Dim3(Strided(n, 32, 1 << 20), Strided(m, 32, FcKernelVariants.MaxGridYZ)), new Dim3(32, 8));
        }
        else
        {
            Prepare("gemm.cu", a, new Dim3(Strided((long)m * n, 256, 1 << 20)), new Dim3(256));
        }
    }

    public void Execute(Tensor x, Tensor y)
    {
        RequireShape(x, _aShape, "A", "Gemm", _problem);
        RequireShape(y, OutputShape, "output", "Gemm", _problem);
        Upload(_a, x.Span);
        Launch();
        Download(y.Span, _y);
    }
}
