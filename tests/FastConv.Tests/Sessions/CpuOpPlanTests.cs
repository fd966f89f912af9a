using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Graphs.Ops;
using FastConv.Ops;
using FastConv.Tests.Kernels;
using FastConv.Tests.Support;

namespace FastConv.Tests.Sessions;

/// <summary>
/// The cpu backend's plans for ConvTranspose, Resize, MatMul, the memory moves (Transpose, Slice, Expand, Gather, Pad),
/// PRelu, Erf, Gelu, Mish, the normalizations and the reductions against the reference, at every SIMD level this CPU
/// runs and at 1 and 2 threads, on shapes that cross vector widths, chunk and thread splits. Where the cpu plan sums
/// in another order (ConvTranspose, MatMul, ReduceSum/Mean) the data are small integers, so every sum is exact and the
/// two must agree bit for bit; copies, PRelu, Resize and max/min are exact by construction. Erf, Gelu, Mish and the
/// normalizations get the bound written beside each.
/// </summary>
public sealed class CpuOpPlanTests
{
    private static IEnumerable<(SimdLevel Level, int Threads)> Configs() =>
        from level in ActivationKernelTests.Levels from threads in new[] { 1, 2 } select (level, threads);

    private static CpuBackend Cpu(SimdLevel level, int threads) => new(new CpuBackendOptions { Simd = level, Threads = threads });

    private static void Same(IUnaryPlan fast, IUnaryPlan slow, Tensor x, string what, Func<Tensor, Tensor, Tensor>? bound = null)
    {
        Assert.That(fast.OutputShape, Is.EqualTo(slow.OutputShape), what);
        Tensor expected = TestData.Poisoned(slow.OutputShape), actual = TestData.Poisoned(fast.OutputShape);
        slow.Execute(x, expected);
        fast.Execute(x, actual);
        if (bound is null)
        {
            Compare.Exact(expected, actual, $"{what} ({fast.Algorithm})");
        }
        else
        {
            Compare.Close(expected, actual, $"{what} ({fast.Algorithm})", bound(x, expected));
        }
    }

    public static IEnumerable<TestCaseData> ConvTransposeCases()
    {
        // (N, C, H, W, K, R, S, stride, pads t/l/b/r, dilation, groups, output padding)
        (int N, int C, int H, int W, int K, int R, int S, int Stride, Padding2d Pad, int Dil, int G, int OutPad)[] cases =
        [
            (1, 8, 7, 9, 6, 2, 2, 2, default, 1, 1, 0),           // FPN/UNet 2×2 stride 2: every output written once
            (2, 6, 5, 6, 4, 4, 4, 2, new Padding2d(1, 1, 1, 1), 1, 1, 0), // DBNet 4×4 stride 2 pad 1: overlapping
            (1, 5, 6, 5, 7, 3, 3, 1, new Padding2d(1, 1, 1, 1), 1, 1, 0),
            (1, 4, 5, 4, 6, 3, 3, 2, new Padding2d(1, 1, 1, 1), 1, 2, 1), // groups and output padding
            (1, 6, 4, 5, 6, 3, 3, 2, new Padding2d(0, 1, 2, 0), 1, 6, 1), // depthwise, asymmetric pads
            (1, 3, 5, 5, 4, 3, 2, 3, new Padding2d(2, 0, 1, 1), 2, 1, 2), // dilation, rectangular kernel, stride 3
            (1, 4, 6, 6, 8, 4, 4, 4, default, 1, 1, 0),            // 4×4 stride 4
            (1, 8, 40, 40, 64, 4, 4, 2, new Padding2d(1, 1, 1, 1), 1, 1, 0), // column buffer split into row chunks
            (1, 16, 33, 17, 24, 2, 2, 2, default, 1, 1, 0),
            (1, 24, 20, 21, 1, 2, 2, 2, default, 1, 1, 0),         // M = K·R·S = 4: the small-M row kernel (DBNet's last layer)
            (1, 5, 9, 11, 3, 2, 2, 2, default, 1, 1, 0),           // M = 12: three groups of four rows
            (2, 7, 6, 10, 2, 3, 1, 1, new Padding2d(1, 0, 1, 0), 1, 1, 0), // M = 6: four rows, then two single ones
            (1, 4, 5, 7, 2, 2, 2, 2, default, 1, 2, 0),            // small M with groups
        ];
        foreach (var c in cases)
        {
            var p = new ConvTranspose2dParams
            {
                StrideH = c.Stride, StrideW = c.Stride, Padding = c.Pad, DilationH = c.Dil, DilationW = c.Dil, Groups = c.G,
                OutputPaddingH = c.OutPad, OutputPaddingW = c.OutPad,
            };
            var shape = new ConvTranspose2dShape(c.N, c.C, c.H, c.W, c.K, c.R, c.S, p);
            yield return new TestCaseData(shape).SetName($"ConvTranspose2d cpu = reference: {shape}");
        }
    }

