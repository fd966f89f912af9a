using FastConv.Cpu;
using FastConv.Ops;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>Resize (ONNX opset 13+, NCHW over H and W) of the reference against ONNX Runtime, by hand, and on invalid inputs.</summary>
public sealed class ResizeOracleTests
{
    private static readonly (float H, float W)[] ScalePairs =
        [(2f, 2f), (3f, 3f), (0.5f, 0.5f), (1.5f, 1.5f), (0.6f, 0.6f), (2f, 3f), (0.5f, 1.5f), (1.5f, 0.6f), (1f, 2f), (3f, 0.5f), (0.6f, 1f), (2.5f, 1.25f)];

    /// <summary>Every (mode, transform, nearest mode) ORT supports: 20 nearest and 5 linear combinations.</summary>
    private static IEnumerable<(ResizeMode, ResizeCoordinateTransform, ResizeNearestMode)> Combos()
    {
        foreach (ResizeCoordinateTransform t in Enum.GetValues<ResizeCoordinateTransform>())
        {
            foreach (ResizeNearestMode m in Enum.GetValues<ResizeNearestMode>())
            {
                yield return (ResizeMode.Nearest, t, m);
            }
            yield return (ResizeMode.Linear, t, ResizeNearestMode.RoundPreferFloor);
        }
    }

    public static IEnumerable<TestCaseData> Cases()
    {
        var rng = new Random(206);
        var combos = Combos().ToArray();
        for (int n = 0; n < OracleShapes.CasesPerOp; n++)
        {
            var (mode, transform, nearest) = combos[n % combos.Length];
            int batch = rng.Next(1, 3), c = rng.Next(1, 6);
            bool oneByOne = n % 10 == 7;
            int h = oneByOne ? 1 : rng.Next(1, 10), w = oneByOne ? 1 : rng.Next(1, 10);
            ResizeParams p;
            if (n % 3 == 2)
            {
                // Output sizes given (odd and even, up and down).
                p = ResizeParams.WithSizes(batch, c, rng.Next(1, 13), rng.Next(1, 13), mode, transform, nearest);
            }
            else
            {
                var (sh, sw) = oneByOne ? (n % 2 == 0 ? (3f, 2f) : (1.5f, 2.5f)) : ScalePairs[rng.Next(ScalePairs.Length)];
                // Keep the output non-empty: floor(H·s) ≥ 1.
                while (OutputSize.Resize(h, sh) < 1)
                {
                    h += 2;
                }
                while (OutputSize.Resize(w, sw) < 1)
                {
                    w += 2;
                }
                p = ResizeParams.WithScales(sh, sw, mode, transform, nearest);
            }
            int[] dims = [batch, c, h, w];
            yield return new TestCaseData(dims, p).SetName($"Resize(X={LayoutShapes.Fmt(dims)}, {p}) #{n}");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesOnnxRuntime(int[] dims, ResizeParams p)
    {
        var rng = new Random(LayoutShapes.Seed(dims));
        var x = TestData.Floats(rng, new TensorShape(dims), -4, 4);
        var expected = RunOrt(x, p);
        var y = TestData.Poisoned(Reference.ResizeOutputShape(x.Shape, p));
        Reference.Resize(x, p, y);
        string problem = $"Resize X={x.Shape} {p} -> {y.Shape}";
        if (p.Mode == ResizeMode.Nearest)
        {
            // Nearest copies one input value per output: bit-exact.
            Compare.Exact(expected, y, problem);
            return;
        }
        // Linear: y = Σ of 4 terms w_i·x_i with w_i = dw·dh ≥ 0, Σ w_i = 1 (a convex combination). In float32,
        // with u = 2⁻²⁴ and L = the largest extent: the input coordinate takes ≤ 3 rounded ops on values ≤ L
        // (error ≤ 3uL), d = |x_in − i| adds ≤ u, so each factor is off by ≤ 3uL + u and each weight by
        // ≤ 2(3uL + u) + u; the 4 products and 3 sums add ≤ 7u·max|x|. One implementation is therefore within
        // (4·(6L + 3) + 7)·u·max|x| of the exact value, and two within twice that.
        float maxAbs = x.ToArray().Select(MathF.Abs).DefaultIfEmpty(0f).Max();
        int l = new[] { dims[2], dims[3], y.Shape[2], y.Shape[3] }.Max();
        float atol = (float)(2 * (4 * (6.0 * l + 3) + 7) * Math.Pow(2, -24) * maxAbs);
        Compare.Close(expected, y, problem, atol, 0f);
    }

    private static Tensor RunOrt(Tensor x, ResizeParams p)
    {
        var g = new OnnxGraphBuilder("Resize").Input("X", x).NoInput();
        if (p.Scales is not null)
        {
            g.Constant("scales", p.Scales.ToArray(), 4);
        }
        else
        {
            g.NoInput().Constant("sizes", p.Sizes!.Select(s => (long)s).ToArray());
        }
        g.Attr("mode", p.OnnxMode).Attr("coordinate_transformation_mode", p.OnnxCoordinateTransform);
        if (p.Mode == ResizeMode.Nearest)
        {
            g.Attr("nearest_mode", p.OnnxNearestMode);
        }
        return g.Run();
    }

    [Test]
    public void BilinearHalfPixel2x2To4x4ByHand()
    {
        // Output column x maps to (x + 0.5)/2 − 0.5 = −0.25, 0.25, 0.75, 1.25, clamped to 0, 0.25, 0.75, 1;
        // rows alike. Row 0 of [[1,2],[3,4]] becomes [1, 1.25, 1.75, 2], row 1 [3, 3.25, 3.75, 4], and the
        // output rows mix them with weights (1,0), (0.75,0.25), (0.25,0.75), (0,1).
        var x = Tensor.FromArray([1f, 2f, 3f, 4f], 1, 1, 2, 2);
        var y = Tensor.Allocate(1, 1, 4, 4);
        Reference.Resize(x, ResizeParams.WithScales(2f, 2f, ResizeMode.Linear, ResizeCoordinateTransform.HalfPixel), y);
        Assert.That(y.ToArray(), Is.EqualTo(new[]
        {
            1f, 1.25f, 1.75f, 2f,
            1.5f, 1.75f, 2.25f, 2.5f,
            2.5f, 2.75f, 3.25f, 3.5f,
            3f, 3.25f, 3.75f, 4f,
        }));
    }

    [Test]
    public void NearestAsymmetricFloor2xByHand()
    {
        var x = Tensor.FromArray([1f, 2f, 3f, 4f], 1, 1, 2, 2);
        var y = Tensor.Allocate(1, 1, 4, 4);
        Reference.Resize(x, ResizeParams.WithScales(2f, 2f, ResizeMode.Nearest, ResizeCoordinateTransform.Asymmetric, ResizeNearestMode.Floor), y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 1f, 1f, 2f, 2f, 1f, 1f, 2f, 2f, 3f, 3f, 4f, 4f, 3f, 3f, 4f, 4f }));
    }

