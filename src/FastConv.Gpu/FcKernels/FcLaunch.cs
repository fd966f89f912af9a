using FastConv.Backends;
using FastConv.Ops;

namespace FastConv.Gpu.FcKernels;

/// <summary>How one kernel of native/kernels is launched: grid, block and dynamic shared bytes.</summary>
public readonly record struct FcLaunchShape(Dim3 Grid, Dim3 Block, int SharedBytes);

/// <summary>
/// The one place each kernel of native/kernels gets its launch shape and its argument struct, for every backend
/// that runs it: the <c>cuda</c>/<c>cuda-emu</c> plans and the library backends' support plans. A dimension the
/// kernel walks grid-stride is capped (the <c>cap</c> of each method: the launcher's own cap, lowered by
/// <see cref="FcKernelOptions.MaxGridBlocks"/>); any other dimension is exact, and <see cref="Check"/> refuses a
/// launch past the hardware's limits before the driver sees it.
/// </summary>
internal static class FcLaunch
{
    /// <summary>Cap of a grid-stride dimension when the launcher has no better one: 2²⁰ blocks fill any GPU many times over.</summary>
    public const long DefaultCap = 1 << 20;

    /// <summary>Blocks covering <paramref name="work"/> in a dimension the kernel does not stride over.</summary>
    public static uint Blocks(long work, long perBlock) => (uint)Math.Clamp((work + perBlock - 1) / perBlock, 1, int.MaxValue);

    /// <summary>Blocks covering <paramref name="work"/>, at most <paramref name="cap"/>: the kernel's grid-stride loop does the rest.</summary>
    public static uint Strided(long work, long perBlock, long cap) => (uint)Math.Clamp((work + perBlock - 1) / perBlock, 1, Math.Max(1, cap));

    /// <summary>Throws <see cref="InvalidShapeException"/> for a grid the hardware cannot launch (gridDim.y, z ≤ 65,535).</summary>
    public static FcLaunchShape Check(string kernel, FcLaunchShape l, string problem)
    {
        if (l.Grid.Y > FcKernelVariants.MaxGridYZ || l.Grid.Z > FcKernelVariants.MaxGridYZ)
        {
            // WhyNot keeps the automatic choice away from this; a forced kernel gets a typed error, never an invalid launch.
            throw new InvalidShapeException($"{kernel}: launch grid {l.Grid} exceeds the 65535 limit of gridDim.y/z; {problem}.");
        }
        return l;
    }

    public static FcLaunchShape Conv2d(string kernel, Conv2dShape s, long cap)
    {
        long m = (long)s.N * s.P * s.Q;
        uint gemmBlocksM = Blocks(m, 64), gemmBlocksN = Blocks(s.OutputChannelsPerGroup, 64);
        return kernel switch
        {
            "conv2d_naive" => new(new Dim3(Strided(s.OutputShape.ElementCount, 256, Math.Min(cap, DefaultCap))), new Dim3(256), 0),
            "conv2d_v1_depthwise" => new(new Dim3(Blocks(s.Q, 32), Blocks(s.P, 8), (uint)((long)s.N * s.K)), new Dim3(32, 8), (int)FcKernelVariants.DepthwiseSharedBytes(s)),
            "conv2d_v2_direct" => new(new Dim3(Blocks(m, 128), Blocks(s.K, 8)), new Dim3(128), (int)FcKernelVariants.DirectSharedBytes(s)),
            "conv2d_v3_igemm_fp32" => new(new Dim3(gemmBlocksM, gemmBlocksN, (uint)s.Groups), new Dim3(256), 0),
            "conv2d_v4_igemm_tf32" => new(new Dim3(gemmBlocksM, gemmBlocksN, (uint)s.Groups), new Dim3(128), 0),
            _ => throw new InvalidHyperparameterException($"unknown conv2d kernel '{kernel}' (known: {string.Join(", ", FcKernelVariants.Conv2d)})."),
        };
    }

    public static FcLaunchShape Pool2d(string kernel, Pool2dShape s, long cap) => kernel == "pool2d_naive"
        ? new(new Dim3(Strided(s.OutputShape.ElementCount, 256, Math.Min(cap, DefaultCap))), new Dim3(256), 0)
        : new(new Dim3(Blocks(s.Q, 32), Blocks(s.P, 8), (uint)((long)s.N * s.C)), new Dim3(32, 8), (int)FcKernelVariants.PoolSharedBytes(s));