    [TestCaseSource(nameof(ConvTransposeCases))]
    public void ConvTransposeMatchesTheReferenceExactly(ConvTranspose2dShape shape)
    {
        using var reference = new ReferenceBackend();
        var rng = new Random(shape.C * 31 + shape.K);
        Tensor x = TestData.Ints(rng, shape.InputShape), w = TestData.Ints(rng, shape.WeightShape), b = TestData.Ints(rng, TensorShape.Of(shape.K));
        foreach (bool bias in new[] { true, false })
        {
            using IUnaryPlan slow = reference.PlanConvTranspose2d(shape, w, bias ? b : null);
            foreach (var (level, threads) in Configs())
            {
                using var cpu = Cpu(level, threads);
                using IUnaryPlan fast = cpu.PlanConvTranspose2d(shape, w, bias ? b : null);
                Same(fast, slow, x, $"{shape} bias={bias} {level} threads={threads}");
            }
        }
    }

    public static IEnumerable<TestCaseData> ResizeCases()
    {
        var shapes = new[] { TensorShape.Of(1, 3, 5, 7), TensorShape.Of(2, 2, 8, 8), TensorShape.Of(1, 40, 13, 11) };
        (float H, float W)[] scales = [(2, 2), (4, 4), (0.5f, 0.75f), (3, 1.5f), (1, 2), (1.7f, 0.6f)];
        int n = 0;
        foreach (ResizeMode mode in Enum.GetValues<ResizeMode>())
        {
            foreach (ResizeCoordinateTransform t in Enum.GetValues<ResizeCoordinateTransform>())
            {
                if (mode != ResizeMode.Nearest && t == ResizeCoordinateTransform.TfHalfPixelForNearest)
                {
                    continue;
                }
                foreach (ResizeNearestMode nm in mode == ResizeMode.Nearest ? Enum.GetValues<ResizeNearestMode>() : [ResizeNearestMode.RoundPreferFloor])
                {
                    TensorShape x = shapes[n % shapes.Length];
                    var (sh, sw) = scales[n++ % scales.Length];
                    var p = ResizeParams.WithScales(sh, sw, mode, t, nm) with { ExcludeOutside = n % 2 == 0, CubicCoeffA = n % 3 == 0 ? -0.5f : -0.75f };
                    yield return new TestCaseData(x, p).SetName($"Resize cpu = reference: {x} {p}");
                }
            }
        }
        yield return new TestCaseData(TensorShape.Of(1, 4, 6, 9), ResizeParams.WithSizes(1, 4, 13, 4, ResizeMode.Linear)).SetName("Resize cpu = reference: sizes, linear");
        yield return new TestCaseData(TensorShape.Of(1, 4, 6, 9), ResizeParams.WithSizes(1, 4, 12, 18, ResizeMode.Nearest, ResizeCoordinateTransform.Asymmetric, ResizeNearestMode.Floor))
            .SetName("Resize cpu = reference: sizes ×2, nearest asymmetric floor");
    }

    [TestCaseSource(nameof(ResizeCases))]
    public void ResizeMatchesTheReferenceExactly(TensorShape x, ResizeParams p)
    {
        using var reference = new ReferenceBackend();
        Tensor input = TestData.Floats(new Random(x.ElementCount), x, -3, 3);
        using IUnaryPlan slow = reference.PlanResize(x, p);
        foreach (var (level, threads) in Configs())
        {
            using var cpu = Cpu(level, threads);
            using IUnaryPlan fast = cpu.PlanResize(x, p);
            Same(fast, slow, input, $"Resize {x} {p} {level} threads={threads}");
        }
    }

