using FastConv.Backends;
using FastConv.Gpu.Backends;
using FastConv.Interop;
using FastConv.Ops;

namespace FastConv.Gpu.FcKernels;

/// <summary>What the <c>cuda</c> / <c>cuda-emu</c> backends may choose; a kernel name forces that variant (for checks and benchmarks).</summary>
public sealed record FcKernelOptions
{
    /// <summary>True forbids TF32 tensor cores (the conv then stays in FP32 on CUDA cores).</summary>
    public bool Exact { get; init; }

    /// <summary>Force a conv2d kernel (one of <see cref="FcKernelVariants.Conv2d"/>); planning throws when it cannot run the shape.</summary>
    public string? Conv2d { get; init; }
    public string? Pool2d { get; init; }
    public string? GlobalPool { get; init; }
    public string? Activation { get; init; }
    public string? Softmax { get; init; }
    public string? Gemm { get; init; }

    /// <summary>
    /// Caps every grid dimension a plan clamps (the grid-stride kernels' blocks, <c>gemm_v1_tiled</c>'s tiles); null
    /// keeps the launchers' own caps. Checks and tests lower it so a few blocks must stride over many rows, which is
    /// what a tensor larger than the cap does on a GPU; without it that path would need gigabytes to reach.
    /// </summary>
    public int? MaxGridBlocks { get; init; }
}

/// <summary>The kernel variants of native/kernels, per op, and which shapes each can run.</summary>
public static class FcKernelVariants
{
    /// <summary>Largest dynamic shared memory a plan asks for without an opt-in attribute (the default limit on every GPU).</summary>
    public const int DefaultSharedLimit = 48 * 1024;

    /// <summary>The hardware's limit on gridDim.y and gridDim.z (gridDim.x allows 2³¹ − 1).</summary>
    public const int MaxGridYZ = 65535;

    public static IReadOnlyList<string> Conv2d { get; } = ["conv2d_naive", "conv2d_v1_depthwise", "conv2d_v2_direct", "conv2d_v3_igemm_fp32", "conv2d_v4_igemm_tf32"];
    public static IReadOnlyList<string> Pool2d { get; } = ["pool2d_naive", "pool2d_v1_tiled"];
    public static IReadOnlyList<string> GlobalPool { get; } = ["global_pool_naive", "global_pool_v1_warp"];
    public static IReadOnlyList<string> Activation { get; } = ["activation_naive", "activation_v1_vec4"];
    public static IReadOnlyList<string> Softmax { get; } = ["softmax_naive", "softmax_v1_warp"];
    public static IReadOnlyList<string> Gemm { get; } = ["gemm_naive", "gemm_v1_tiled"];

    /// <summary>Dynamic shared bytes of the depthwise kernel: the 8×32 tile's input patch plus the filter (conv2d.cu).</summary>
    public static long DepthwiseSharedBytes(Conv2dShape s)
        => 4L * ((7L * s.Params.StrideH + (s.R - 1L) * s.Params.DilationH + 1) * (31L * s.Params.StrideW + (s.S - 1L) * s.Params.DilationW + 1) + s.R * s.S);

    /// <summary>Dynamic shared bytes of the direct kernel: 8 output channels' filters.</summary>
    public static long DirectSharedBytes(Conv2dShape s) => 4L * 8 * s.InputChannelsPerGroup * s.R * s.S;

    /// <summary>Dynamic shared bytes of the tiled pool: the 8×32 tile's input patch (pool2d.cu).</summary>
    public static long PoolSharedBytes(Pool2dShape s)
        => 4L * ((7L * s.Params.StrideH + (s.R - 1L) * s.Params.DilationH + 1) * (31L * s.Params.StrideW + (s.S - 1L) * s.Params.DilationW + 1));

    /// <summary>Null when <paramref name="kernel"/> can run <paramref name="s"/>, else why not.</summary>
    public static string? WhyNot(string kernel, Conv2dShape s) => kernel switch
    {
        "conv2d_naive" => null,
        "conv2d_v3_igemm_fp32" or "conv2d_v4_igemm_tf32" => s.Groups > MaxGridYZ ? "more than 65535 groups (gridDim.z)"
            : (s.OutputChannelsPerGroup + 63L) / 64 > MaxGridYZ ? "K/groups above 64·65535 (gridDim.y)" : null,
        "conv2d_v1_depthwise" => s.InputChannelsPerGroup != 1 ? $"needs C/groups = 1, has {s.InputChannelsPerGroup}"
            : (long)s.N * s.K > MaxGridYZ ? "N·K above 65535 (gridDim.z)"
            : (s.P + 7L) / 8 > MaxGridYZ ? "P above 8·65535 (gridDim.y)"
            : DepthwiseSharedBytes(s) > DefaultSharedLimit ? $"its input patch needs {DepthwiseSharedBytes(s)} B of shared memory" : null,
        "conv2d_v2_direct" => (s.K + 7L) / 8 > MaxGridYZ ? "K above 8·65535 (gridDim.y)"
            : DirectSharedBytes(s) > DefaultSharedLimit ? $"8 filters need {DirectSharedBytes(s)} B of shared memory" : null,
        _ => $"unknown conv2d kernel (known: {string.Join(", ", Conv2d)})",
    };

