using FastConv.Backends;
using FastConv.Ops;

namespace FastConv.Cpu.Conv2d;

/// <summary>
/// <c>gemm-1x1</c>: an unpadded stride-1 1×1 conv is already a GEMM per image and group,
/// Y[K/g, P·Q] = W[K/g, C/g] · X[C/g, H·W], with W packed at plan time and the epilogue fused per output
/// channel. Strided or padded 1×1 convs go to <see cref="Im2colGemmConv2d"/>, whose im2col is then a cheap gather.
/// </summary>
internal sealed class Gemm1x1Conv2d : IConv2dAlgorithm
{
    public const string AlgorithmName = "gemm-1x1";

    public string Name => AlgorithmName;

    public bool Supports(Conv2dShape shape, CpuContext context)
    {
        Conv2dParams p = shape.Params;
        return shape.R == 1 && shape.S == 1 && p.StrideH == 1 && p.StrideW == 1 && p.Padding == default;
    }

    /// <summary>
    /// Not for thin layers: packing B (the whole input, C·H·W floats) per call costs as much as the few multiply-adds
    /// per element when K/g is small, and a 12-row (AVX-512) micro-tile over 16 output channels is a third padding.
    /// <c>direct</c> reads such an image in place. On AVX-512 that is K/g ≤ 32 or C/g ≤ 16 (MobileNet's pw32_16,
    /// measured against ONNX Runtime in the same run, 1 thread: 0.77 there against 1.88 here; pw16_96 0.91 against
    /// 1.01; pw144_24 at batch 8, alone: 2.9–3.5 ms there against 5.2 here, where packing streams 1.8 MB per image);
    /// below it only K/g ≤ 16 (with FASTCONV_SIMD=avx2 pw16_96 stayed faster here: 0.85 against 1.37).
    /// </summary>
    public bool IsWorthIt(Conv2dShape shape, CpuContext context)
        => context.Simd >= SimdLevel.Avx512
            ? shape.OutputChannelsPerGroup > 32 && shape.InputChannelsPerGroup > 16
            : shape.OutputChannelsPerGroup > 16;

    public IConv2dPlan Plan(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue, CpuContext context)
        => new GemmConv2dPlan(AlgorithmName, im2col: false, shape, weights, bias, epilogue, context);
}

/// <summary>
/// <c>im2col-gemm</c>: the general fallback for every valid shape (any R, S, stride, dilation, padding, groups):
/// im2col of a chunk of output pixels of one image and group into a plan-sized buffer, then the packed SGEMM
/// with the weights packed at plan time and the epilogue fused. Sums the same products as the reference.
/// </summary>
internal sealed class Im2colGemmConv2d : IConv2dAlgorithm
{
    public const string AlgorithmName = "im2col-gemm";

    public string Name => AlgorithmName;

    public bool Supports(Conv2dShape shape, CpuContext context) => true;

    public IConv2dPlan Plan(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue, CpuContext context)
        => new GemmConv2dPlan(AlgorithmName, im2col: true, shape, weights, bias, epilogue, context);
}