    [Test]
    public void NearestResizeByTwoAndFourTakesTheFastPath()
    {
        using var cpu = new CpuBackend();
        foreach (int f in new[] { 2, 4 })
        {
            using IUnaryPlan plan = cpu.PlanResize(TensorShape.Of(1, 2, 3, 5), ResizeParams.WithScales(f, f, ResizeMode.Nearest, ResizeCoordinateTransform.Asymmetric, ResizeNearestMode.Floor));
            Assert.That(plan.Algorithm, Is.EqualTo($"resize-nearest-x{f}"));
        }
    }

    public static IEnumerable<TestCaseData> MatMulCases()
    {
        int[][][] cases =
        [
            [[2, 3, 4, 5], [5, 6]], [[4], [4, 6]], [[3, 4], [4]], [[7], [7]], [[2, 1, 5, 7], [3, 7, 2]],
            [[1, 8, 33, 17], [1, 8, 17, 33]], [[128, 256], [256, 96]], [[2, 3, 0], [0, 4]], [[6, 64, 32], [32, 64]],
            [[1, 4, 128, 128], [1, 4, 128, 8]], [[5, 20], [20, 24]], [[2, 40, 9], [2, 9, 32]], [[3, 7, 5], [5, 12]], [[2, 9, 7], [2, 7, 27]], // the narrow-N row kernel
        ];
        foreach (int[][] c in cases)
        {
            yield return new TestCaseData(TensorShape.Of(c[0]), TensorShape.Of(c[1])).SetName($"MatMul cpu = reference: {TensorShape.Of(c[0])} x {TensorShape.Of(c[1])}");
        }
    }

    [TestCaseSource(nameof(MatMulCases))]
    public void MatMulMatchesTheReferenceExactly(TensorShape a, TensorShape b)
    {
        using var reference = new ReferenceBackend();
        var rng = new Random(a.ElementCount + 7 * b.ElementCount);
        Tensor x = TestData.Ints(rng, a), z = TestData.Ints(rng, b);
        using IBinaryPlan slow = reference.PlanMatMul(a, b);
        foreach (var (level, threads) in Configs())
        {
            using var cpu = Cpu(level, threads);
            using IBinaryPlan fast = cpu.PlanMatMul(a, b);
            Tensor expected = TestData.Poisoned(slow.OutputShape), actual = TestData.Poisoned(fast.OutputShape);
            slow.Execute(x, z, expected);
            fast.Execute(x, z, actual);
            Compare.Exact(expected, actual, $"MatMul {a} x {b} {level} threads={threads}");
        }
    }