    public static string? WhyNot(string kernel, Pool2dShape s) => kernel switch
    {
        "pool2d_naive" => null,
        "pool2d_v1_tiled" => (long)s.N * s.C > MaxGridYZ ? "N·C above 65535 (gridDim.z)"
            : (s.P + 7L) / 8 > MaxGridYZ ? "P above 8·65535 (gridDim.y)"
            : PoolSharedBytes(s) > DefaultSharedLimit ? $"its input patch needs {PoolSharedBytes(s)} B of shared memory" : null,
        _ => $"unknown pool2d kernel (known: {string.Join(", ", Pool2d)})",
    };

    /// <summary>The automatic choice for a conv: depthwise, then direct for few input channels, then implicit GEMM (TF32 unless exact).</summary>
    public static string ChooseConv(Conv2dShape s, bool exact)
    {
        if (WhyNot("conv2d_v1_depthwise", s) is null)
        {
            return "conv2d_v1_depthwise";
        }
        // Few channels per group (the stem's C = 3): a GEMM_K of C·R·S ≤ ~100 leaves the implicit GEMM's K tiles
        // mostly padding; the direct kernel reuses each input value for 8 output channels instead.
        if (s.InputChannelsPerGroup <= 4 && WhyNot("conv2d_v2_direct", s) is null)
        {
            return "conv2d_v2_direct";
        }
        // Tensor cores pay once the GEMM fills a 64×64 tile with a K of more than two 16-deep slices.
        bool bigEnough = (long)s.N * s.P * s.Q >= 64 && s.OutputChannelsPerGroup >= 16 && s.InputChannelsPerGroup * s.R * s.S >= 32;
        return !exact && bigEnough ? "conv2d_v4_igemm_tf32" : "conv2d_v3_igemm_fp32";
    }
}

/// <summary>
/// The <c>cuda</c> and <c>cuda-emu</c> backends: FastConv's own kernels (native/kernels), planned and launched by
/// one managed path over an <see cref="IGpuDriver"/> — libcuda on a GPU, the CUDA-on-CPU emulator otherwise. Plans
/// are <see cref="GpuPlanBase"/>s like the library backends': constants uploaded once through pinned staging on the
/// backend's own non-blocking stream; host Execute stages through pinned buffers (nothing allocated per run);
/// <c>ExecuteDevice</c> launches on the caller's stream with device addresses.
/// </summary>
public sealed class FcKernelBackend : GpuBackendBase
{
    private readonly bool _ownsContext;

    /// <summary>A backend over <paramref name="device"/>, which it disposes (drops its reference to) when disposed.</summary>
    public FcKernelBackend(string name, GpuDevice device, FcKernelOptions? options = null)
        : this(name, new GpuBackendContext(name, device, new GpuBackendOptions()), options, ownsContext: true)
    {
    }

    private FcKernelBackend(string name, GpuBackendContext context, FcKernelOptions? options, bool ownsContext)
    {
        Name = name;
        Context = context;
        _ownsContext = ownsContext;
        Options = options ?? new FcKernelOptions();
    }

    /// <summary>
    /// The same backend on the same device and stream with other options (e.g. a forced kernel variant); it shares
    /// this one's device, stream and memory cache and must not outlive it (disposing it releases nothing).
    /// </summary>
    public FcKernelBackend With(FcKernelOptions options) => new(Name, Context, options, ownsContext: false);

    public override string Name { get; }
    public FcKernelOptions Options { get; }

    /// <summary>The <c>cuda-emu</c> backend: the kernels compiled into libfastconv_emu.so, run by the emulator.</summary>
    public static FcKernelBackend CreateEmulated(FcKernelOptions? options = null, EmuThreadOrder? order = null, ulong? seed = null)
    {
        try
        {
            var device = new GpuDevice(new EmuGpuDriver(order, seed));
            try
            {
                return new FcKernelBackend(BackendNames.CudaEmu, device, options);
            }
            catch
            {
                device.Dispose();
                throw;
            }
        }
        catch (NativeLibraryNotFoundException e)
        {
            throw new BackendUnavailableException(BackendNames.CudaEmu, $"the emulator library {EmuNative.LibraryName} is missing (build src/FastConv, which runs native/emu/build.sh): {e.Message}", e);
        }
    }

