using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Cpu.Conv2d;
using FastConv.Ops;
using FastConv.Tests.Backends;
using FastConv.Tests.Support;
using ConvCase = FastConv.Tests.Backends.ConvCase;

namespace FastConv.Tests.Kernels;

/// <summary>
/// The Winograd conv paths (<c>winograd</c> = F(4×4, 3×3), <c>winograd-f2</c> = F(2×2, 3×3)) forced through the
/// <c>cpu</c> backend on random 3×3 / stride-1 problems the edges set rarely has (C, K ≥ 8), at every SIMD level,
/// against the reference; plus their precision gate and a measurement of their rounding error.
/// </summary>
public sealed class WinogradTests
{
    private static readonly SimdLevel[] Levels = Enum.GetValues<SimdLevel>().Where(l => l <= CpuFeatures.Detected).ToArray();
    private static readonly string[] Algorithms = ["winograd", "winograd-f2"];

    /// <summary>
    /// 36 problems: C, K in 8..40, H, W in 1..23 (many not multiples of 4 or 2, so partial tiles), pads 0..3 each
    /// side independently, batch 1 or 3, cycling through every epilogue kind, with or without bias.
    /// </summary>
    public static IReadOnlyList<ConvCase> Problems()
    {
        var rng = new Random(4242);
        var cases = new List<ConvCase>();
        int i = 0;
        while (cases.Count < 36)
        {
            var pad = new Padding2d(rng.Next(0, 4), rng.Next(0, 4), rng.Next(0, 4), rng.Next(0, 4));
            var p = new Conv2dParams { Padding = pad };
            var s = new Conv2dShape(i % 2 == 0 ? 1 : 3, rng.Next(8, 41), rng.Next(1, 24), rng.Next(1, 24), rng.Next(8, 41), 3, 3, p);
            try
            {
                s.Validate();
            }
            catch (FastConvException)
            {
                continue; // a 3×3 window does not fit (e.g. H = 1 with little padding)
            }
            cases.Add(new ConvCase(s, i % 3 != 1, ShapeSets.EdgeEpilogue(i, s.K, rng), 9000 + i));
            i++;
        }
        return cases;
    }