    [Test]
    public void CopiesMatchTheReferenceExactly()
    {
        using var reference = new ReferenceBackend();
        var rng = new Random(12);
        var transposes = new List<(TensorShape, int[])>
        {
            (TensorShape.Of(2, 5, 7, 9), [0, 2, 3, 1]), (TensorShape.Of(2, 7, 9, 5), [0, 3, 1, 2]), (TensorShape.Of(3, 37, 45), [0, 2, 1]),
            (TensorShape.Of(64, 300), [1, 0]), (TensorShape.Of(2, 3, 4, 5, 6), [4, 2, 0, 3, 1]), (TensorShape.Of(1, 8, 64, 16), [0, 2, 1, 3]),
            (TensorShape.Of(2, 2, 2, 3, 5, 6), [0, 3, 4, 1, 5, 2]), (TensorShape.Of(5), [0]), (TensorShape.Of(2, 0, 3), [2, 0, 1]),
            (TensorShape.Of(4, 96, 96), [0, 2, 1]),
        };
        for (int i = 0; i < 20; i++)
        {
            int rank = rng.Next(1, 6);
            int[] dims = [.. Enumerable.Range(0, rank).Select(_ => rng.Next(1, 9))];
            transposes.Add((TensorShape.Of(dims), [.. Enumerable.Range(0, rank).OrderBy(_ => rng.Next())]));
        }
        foreach (var (level, threads) in Configs())
        {
            using var cpu = Cpu(level, threads);
            foreach (var (shape, perm) in transposes)
            {
                Tensor x = TestData.Floats(rng, shape);
                using IUnaryPlan fast = cpu.PlanTranspose(shape, perm), slow = reference.PlanTranspose(shape, perm);
                Same(fast, slow, x, $"Transpose {shape} perm [{string.Join(",", perm)}] {level} threads={threads}");
            }
            for (int i = 0; i < 30; i++)
            {
                int rank = rng.Next(1, 5);
                int[] dims = [.. Enumerable.Range(0, rank).Select(_ => rng.Next(1, 12))];
                var starts = new int[rank];
                var steps = new int[rank];
                var outDims = new int[rank];
                for (int d = 0; d < rank; d++)
                {
                    steps[d] = rng.Next(2) == 0 ? rng.Next(1, 4) : -rng.Next(1, 4);
                    starts[d] = rng.Next(dims[d]);
                    int room = steps[d] > 0 ? (dims[d] - 1 - starts[d]) / steps[d] + 1 : starts[d] / -steps[d] + 1;
                    outDims[d] = rng.Next(0, room + 1);
                }
                var shape = TensorShape.Of(dims);
                Tensor x = TestData.Floats(rng, shape);
                using IUnaryPlan fast = cpu.PlanSlice(shape, starts, steps, TensorShape.Of(outDims)), slow = reference.PlanSlice(shape, starts, steps, TensorShape.Of(outDims));
                Same(fast, slow, x, $"Slice {shape} starts [{string.Join(",", starts)}] steps [{string.Join(",", steps)}] -> {TensorShape.Of(outDims)} {level}");
            }
            (int[] From, int[] To)[] expands = [([3, 1], [2, 3, 5]), ([1], [7, 9]), ([2, 1, 4], [2, 6, 4]), ([1, 3, 1, 1], [2, 3, 40, 40]), ([1, 2, 1, 5], [3, 2, 4, 5])];
            foreach (var (from, to) in expands)
            {
                Tensor x = TestData.Floats(rng, TensorShape.Of(from));
                using IUnaryPlan fast = cpu.PlanExpand(TensorShape.Of(from), TensorShape.Of(to)), slow = reference.PlanExpand(TensorShape.Of(from), TensorShape.Of(to));
                Same(fast, slow, x, $"Expand {TensorShape.Of(from)} -> {TensorShape.Of(to)} {level}");
            }
            foreach (var (dims, axis, indices, ishape) in new (int[], int, int[], int[])[]
            {
                ([5, 4], 0, [4, 0, 0, 2], [2, 2]), ([2, 7, 3], 1, [6], []), ([2, 7, 3], -1, [2, 1, 0, 1], [4]), ([9], 0, [8, 1], [2, 1]),
            })
            {
                var shape = TensorShape.Of(dims);
                Tensor x = TestData.Floats(rng, shape);
                int a = shape.NormalizeAxis(axis, "Gather");
                using IUnaryPlan fast = cpu.PlanGather(shape, a, indices, TensorShape.Of(ishape)), slow = reference.PlanGather(shape, a, indices, TensorShape.Of(ishape));
                Same(fast, slow, x, $"Gather {shape} axis {axis} {level}");
            }
            foreach (PadMode mode in Enum.GetValues<PadMode>())
            {
                foreach (int[] pads in new[] { new[] { 0, 1, 2, 3, 0, 2, 1, 3 }, [0, 0, -1, 2, 0, 0, 3, -2], [1, 0, 0, 0, 0, 2, 0, 0], [0, 0, 1, 1, 0, 0, 1, 1] })
                {
                    var shape = TensorShape.Of(2, 3, 5, 6);
                    var p = PadParams.Create(mode, pads, 1.5f);
                    Tensor x = TestData.Floats(rng, shape);
                    using IUnaryPlan fast = cpu.PlanPad(shape, p), slow = reference.PlanPad(shape, p);
                    Same(fast, slow, x, $"Pad {shape} {p} {level} threads={threads}");
                }
            }
        }
    }