    /// <summary>
    /// The <c>cuda</c> backend on device 0; throws <see cref="BackendUnavailableException"/> with the reason (no driver
    /// library, no device — remembered per process, as for cudnn and cublas) when there is no GPU.
    /// </summary>
    public static FcKernelBackend CreateCuda(FcKernelOptions? options = null)
        => (FcKernelBackend)GpuBackendFactory.Create(BackendNames.Cuda, () =>
        {
            GpuBackendFactory.RequireDevice(BackendNames.Cuda);
            GpuDevice device = GpuDevice.Shared();
            try
            {
                return new FcKernelBackend(BackendNames.Cuda, device, options);
            }
            catch
            {
                device.Dispose();
                throw;
            }
        });

    private string Pick(string? forced, string auto, IReadOnlyList<string> known, string op)
    {
        string k = forced ?? auto;
        if (!known.Contains(k))
        {
            throw new InvalidHyperparameterException($"{Name}: unknown {op} kernel '{k}' (known: {string.Join(", ", known)}).");
        }
        return k;
    }

    public override IConv2dPlan PlanConv2d(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue)
    {
        shape.Validate(weights.Shape, bias?.Shape);
        epilogue.Validate(shape.K, shape.ToString());
        string kernel = Pick(Options.Conv2d, FcKernelVariants.ChooseConv(shape, Options.Exact), FcKernelVariants.Conv2d, "conv2d");
        if (FcKernelVariants.WhyNot(kernel, shape) is { } why)
        {
            throw new InvalidShapeException($"{Name}: {kernel} cannot run this convolution: {why}; {shape}.");
        }
        return new FcConvPlan(Context, Options, shape, weights, bias, epilogue, kernel);
    }

    public override IUnaryPlan PlanPool2d(Pool2dShape shape, bool max)
    {
        string op = max ? "MaxPool2d" : "AvgPool2d";
        shape.Validate(op);
        if (!max && (shape.Params.DilationH != 1 || shape.Params.DilationW != 1))
        {
            throw new InvalidHyperparameterException($"{op}: dilation must be 1, got ({shape.Params.DilationH},{shape.Params.DilationW}); {shape.Describe()}.");
        }
        string auto = FcLaunch.ChoosePool2d(shape);
        string kernel = Pick(Options.Pool2d, auto, FcKernelVariants.Pool2d, "pool2d");
        if (FcKernelVariants.WhyNot(kernel, shape) is { } why)
        {
            throw new InvalidShapeException($"{Name}: {kernel} cannot run {op} {shape}: {why}.");
        }
        return new FcPool2dPlan(Context, Options, shape, max, kernel);
    }

    public override IUnaryPlan PlanGlobalPool(TensorShape input, bool max)
    {
        input.RequireRank(4, "input", max ? "GlobalMaxPool" : "GlobalAveragePool");
        string kernel = Pick(Options.GlobalPool, "global_pool_v1_warp", FcKernelVariants.GlobalPool, "global pool");
        return new FcGlobalPoolPlan(Context, Options, input, max, kernel);
    }

    public override IUnaryPlan PlanActivation(Activation activation, TensorShape shape)
    {
        if (activation.Kind is < ActivationKind.None or > ActivationKind.Swish)
        {
            throw new InvalidHyperparameterException($"Activation: unknown kind {activation.Kind}.");
        }
        string kernel = Pick(Options.Activation, "activation_v1_vec4", FcKernelVariants.Activation, "activation");
        return new FcActivationPlan(Context, Options, activation, shape, kernel);
    }

    public override IUnaryPlan PlanSoftmax(TensorShape shape, int axis)
    {
        int a = shape.NormalizeAxis(axis, "Softmax");
        int inner = 1;
        for (int i = a + 1; i < shape.Rank; i++)
        {
            inner *= shape[i];
        }
        string kernel = Pick(Options.Softmax, inner == 1 ? "softmax_v1_warp" : "softmax_naive", FcKernelVariants.Softmax, "softmax");
        if (kernel == "softmax_v1_warp" && inner != 1)
        {
            throw new InvalidShapeException($"{Name}: softmax_v1_warp needs the softmax axis to be the last non-unit one; X={shape} axis={axis}.");
        }
        return new FcSoftmaxPlan(Context, Options, shape, a, kernel);
    }

    public override IUnaryPlan PlanGemm(TensorShape aShape, Tensor b, Tensor? c, GemmParams p)
    {
        string kernel = Pick(Options.Gemm, "gemm_v1_tiled", FcKernelVariants.Gemm, "gemm");
        return new FcGemmPlan(Context, Options, aShape, b, c, p, kernel);
    }

    protected override void Dispose(bool disposing)
    {
        if (_ownsContext)
        {
            Context.Dispose();
        }
    }
}