    public static IEnumerable<TestCaseData> Cases()
    {
        var problems = Problems();
        foreach (string algorithm in Algorithms)
        {
            foreach (SimdLevel level in Levels)
            {
                for (int i = 0; i < problems.Count; i++)
                {
                    yield return new TestCaseData(algorithm, level, problems[i]).SetName($"{algorithm}/{level}: Conv2d({problems[i]}) #{i}");
                }
            }
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesReference(string algorithm, SimdLevel level, ConvCase c)
    {
        using var backend = new CpuBackend(new CpuBackendOptions { Simd = level, Threads = 2, ConvAlgorithm = algorithm });
        BackendConformanceTests.CheckConv(backend, c, plan =>
        {
            Assert.That(plan.Algorithm, Is.EqualTo(algorithm));
            return CpuConvErrorFactors.For(plan.Algorithm);
        });
    }

    /// <summary>
    /// Problems for the block machinery's rarer roads: tile rows wider than 16 tiles (two lane groups, the second
    /// partial) and exactly 16, C and K multiples of no micro-kernel height (19, 37), batch 2 and 3, asymmetric
    /// padding, a last tile row with one valid output row, the residual and scale/shift epilogues.
    /// </summary>
    private static ConvCase[] ScheduleProblems()
    {
        var rng = new Random(77);
        return
        [
            new(new Conv2dShape(2, 19, 30, 70, 37, 3, 3, new Conv2dParams { Padding = new Padding2d(1, 0, 2, 1) }), true, ShapeSets.EdgeEpilogue(3, 37, rng), 7001),
            new(new Conv2dShape(3, 24, 13, 9, 20, 3, 3, Conv2dParams.Create(pad: 1)), false, ShapeSets.EdgeEpilogue(4, 20, rng), 7002),
            new(new Conv2dShape(1, 16, 67, 66, 8, 3, 3, Conv2dParams.Create(pad: 0)), true, ShapeSets.EdgeEpilogue(2, 8, rng), 7003),
        ];
    }

    /// <summary>
    /// Forced schedules: blocks of 16, 23 and 40 tiles (so block boundaries fall inside tile rows and across
    /// images), threads sharing each block or running whole blocks, and the automatic choice.
    /// </summary>
    private static readonly (int Tiles, bool? Shared)[] Schedules = [(16, true), (23, false), (40, true), (0, null)];

    public static IEnumerable<TestCaseData> ScheduleCases()
    {
        ConvCase[] problems = ScheduleProblems();
        foreach (string algorithm in Algorithms)
        {
            foreach (SimdLevel level in Levels)
            {
                foreach ((int tiles, bool? shared) in Schedules)
                {
                    for (int i = 0; i < problems.Length; i++)
                    {
                        string mode = shared is null ? "auto" : shared.Value ? "shared" : "private";
                        yield return new TestCaseData(algorithm, level, tiles, shared, problems[i])
                            .SetName($"{algorithm}/{level}/blocks of {(tiles == 0 ? "auto" : tiles.ToString())}, {mode}: Conv2d({problems[i]}) #{i}");
                    }
                }
            }
        }
    }

    [TestCaseSource(nameof(ScheduleCases))]
    public void MatchesReferenceWithForcedSchedule(string algorithm, SimdLevel level, int blockTiles, bool? shared, ConvCase c)
    {
        using var backend = new CpuBackend(new CpuBackendOptions { Simd = level, Threads = 2 });
        var wino = (WinogradConv2d)Conv2dAlgorithms.Find(algorithm)!;
        BackendConformanceTests.CheckConv(backend, c, plan => CpuConvErrorFactors.For(plan.Algorithm),
            (s, w, b, e) => wino.Plan(s, w, b, e, backend.Context, new WinogradSchedule(blockTiles, shared)));
    }

    [Test]
    public void FewTilesAreLeftToDirectUnlessForced()
    {
        // 7×7 at batch 1 is 2×2 = 4 tiles of F(4×4): U, reread for every block, outweighs the saved multiplies;
        // the channel-blocked direct kernel (no lanes wasted on a 7-wide row) takes it.
        var shape = new Conv2dShape(1, 64, 7, 7, 64, 3, 3, Conv2dParams.Create(pad: 1));
        var w = TestData.Floats(new Random(1), shape.WeightShape);
        using (var auto = new CpuBackend(new CpuBackendOptions { Threads = 2 }))
        using (IConv2dPlan plan = auto.PlanConv2d(shape, w, null, ConvEpilogue.None))
        {
            Assert.That(plan.Algorithm, Is.EqualTo("direct-nchwc"));
        }
        using (var forced = new CpuBackend(new CpuBackendOptions { Threads = 2, ConvAlgorithm = "winograd" }))
        using (IConv2dPlan plan = forced.PlanConv2d(shape, w, null, ConvEpilogue.None))
        {
            Assert.That(plan.Algorithm, Is.EqualTo("winograd"));
        }
        // The same layer at batch 4 has 16 tiles: Winograd again.
        using (var auto = new CpuBackend(new CpuBackendOptions { Threads = 2 }))
        using (IConv2dPlan plan = auto.PlanConv2d(shape with { N = 4 }, w, null, ConvEpilogue.None))
        {
            Assert.That(plan.Algorithm, Is.EqualTo("winograd"));
        }
    }

    [Test]
    public void ExactPrecisionNeverChoosesWinograd()
    {
        var shape = new Conv2dShape(1, 32, 32, 32, 32, 3, 3, Conv2dParams.Create(pad: 1));
        var w = TestData.Floats(new Random(1), shape.WeightShape);
        using (var fast = new CpuBackend(new CpuBackendOptions { Threads = 2 }))
        using (IConv2dPlan plan = fast.PlanConv2d(shape, w, null, ConvEpilogue.None))
        {
            Assert.That(plan.Algorithm, Is.EqualTo("winograd"), "Fast precision picks Winograd for a 3×3 / stride-1 layer with C, K ≥ 8");
        }
        using (var exact = new CpuBackend(new CpuBackendOptions { Threads = 2, Precision = CpuPrecision.Exact }))
        {
            using IConv2dPlan plan = exact.PlanConv2d(shape, w, null, ConvEpilogue.None);
            Assert.That(plan.Algorithm, Does.Not.StartWith("winograd"));
            foreach (string algorithm in Algorithms)
            {
                Assert.That(Conv2dAlgorithms.Find(algorithm)!.Supports(shape, exact.Context), Is.False, algorithm);
            }
        }
        foreach (string algorithm in Algorithms)
        {
            using var forced = new CpuBackend(new CpuBackendOptions { Threads = 2, Precision = CpuPrecision.Exact, ConvAlgorithm = algorithm });
            Assert.Throws<InvalidHyperparameterException>(() => forced.PlanConv2d(shape, w, null, ConvEpilogue.None));
        }
    }

    [Test]
    public void DeclinesWhatItCannotSpeedUp()
    {
        var context = new CpuContext(SimdLevel.Scalar, Cpu.Threading.WorkerPool.ForThreads(1), new CpuBackendOptions());
        IConv2dAlgorithm wino = Conv2dAlgorithms.Find("winograd")!;
        Assert.Multiple(() =>
        {
            Assert.That(wino.Supports(new Conv2dShape(1, 3, 32, 32, 64, 3, 3, Conv2dParams.Create(pad: 1)), context), Is.False, "C = 3 (VGG conv1)");
            Assert.That(wino.Supports(new Conv2dShape(1, 64, 32, 32, 4, 3, 3, Conv2dParams.Create(pad: 1)), context), Is.False, "K = 4");
            Assert.That(wino.Supports(new Conv2dShape(1, 64, 32, 32, 64, 3, 3, Conv2dParams.Create(stride: 2, pad: 1)), context), Is.False, "stride 2");
            Assert.That(wino.Supports(new Conv2dShape(1, 64, 32, 32, 64, 3, 3, Conv2dParams.Create(pad: 2, dilation: 2)), context), Is.False, "dilation 2");
            Assert.That(wino.Supports(new Conv2dShape(1, 64, 32, 32, 64, 3, 3, Conv2dParams.Create(pad: 1, groups: 2)), context), Is.False, "groups 2");
            Assert.That(wino.Supports(new Conv2dShape(1, 64, 32, 32, 64, 5, 5, Conv2dParams.Create(pad: 2)), context), Is.False, "5×5");
            Assert.That(wino.Supports(new Conv2dShape(1, 8, 1, 1, 8, 3, 3, Conv2dParams.Create(pad: 1)), context), Is.True, "1×1 image, padded");
        });
    }

    /// <summary>
    /// Measures the rounding error of each Winograd variant against an fp64 convolution, per element, in units of
    /// the plain-summation bound γ_n·Σ|w·x| (n = 9·C) beyond the absolute floor 8u·(|y| + 1), over the problems above without epilogue, and checks it
    /// against <see cref="CpuConvErrorFactors"/>: the conformance bound is 2·1.5·factor·γ·Σ|terms|, and the
    /// float reference itself stays below 1 in these units, so 3·factor must cover the measured ratio + 1.
    /// </summary>
    [TestCase("winograd")]
    [TestCase("winograd-f2")]
    public void RoundingErrorWithinItsFactor(string algorithm)
    {
        double worstWino = 0, worstRef = 0;
        using var backend = new CpuBackend(new CpuBackendOptions { Threads = 2, ConvAlgorithm = algorithm });
        foreach (ConvCase c in Problems())
        {
            (double wino, double reference) = ErrorRatios(backend, c.Shape, c.Seed);
            worstWino = Math.Max(worstWino, wino);
            worstRef = Math.Max(worstRef, reference);
        }
        double factor = CpuConvErrorFactors.For(algorithm);
        TestContext.Out.WriteLine($"{algorithm}: worst |err|/(γ_n·Σ|w·x|) = {worstWino:F4} (float reference: {worstRef:F4}); factor {factor}");
        Assert.That(worstWino + worstRef, Is.LessThanOrEqualTo(3 * factor));
    }

    private static (double Wino, double Reference) ErrorRatios(IBackend backend, Conv2dShape s, int seed)
    {
        var rng = new Random(seed);
        var x = TestData.Floats(rng, s.InputShape);
        var w = TestData.Floats(rng, s.WeightShape);
        using IConv2dPlan plan = backend.PlanConv2d(s, w, null, ConvEpilogue.None);
        var actual = TestData.Poisoned(s.OutputShape);
        plan.Execute(x, actual);
        var reference = TestData.Poisoned(s.OutputShape);
        Reference.Conv2d(x, w, null, s.Params, reference);
        double gamma = Tolerance.Gamma(s.C * 9);
        ReadOnlySpan<float> xs = x.Span, ws = w.Span, a = actual.Span, r = reference.Span;
        double worstWino = 0, worstRef = 0;
        int padTop = s.Params.Padding.Top, padLeft = s.Params.Padding.Left;
        for (int n = 0; n < s.N; n++)
        {
            for (int k = 0; k < s.K; k++)
            {
                for (int p = 0; p < s.P; p++)
                {
                    for (int q = 0; q < s.Q; q++)
                    {
                        double exact = 0, magnitude = 0;
                        for (int c = 0; c < s.C; c++)
                        {
                            for (int i = 0; i < 3; i++)
                            {
                                int h = p - padTop + i;
                                if ((uint)h >= (uint)s.H)
                                {
                                    continue;
                                }
                                for (int j = 0; j < 3; j++)
                                {
                                    int ww = q - padLeft + j;
                                    if ((uint)ww >= (uint)s.W)
                                    {
                                        continue;
                                    }
                                    double term = (double)xs[((n * s.C + c) * s.H + h) * s.W + ww] * ws[((k * s.C + c) * 3 + i) * 3 + j];
                                    exact += term;
                                    magnitude += Math.Abs(term);
                                }
                            }
                        }
                        int o = ((n * s.K + k) * s.P + p) * s.Q + q;
                        // Less the conformance bound's absolute floor 8u·(|y| + 1), which covers outputs whose window
                        // is all padding (exactly 0) but whose tile's transforms mix in rounding from real inputs.
                        double floor = 8.0 / (1 << 24) * (Math.Abs(exact) + 1);
                        worstWino = Math.Max(worstWino, Ratio(Math.Abs(a[o] - exact) - floor, gamma * magnitude));
                        worstRef = Math.Max(worstRef, Ratio(Math.Abs(r[o] - exact) - floor, gamma * magnitude));
                    }
                }
            }
        }
        return (worstWino, worstRef);
    }

    /// <summary>excess / scale, 0 when there is no excess, +∞ for an excess where no term bounds it.</summary>
    private static double Ratio(double excess, double scale) => excess <= 0 ? 0 : scale > 0 ? excess / scale : double.PositiveInfinity;
}