    [Test]
    public void PReluMatchesTheReferenceExactly()
    {
        using var reference = new ReferenceBackend();
        var rng = new Random(5);
        (int[] X, int[] Slope)[] cases = [([2, 5, 7, 9], [5, 1, 1]), ([2, 5, 7, 9], [1]), ([3, 17], [17]), ([2, 4, 3, 33], [4, 3, 33]), ([6], [6]), ([2, 3, 8, 8], [1, 3, 1, 1])];
        foreach (var (level, threads) in Configs())
        {
            using var cpu = Cpu(level, threads);
            foreach (var (xd, sd) in cases)
            {
                Tensor x = TestData.Floats(rng, TensorShape.Of(xd), -2, 2), s = TestData.Floats(rng, TensorShape.Of(sd));
                using IUnaryPlan fast = cpu.PlanPRelu(x.Shape, s), slow = reference.PlanPRelu(x.Shape, s);
                Same(fast, slow, x, $"PRelu {x.Shape} slope {s.Shape} {level}");
            }
        }
    }

    [Test]
    public void ErfGeluAndMishAreWithinTheirBounds()
    {
        using var reference = new ReferenceBackend();
        var rng = new Random(6);
        const float U = 1f / (1 << 24);
        foreach (var (level, threads) in Configs())
        {
            using var cpu = Cpu(level, threads);
            foreach (int n in new[] { 1, 3, 15, 17, 100, 70000 })
            {
                Tensor x = TestData.Floats(rng, TensorShape.Of(n), -9, 9);
                x.Span[0] = n > 1 ? 1e-30f : x.Span[0];
                // erf: the rational fit is within 4 ulps of the result plus 8u absolute near ±1 (ErfFitError measures it).
                using (IUnaryPlan fast = cpu.PlanErf(x.Shape), slow = reference.PlanErf(x.Shape))
                {
                    Same(fast, slow, x, $"Erf [{n}] {level}", (_, e) => Map(e, v => 4 * U * MathF.Abs(v) + 8 * U));
                }
                // Gelu exact: ½·x·(1 + erf): erf's 8u absolute error reaches y scaled by |x|/2, and the products add 3 ulps.
                foreach (GeluParams p in new[] { GeluParams.Exact, GeluParams.TanhApproximation })
                {
                    using IUnaryPlan fast = cpu.PlanGelu(x.Shape, p), slow = reference.PlanGelu(x.Shape, p);
                    Same(fast, slow, x, $"Gelu {p} [{n}] {level}", (xi, e) => Map2(xi, e, (xv, v) => 8 * U * MathF.Abs(v) + 4 * U * MathF.Abs(xv)));
                }
                // Mish: exp (≤ 2 ulps), then four roundings; e^x underflows below −87 where |y| < 1e-36.
                using (IUnaryPlan fast = cpu.PlanMish(x.Shape), slow = reference.PlanMish(x.Shape))
                {
                    Same(fast, slow, x, $"Mish [{n}] {level}", (_, e) => Map(e, v => 8 * U * MathF.Abs(v) + 1e-36f));
                }
            }
        }
    }

    [Test]
    public void ErfFitError()
    {
        // Every 2⁻¹⁶ in [−6, 6] (786,433 points) at every vector width: the fit against the double erf.
        const float U = 1f / (1 << 24);
        int n = 12 * 65536 + 1;
        var x = new float[n];
        for (int i = 0; i < n; i++)
        {
            x[i] = -6f + i / 65536f;
        }
        var y = new float[n];
        foreach (SimdLevel level in ActivationKernelTests.Levels.Where(l => l > SimdLevel.Scalar))
        {
            FastConv.Cpu.Kernels.ActivationKernels.Run(new FastConv.Cpu.Kernels.ErfOperator(), x, y, level);
            double worstRel = 0, worstAbs = 0;
            for (int i = 0; i < n; i++)
            {
                double e = FastConv.Cpu.Kernels.ErrorFunction.Erf(x[i]), d = Math.Abs(y[i] - e);
                worstAbs = Math.Max(worstAbs, d);
                worstRel = Math.Max(worstRel, Math.Abs(e) > 0.5 ? 0 : d / Math.Abs(e == 0 ? 1 : e));
                Assert.That(d, Is.LessThanOrEqualTo(4 * U * Math.Abs(e) + 8 * U), $"erf({x[i]:R}) at {level}: {y[i]:R} vs {e:R}");
            }
            TestContext.Out.WriteLine($"{level}: worst |Δ| {worstAbs:E2} = {worstAbs / U:F1}u, worst relative below |erf| 0.5 {worstRel / U:F1}u");
        }
    }