    public static FcLaunchShape GlobalPool(string kernel, long planes, long cap) => kernel == "global_pool_naive"
        ? new(new Dim3(Strided(planes, 128, Math.Min(cap, DefaultCap))), new Dim3(128), 0)
        : new(new Dim3(Strided(planes, 8, Math.Min(cap, DefaultCap))), new Dim3(256), 0); // 8 warps, one plane each per pass

    /// <summary>vec4 runs a quarter of the threads; 4096 blocks of 256 fill any GPU several times over.</summary>
    public static FcLaunchShape Activation(string kernel, long count, long cap)
        => new(new Dim3(Strided(kernel == "activation_naive" ? count : (count + 3) / 4, 256, Math.Min(cap, 4096))), new Dim3(256), 0);

    public static FcLaunchShape Softmax(string kernel, long outer, long inner, long cap) => kernel == "softmax_v1_warp"
        ? new(new Dim3(Strided(outer, 8, Math.Min(cap, DefaultCap))), new Dim3(256), 0)
        : new(new Dim3(Strided(outer * inner, 128, Math.Min(cap, DefaultCap))), new Dim3(128), 0);

    /// <summary>gemm_v1_tiled walks 32×32 tiles grid-stride in both dimensions, so gridDim.y is capped at the hardware's 65,535.</summary>
    public static FcLaunchShape Gemm(string kernel, long m, long n, long cap) => kernel == "gemm_v1_tiled"
        ? new(new Dim3(Strided(n, 32, Math.Min(cap, DefaultCap)), Strided(m, 32, Math.Min(cap, FcKernelVariants.MaxGridYZ))), new Dim3(32, 8), 0)
        : new(new Dim3(Strided(m * n, 256, Math.Min(cap, DefaultCap))), new Dim3(256), 0);

    /// <summary>The support kernels (support.cu): one element per thread, grid-stride.</summary>
    public static FcLaunchShape Elementwise(long count, long cap) => new(new Dim3(Strided(count, 256, Math.Min(cap, DefaultCap))), new Dim3(256), 0);

    public static FcConv2dArgs Conv2dArgs(Conv2dShape s, ConvEpilogue e) => new()
    {
        N = s.N, C = s.C, H = s.H, W = s.W, K = s.K, R = s.R, S = s.S, P = s.P, Q = s.Q,
        StrideH = s.Params.StrideH, StrideW = s.Params.StrideW, PadTop = s.Params.Padding.Top, PadLeft = s.Params.Padding.Left,
        DilH = s.Params.DilationH, DilW = s.Params.DilationW, Groups = s.Groups,
        Act = (int)e.Activation.Kind, Alpha = e.Activation.Alpha, Beta = e.Activation.Beta,
    };

    public static FcPool2dArgs Pool2dArgs(Pool2dShape s, bool max)
    {
        Pool2dParams p = s.Params;
        return new FcPool2dArgs
        {
            N = s.N, C = s.C, H = s.H, W = s.W, P = s.P, Q = s.Q, R = s.R, S = s.S,
            StrideH = p.StrideH, StrideW = p.StrideW, PadTop = p.Padding.Top, PadLeft = p.Padding.Left, PadBottom = p.Padding.Bottom, PadRight = p.Padding.Right,
            DilH = p.DilationH, DilW = p.DilationW, IsMax = max ? 1 : 0, CountIncludePad = p.CountIncludePad ? 1 : 0,
        };
    }

    public static FcActivationArgs ActivationArgs(Activation a, long count)
        => new() { Count = count, Act = (int)a.Kind, Alpha = a.Alpha, Beta = a.Beta };

    /// <summary>The automatic pooling kernel: the tiled one where it can run the shape.</summary>
    public static string ChoosePool2d(Pool2dShape s) => FcKernelVariants.WhyNot("pool2d_v1_tiled", s) is null ? "pool2d_v1_tiled" : "pool2d_naive";

    /// <summary>The automatic softmax kernel: a warp per row along the last axis, else the naive one.</summary>
    public static string ChooseSoftmax(long inner) => inner == 1 ? "softmax_v1_warp" : "softmax_naive";

    /// <summary>(outer, axis length, inner) of a softmax along <paramref name="axis"/>: the tensor seen as [outer][len][inner].</summary>
    public static (int Outer, int Length, int Inner) SoftmaxSplit(TensorShape shape, int axis)
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
}
