using System.Runtime.Intrinsics;
using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Ops;
using FastConv.Tests.Support;

namespace FastConv.Tests.Kernels;

/// <summary>
/// The pieces under the <c>direct</c> and <c>depthwise</c> conv algorithms: the padded, de-interleaved input
/// layout, the depthwise interior/border split, and both algorithms swept over every output width 1..40 for
/// R = 1..7 and stride 1..3 with small-integer data, so results must equal the reference exactly.
/// </summary>
public sealed class Conv2dDirectKernelTests
{
    private static readonly SimdLevel[] Levels = Enum.GetValues<SimdLevel>().Where(l => l <= CpuFeatures.Detected).ToArray();

    public static IEnumerable<TestCaseData> LevelsAndStrides()
    {
        foreach (SimdLevel level in Levels)
        {
            for (int stride = 1; stride <= 3; stride++)
            {
                yield return new TestCaseData(level, stride).SetName($"{level} stride {stride}");
            }
        }
    }

    /// <summary>Every tap of every output pixel reads the right input value (or a padding zero), and no load leaves the plane.</summary>
    [Test]
    public unsafe void PaddedInputHoldsEveryTap()
    {
        foreach (int lanes in new[] { 1, 4, 8, 16 })
        {
            for (int sw = 1; sw <= 3; sw++)
            {
                for (int w = 1; w <= 40; w++)
                {
                    for (int s = 1; s <= 7; s++)
                    {
                        for (int dil = 1; dil <= 2; dil++)
                        {
                            foreach ((int left, int right) in new[] { (0, 0), (1, 1), (3, 0), (0, 3), (2, 3) })
                            {
                                if (OutputSize.Dilated(s, dil) > w + left + right)
                                {
                                    continue;
                                }
                                var p = new Conv2dParams { StrideW = sw, StrideH = 1, DilationW = dil, Padding = new Padding2d(1, left, 1, right) };
                                var shape = new Conv2dShape(1, 1, 2, w, 1, 2, s, p);
                                var layout = new ConvPaddedInput(shape, lanes);
                                float[] src = Enumerable.Range(1, 2 * w).Select(i => (float)i).ToArray();
                                float[] dst = new float[layout.PlaneStride + lanes];
                                fixed (float* ps = src)
                                fixed (float* pd = dst)
                                {
                                    layout.CopyPlane(ps, pd);
                                }
                                int qRounded = (shape.Q + lanes - 1) / lanes * lanes;
                                for (int pp = 0; pp < shape.P; pp++)
                                {
                                    for (int r = 0; r < 2; r++)
                                    {
                                        for (int t = 0; t < s; t++)
                                        {
                                            long tap = layout.SlotBase(pp, 0) + layout.TapOffsets[r * s + t];
                                            Assert.That(tap + qRounded, Is.LessThanOrEqualTo(layout.PlaneStride), $"{shape} lanes {lanes}: vector load past the plane");
                                            for (int q = 0; q < shape.Q; q++)
                                            {
                                                int y = pp + r - 1, x = q * sw - left + t * dil;
                                                float expected = (uint)y < 2u && (uint)x < (uint)w ? src[y * w + x] : 0f;
                                                Assert.That(dst[tap + q], Is.EqualTo(expected), $"{shape} lanes {lanes}: p={pp} q={q} r={r} s={t}");
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>The stride-1 depthwise row, split into checked borders and a vector interior, equals the all-checked row bit for bit.</summary>
    [TestCaseSource(nameof(Levels))]
    public unsafe void DepthwiseInteriorAndBordersEqualCheckedRow(SimdLevel level)
    {
        var rng = new Random(5);
        for (int w = 1; w <= 40; w++)
        {
            for (int s = 1; s <= 7; s++)
            {
                for (int dil = 1; dil <= 2; dil++)
                {
                    for (int left = 0; left <= 3; left++)
                    {
                        int right = (left + s) % 4;
                        if (OutputSize.Dilated(s, dil) > w + left + right)
                        {
                            continue;
                        }
                        var p = new Conv2dParams { DilationW = dil, Padding = new Padding2d(1, left, 1, right) };
                        var shape = new Conv2dShape(1, 1, 3, w, 1, 3, s, p);
                        var g = DepthwiseGeometry.Of(shape);
                        float[] src = Enumerable.Range(0, 3 * w).Select(_ => (float)rng.NextDouble()).ToArray();
                        float[] taps = Enumerable.Range(0, 3 * s).Select(_ => (float)rng.NextDouble()).ToArray();
                        float[] expected = new float[shape.Q], actual = new float[shape.Q];
                        fixed (float* ps = src)
                        fixed (float* pw = taps)
                        fixed (float* pe = expected)
                        fixed (float* pa = actual)
                        {
                            for (int pp = 0; pp < shape.P; pp++)
                            {
                                Array.Fill(actual, float.NaN);
                                DepthwiseKernels.CheckedRow(g, ps, pe, pw, pp, 0, shape.Q);
                                (int lo, int hi) = DepthwiseKernels.InteriorStride1(w, shape.Q, s, dil, left);
                                int lanes = Lanes(level);
                                if (hi - lo < lanes)
                                {
                                    hi = lo;
                                }
                                DepthwiseKernels.CheckedRow(g, ps, pa, pw, pp, 0, lo);
                                if (hi > lo)
                                {
                                    Interior(level, g, ps, pa, pw, pp, lo, hi);
                                }
                                DepthwiseKernels.CheckedRow(g, ps, pa, pw, pp, hi, shape.Q);
                                Assert.That(actual, Is.EqualTo(expected), $"{level} {shape} p={pp} interior [{lo},{hi})");
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary><c>direct</c> on C=3, K=9 (a short last channel block at KT 8 and 4), every width 1..40, R = S = 1..7.</summary>
    [TestCaseSource(nameof(LevelsAndStrides))]
    public void DirectEveryWidth(SimdLevel level, int stride) => Sweep(level, stride, Conv2dDirect.AlgorithmName, c: 3, k: 9, groups: 1);

    /// <summary><c>direct</c> grouped: two groups of 2 input and 5 output channels.</summary>
    [TestCaseSource(nameof(LevelsAndStrides))]
    public void DirectGroupedEveryWidth(SimdLevel level, int stride) => Sweep(level, stride, Conv2dDirect.AlgorithmName, c: 4, k: 10, groups: 2);

    /// <summary><c>depthwise</c> with channel multiplier 1 and 2, every width 1..40, R = S = 1..7.</summary>
    [TestCaseSource(nameof(LevelsAndStrides))]
    public void DepthwiseEveryWidth(SimdLevel level, int stride)
    {
        Sweep(level, stride, Conv2dDepthwise.AlgorithmName, c: 3, k: 3, groups: 3);
        Sweep(level, stride, Conv2dDepthwise.AlgorithmName, c: 2, k: 4, groups: 2);
    }

    /// <summary>
    /// Small stride-1 planes take the flat mode (vectors across row ends, pad columns dropped); a ResNet
    /// stage-4-like layer with a short channel block and a residual + ReLU epilogue.
    /// </summary>
    [TestCaseSource(nameof(Levels))]
    public void DirectFlatSmallPlane(SimdLevel level)
    {
        using var backend = new CpuBackend(new CpuBackendOptions { Simd = level, Threads = 2, ConvAlgorithm = Conv2dDirect.AlgorithmName });
        var rng = new Random(7);
        foreach (int hw in new[] { 1, 2, 3, 5, 7 })
        {
            var shape = new Conv2dShape(2, 16, hw, hw, 20, 3, 3, Conv2dParams.Create(1, 1));
            Tensor x = TestData.Ints(rng, shape.InputShape);
            Tensor wt = TestData.Ints(rng, shape.WeightShape);
            Tensor residual = TestData.Ints(rng, shape.OutputShape);
            var epilogue = new ConvEpilogue { AddResidual = true, Activation = Activation.Relu };
            Tensor expected = TestData.Poisoned(shape.OutputShape);
            Reference.Conv2dFused(x, wt, null, shape.Params, epilogue, residual, expected);
            using IConv2dPlan plan = backend.PlanConv2d(shape, wt, null, epilogue);
            Tensor actual = TestData.Poisoned(shape.OutputShape);
            plan.Execute(x, actual, residual);
            Compare.Exact(expected, actual, $"direct/{level}: Conv2d({shape})");
        }
    }

    /// <summary>
    /// <c>depthwise</c> on the channel-vectorized path (m = 1, strided or narrow rows): channel counts below,
    /// at and between multiples of the lane count, strides 1–3, dilation 1–2, asymmetric padding wider than
    /// the kernel, batch 2, bias + residual + ReLU, equal bit for bit to the reference.
    /// </summary>
    [TestCaseSource(nameof(Levels))]
    public void DepthwiseChannelBlocks(SimdLevel level)
    {
        using var backend = new CpuBackend(new CpuBackendOptions { Simd = level, Threads = 2, ConvAlgorithm = Conv2dDepthwise.AlgorithmName });
        var rng = new Random(11);
        var cases = new (int C, int H, int W, int R, int S, int Stride, int Dil, Padding2d Pad)[]
        {
            (5, 7, 7, 3, 3, 1, 1, Padding2d.Symmetric(1)),
            (16, 14, 14, 3, 3, 2, 1, new Padding2d(0, 0, 1, 1)),
            (21, 9, 11, 3, 3, 3, 1, new Padding2d(1, 2, 0, 1)),
            (37, 6, 5, 3, 5, 1, 2, new Padding2d(2, 4, 1, 3)),
            (8, 4, 4, 3, 3, 2, 2, new Padding2d(4, 5, 3, 4)), // padding wider than the kernel
            (33, 3, 2, 5, 5, 1, 1, Padding2d.Symmetric(2)),
            (17, 12, 12, 7, 7, 2, 1, Padding2d.Symmetric(3)),
        };
        foreach (var t in cases)
        {
            var p = new Conv2dParams { StrideH = t.Stride, StrideW = t.Stride, DilationH = t.Dil, DilationW = t.Dil, Padding = t.Pad, Groups = t.C };
            var shape = new Conv2dShape(2, t.C, t.H, t.W, t.C, t.R, t.S, p);
            Tensor x = TestData.Ints(rng, shape.InputShape);
            Tensor wt = TestData.Ints(rng, shape.WeightShape);
            Tensor bias = TestData.Ints(rng, TensorShape.Of(t.C));
            Tensor residual = TestData.Ints(rng, shape.OutputShape);
            foreach (bool fused in new[] { false, true })
            {
                var epilogue = fused ? new ConvEpilogue { AddResidual = true, Activation = Activation.Relu } : new ConvEpilogue();
                Tensor expected = TestData.Poisoned(shape.OutputShape);
                Reference.Conv2dFused(x, wt, fused ? bias : null, shape.Params, epilogue, fused ? residual : null, expected);
                using IConv2dPlan plan = backend.PlanConv2d(shape, wt, fused ? bias : null, epilogue);
                Assert.That(plan.Algorithm, Is.EqualTo(Conv2dDepthwise.AlgorithmName));
                Tensor actual = TestData.Poisoned(shape.OutputShape);
                plan.Execute(x, actual, fused ? residual : null);
                Compare.Exact(expected, actual, $"depthwise/{level}: Conv2d({shape}), fused {fused}");
                plan.Execute(x, actual, fused ? residual : null); // the scratch padding must stay zero across runs
                Compare.Exact(expected, actual, $"depthwise/{level}: Conv2d({shape}), fused {fused}, second run");
            }
        }
    }

    private static void Sweep(SimdLevel level, int stride, string algorithm, int c, int k, int groups)
    {
        using var backend = new CpuBackend(new CpuBackendOptions { Simd = level, Threads = 2, ConvAlgorithm = algorithm });
        var rng = new Random(stride * 100 + c);
        for (int r = 1; r <= 7; r++)
        {
            for (int w = 1; w <= 40; w++)
            {
                int pad = r / 2;
                if (r > w + 2 * pad)
                {
                    continue;
                }
                var p = new Conv2dParams { StrideH = stride, StrideW = stride, Padding = new Padding2d(pad, pad, pad, Math.Max(0, pad - 1)), Groups = groups };
                if (r > w + 2 * pad - 1 && pad > 0)
                {
                    p = p with { Padding = Padding2d.Symmetric(pad) };
                }
                var shape = new Conv2dShape(2, c, r + 2, w, k, r, r, p);
                Tensor x = TestData.Ints(rng, shape.InputShape);
                Tensor wt = TestData.Ints(rng, shape.WeightShape);
                Tensor bias = TestData.Ints(rng, TensorShape.Of(k));
                var epilogue = new ConvEpilogue { Activation = Activation.Relu };
                Tensor expected = TestData.Poisoned(shape.OutputShape);
                Reference.Conv2dFused(x, wt, bias, shape.Params, epilogue, null, expected);
                using IConv2dPlan plan = backend.PlanConv2d(shape, wt, bias, epilogue);
                Assert.That(plan.Algorithm, Is.EqualTo(algorithm));
                Tensor actual = TestData.Poisoned(shape.OutputShape);
                plan.Execute(x, actual);
                Compare.Exact(expected, actual, $"{algorithm}/{level}: Conv2d({shape})");
            }
        }
    }

    private static int Lanes(SimdLevel level) => level switch
    {
        SimdLevel.Avx512 => Vector512<float>.Count,
        SimdLevel.Avx2 => Vector256<float>.Count,
        SimdLevel.Vector128 => Vector128<float>.Count,
        _ => 1,
    };

    private static unsafe void Interior(SimdLevel level, DepthwiseGeometry g, float* src, float* dst, float* w, int p, int lo, int hi)
    {
        switch (level)
        {
            case SimdLevel.Avx512:
                DepthwiseKernels.InteriorRowStride1<Vector512<float>, ConvVec512>(g, src, dst, w, p, lo, hi);
                break;
            case SimdLevel.Avx2:
                DepthwiseKernels.InteriorRowStride1<Vector256<float>, ConvVec256>(g, src, dst, w, p, lo, hi);
                break;
            case SimdLevel.Vector128:
                DepthwiseKernels.InteriorRowStride1<Vector128<float>, ConvVec128>(g, src, dst, w, p, lo, hi);
                break;
            default:
                DepthwiseKernels.InteriorRowStride1<float, ConvVecScalar>(g, src, dst, w, p, lo, hi);
                break;
        }
    }
}