    private static Tensor Map(Tensor t, Func<float, float> f)
    {
        var r = Tensor.Allocate(t.Shape);
        for (int i = 0; i < t.Length; i++)
        {
            r.Span[i] = f(t.Span[i]);
        }
        return r;
    }

    private static Tensor Map2(Tensor a, Tensor b, Func<float, float, float> f)
    {
        var r = Tensor.Allocate(a.Shape);
        for (int i = 0; i < a.Length; i++)
        {
            r.Span[i] = f(a.Span[i], b.Span[i]);
        }
        return r;
    }

    /// <summary>
    /// The cpu normalizations sum in float: μ carries γ_m·Σ|x|/m and the variance Σ(x − μ̂)² a relative γ_{m+2} plus
    /// the effect of μ's error (second order); through 1/√ that is half the relative error of σ². So
    /// |Δy| ≤ |s|·inv·(γ_m·E|x| + |x − μ|·γ_{m+4}) + 4u·(|y| + |b|), with s and b the element's scale and bias.
    /// </summary>
    private static Tensor NormBound(Tensor x, Tensor expected, int m, Func<int, float> scale, Func<int, float> bias)
    {
        var bound = Tensor.Allocate(x.Shape);
        for (int start = 0; start < x.Length; start += m)
        {
            double sum = 0, abs = 0;
            for (int j = 0; j < m; j++)
            {
                sum += x.Span[start + j];
                abs += Math.Abs(x.Span[start + j]);
            }
            double mean = sum / m, sq = 0;
            for (int j = 0; j < m; j++)
            {
                sq += (x.Span[start + j] - mean) * (x.Span[start + j] - mean);
            }
            double inv = 1 / Math.Sqrt(sq / m + 1e-5);
            for (int j = 0; j < m; j++)
            {
                int i = start + j;
                double e = Math.Abs(scale(i)) * inv * (Tolerance.Gamma(m) * abs / m + Math.Abs(x.Span[i] - mean) * Tolerance.Gamma(m + 4))
                    + 4 * Ulp.U * (Math.Abs(expected.Span[i]) + Math.Abs(bias(i)));
                bound.Span[i] = (float)e + float.Epsilon;
            }
        }
        return bound;
    }

    [Test]
    public void NormalizationsAreWithinTheirBound()
    {
        using var reference = new ReferenceBackend();
        var rng = new Random(8);
        foreach (var (level, threads) in Configs())
        {
            using var cpu = Cpu(level, threads);
            foreach (int[] dims in new[] { new[] { 2, 6, 5, 7 }, [1, 32, 33, 20], [3, 4, 1, 1], [2, 8, 17] })
            {
                var shape = TensorShape.Of(dims);
                int c = dims[1];
                Tensor x = TestData.Floats(rng, shape, -1, 3), s = TestData.Floats(rng, TensorShape.Of(c), 0.5f, 2), b = TestData.Floats(rng, TensorShape.Of(c));
                int plane = shape.ElementCount / (dims[0] * c);
                using (IUnaryPlan fast = cpu.PlanInstanceNormalization(shape, 1e-5f, s, b), slow = reference.PlanInstanceNormalization(shape, 1e-5f, s, b))
                {
                    Same(fast, slow, x, $"InstanceNormalization {shape} {level}", (xi, e) => NormBound(xi, e, plane, i => s.Span[i / plane % c], i => b.Span[i / plane % c]));
                }
                foreach (int g in new[] { 1, 2, c })
                {
                    if (c % g != 0)
                    {
                        continue;
                    }
                    using IUnaryPlan fast = cpu.PlanGroupNormalization(shape, g, 1e-5f, s, b), slow = reference.PlanGroupNormalization(shape, g, 1e-5f, s, b);
                    Same(fast, slow, x, $"GroupNormalization {shape} groups {g} {level}", (xi, e) => NormBound(xi, e, plane * c / g, i => s.Span[i / plane % c], i => b.Span[i / plane % c]));
                }
                for (int axis = 1; axis < dims.Length; axis++)
                {
                    var normalized = TensorShape.Of(dims[axis..]);
                    int m = normalized.ElementCount;
                    Tensor ls = TestData.Floats(rng, normalized, 0.5f, 2), lb = TestData.Floats(rng, TensorShape.Of(dims[^1]));
                    using IUnaryPlan fast = cpu.PlanLayerNormalization(shape, axis, 1e-5f, ls, lb), slow = reference.PlanLayerNormalization(shape, axis, 1e-5f, ls, lb);
                    Same(fast, slow, x, $"LayerNormalization {shape} axis {axis} {level}", (xi, e) => NormBound(xi, e, m, i => ls.Span[i % m], i => lb.Span[i % dims[^1]]));
                }
            }
        }
    }