    [TestCase(ResizeNearestMode.RoundPreferFloor, 10f, 30f)]
    [TestCase(ResizeNearestMode.Floor, 10f, 30f)]
    [TestCase(ResizeNearestMode.RoundPreferCeil, 20f, 40f)]
    [TestCase(ResizeNearestMode.Ceil, 20f, 40f)]
    public void NearestHalfPixelDownsampleTiesByHand(ResizeNearestMode mode, float first, float second)
    {
        // W 4 → 2 (scale 0.5): x_in = (x + 0.5)/0.5 − 0.5 = 0.5 and 2.5, exact ties.
        var x = Tensor.FromArray([10f, 20f, 30f, 40f], 1, 1, 1, 4);
        var y = Tensor.Allocate(1, 1, 1, 2);
        Reference.Resize(x, ResizeParams.WithScales(1f, 0.5f, ResizeMode.Nearest, ResizeCoordinateTransform.HalfPixel, mode), y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { first, second }));
    }

    [Test]
    public void AlignCornersLinearBySizesByHand()
    {
        // W 2 → 3: x_in = x·(2 − 1)/(3 − 1) = 0, 0.5, 1.
        var x = Tensor.FromArray([0f, 10f], 1, 1, 1, 2);
        var y = Tensor.Allocate(1, 1, 1, 3);
        Reference.Resize(x, ResizeParams.WithSizes(1, 1, 1, 3, ResizeMode.Linear, ResizeCoordinateTransform.AlignCorners), y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 0f, 5f, 10f }));
    }

    /// <summary>
    /// Shrinking an axis to length 1 (sizes 4×5 → 1×3 and 6×1 → 1×1) for every transform and mode, against ORT:
    /// align_corners divides by (output − 1) = 0 there, and pytorch_half_pixel special-cases it.
    /// </summary>
    public static IEnumerable<TestCaseData> ToLengthOneCases()
    {
        foreach (ResizeCoordinateTransform t in Enum.GetValues<ResizeCoordinateTransform>())
        {
            foreach (ResizeMode m in new[] { ResizeMode.Nearest, ResizeMode.Linear })
            {
                yield return new TestCaseData(t, m, new[] { 1, 2, 4, 5 }, new[] { 1, 2, 1, 3 }).SetName($"Resize to length 1 ({t}, {m}, 4x5->1x3)");
                yield return new TestCaseData(t, m, new[] { 1, 1, 6, 1 }, new[] { 1, 1, 1, 1 }).SetName($"Resize to length 1 ({t}, {m}, 6x1->1x1)");
            }
        }
    }

    [TestCaseSource(nameof(ToLengthOneCases))]
    public void ToLengthOneMatchesOnnxRuntime(ResizeCoordinateTransform t, ResizeMode m, int[] dims, int[] sizes)
    {
        var x = TestData.Floats(new Random(LayoutShapes.Seed(dims)), new TensorShape(dims), -4, 4);
        var p = ResizeParams.WithSizes(sizes[0], sizes[1], sizes[2], sizes[3], m, t);
        var y = TestData.Poisoned(Reference.ResizeOutputShape(x.Shape, p));
        Reference.Resize(x, p, y);
        // Bit-exact: nearest copies, and linear computes the same weights in the same float order as ORT.
        Compare.Exact(RunOrt(x, p), y, $"Resize X={x.Shape} {p} -> {y.Shape}");
    }

    [TestCase(ResizeCoordinateTransform.PytorchHalfPixel, 0f)]
    [TestCase(ResizeCoordinateTransform.HalfPixel, 15f)]
    public void ToOnePixelByHand(ResizeCoordinateTransform t, float expected)
    {
        // W 4 → 1 (scale 0.25): pytorch_half_pixel maps to 0; half_pixel to 0.5/0.25 − 0.5 = 1.5, between 10 and 20.
        var x = Tensor.FromArray([0f, 10f, 20f, 30f], 1, 1, 1, 4);
        var y = Tensor.Allocate(1, 1, 1, 1);
        Reference.Resize(x, ResizeParams.WithSizes(1, 1, 1, 1, ResizeMode.Linear, t), y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { expected }));
    }

    [TestCase(ResizeNearestMode.Ceil)]
    [TestCase(ResizeNearestMode.RoundPreferCeil)]
    public void AxisWithScaleOneIsNotTransformedAsInOnnxRuntime(ResizeNearestMode mode)
    {
        // The spec's tf_half_pixel_for_nn maps x to x + 0.5 even at scale 1, which ceil and round_prefer_ceil
        // would shift to x + 1. ONNX Runtime 1.31 (our oracle) skips the transform on an axis of scale 1, so
        // rows must come out unshifted: H is kept (scale 1), W doubled.
        var x = Tensor.FromArray([1f, 2f, 3f, 4f, 5f, 6f], 1, 1, 3, 2);
        var p = ResizeParams.WithScales(1f, 2f, ResizeMode.Nearest, ResizeCoordinateTransform.TfHalfPixelForNearest, mode);
        var y = TestData.Poisoned(Reference.ResizeOutputShape(x.Shape, p));
        Reference.Resize(x, p, y);
        Compare.Exact(RunOrt(x, p), y, $"Resize X={x.Shape} {p}");
        // W: (w + 0.5)/2 = 0.25, 0.75, 1.25, 1.75, so the last output column reads input column 1 in both modes;
        // unshifted rows give [2,4,6] there (shifted rows would give [4,6,6]).
        Assert.That(y.ToArray().Where((_, i) => i % 4 == 3), Is.EqualTo(new[] { 2f, 4f, 6f }));
    }

    [Test]
    public void OutputShapeFloorsTheScaledExtent()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Reference.ResizeOutputShape(TensorShape.Of(1, 2, 5, 7), ResizeParams.WithScales(0.6f, 1.5f)), Is.EqualTo(TensorShape.Of(1, 2, 3, 10)));
            Assert.That(Reference.ResizeOutputShape(TensorShape.Of(2, 3, 3, 3), ResizeParams.WithSizes(2, 3, 7, 1)), Is.EqualTo(TensorShape.Of(2, 3, 7, 1)));
        });
    }

    [Test]
    public void BothScalesAndSizesThrow()
    {
        var p = ResizeParams.WithScales(2f, 2f) with { Sizes = [1, 1, 4, 4] };
        var ex = Assert.Throws<InvalidHyperparameterException>(() => Reference.ResizeOutputShape(TensorShape.Of(1, 1, 2, 2), p));
        Assert.That(ex!.Message, Does.Contain("both").And.Contain("[1,1,2,2]"));
    }

    [Test]
    public void NeitherScalesNorSizesThrow()
    {
        var ex = Assert.Throws<InvalidHyperparameterException>(() => Reference.ResizeOutputShape(TensorShape.Of(1, 1, 2, 2), new ResizeParams()));
        Assert.That(ex!.Message, Does.Contain("neither").And.Contain("[1,1,2,2]"));
    }

    [Test]
    public void ChannelScaleThrows()
    {
        var p = new ResizeParams { Scales = [1f, 2f, 2f, 2f] };
        var ex = Assert.Throws<InvalidHyperparameterException>(() => Reference.ResizeOutputShape(TensorShape.Of(1, 3, 2, 2), p));
        Assert.That(ex!.Message, Does.Contain("[1,3,2,2]"));
    }

    [Test]
    public void NonPositiveScaleThrows()
    {
        var ex = Assert.Throws<InvalidHyperparameterException>(() => Reference.ResizeOutputShape(TensorShape.Of(1, 3, 2, 2), ResizeParams.WithScales(0f, 2f)));
        Assert.That(ex!.Message, Does.Contain("[1,3,2,2]"));
    }

    [Test]
    public void WrongRankThrows()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => Reference.ResizeOutputShape(TensorShape.Of(3, 2, 2), ResizeParams.WithScales(2f, 2f)));
        Assert.That(ex!.Message, Does.Contain("[3,2,2]"));
    }

    [Test]
    public void WrongOutputShapeThrows()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => Reference.Resize(Tensor.Allocate(1, 1, 2, 2), ResizeParams.WithScales(2f, 2f), Tensor.Allocate(1, 1, 2, 2)));
        Assert.That(ex!.Message, Does.Contain("[1,1,4,4]").And.Contain("[1,1,2,2]"));
    }
}