    [Test]
    public void ReductionsMatchTheReferenceExactly()
    {
        using var reference = new ReferenceBackend();
        var rng = new Random(9);
        (int[] Dims, int[] Axes)[] cases =
        [
            ([2, 3, 4, 5], [3]), ([2, 3, 4, 5], [2, 3]), ([2, 3, 4, 5], [1]), ([2, 3, 4, 5], [0, 2]), ([2, 3, 4, 5], [1, 3]),
            ([2, 3, 4, 5], [0, 1, 2, 3]), ([4, 1, 37], [1]), ([4, 1, 37], [1, 2]), ([1, 64, 40, 40], [2, 3]), ([8, 300], [0]),
            ([2, 0, 3], [1]), ([5, 7], []), ([3, 1, 1, 6], [0, 3]),
        ];
        foreach (var (level, threads) in Configs())
        {
            using var cpu = Cpu(level, threads);
            foreach (var (dims, axes) in cases)
            {
                var shape = TensorShape.Of(dims);
                Tensor ints = TestData.Ints(rng, shape, -5, 5), floats = TestData.Floats(rng, shape, -3, 3);
                foreach (ReduceKind kind in Enum.GetValues<ReduceKind>())
                {
                    if (kind is ReduceKind.Max or ReduceKind.Min && axes.Any(a => dims[a] == 0))
                    {
                        continue;
                    }
                    foreach (bool keep in new[] { true, false })
                    {
                        // Integer data make every sum exact (so the mean is one rounding on both sides); max/min pick an element.
                        Tensor x = kind is ReduceKind.Sum or ReduceKind.Mean ? ints : floats;
                        using IUnaryPlan fast = kind == ReduceKind.Mean ? cpu.PlanReduceMean(shape, axes, keep) : cpu.PlanReduce(kind, shape, axes, keep);
                        using IUnaryPlan slow = reference.PlanReduce(kind, shape, axes, keep);
                        Same(fast, slow, x, $"Reduce{kind} {shape} axes [{string.Join(",", axes)}] keepdims={keep} {level} threads={threads}");
                    }
                }
            }
        }
    }

    [Test]
    public void ReduceMaxAndMinPropagateNaNAsTheReference()
    {
        using var reference = new ReferenceBackend();
        foreach (var (level, threads) in Configs())
        {
            using var cpu = Cpu(level, threads);
            var shape = TensorShape.Of(3, 40);
            Tensor x = TestData.Floats(new Random(1), shape);
            x.Span[17] = float.NaN;
            x.Span[40 + 39] = float.NaN;
            foreach (ReduceKind kind in new[] { ReduceKind.Max, ReduceKind.Min })
            {
                foreach (int[] axes in new[] { new[] { 1 }, [0] })
                {
                    using IUnaryPlan fast = cpu.PlanReduce(kind, shape, axes, true), slow = reference.PlanReduce(kind, shape, axes, true);
                    Same(fast, slow, x, $"Reduce{kind} with NaN axes [{axes[0]}] {level}");
                }
            }
        }
    }
}
