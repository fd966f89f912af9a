using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Onnx;
using FastConv.Ops;
using FastConv.Sessions;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>
/// Resize in cubic mode (cubic_coeff_a −0.75 and −0.5, exclude_outside 0 and 1, every coordinate transform ORT runs
/// with cubic, scales and sizes, up and down) of the reference against ONNX Runtime, by hand, and in sessions.
/// </summary>
public sealed class ResizeCubicOracleTests
{
    private static readonly ResizeCoordinateTransform[] Transforms =
        [ResizeCoordinateTransform.HalfPixel, ResizeCoordinateTransform.PytorchHalfPixel, ResizeCoordinateTransform.AlignCorners, ResizeCoordinateTransform.Asymmetric];

    public static IEnumerable<TestCaseData> Cases()
    {
        var rng = new Random(303);
        (float, float)[] scales = [(2f, 2f), (0.5f, 0.5f), (1.5f, 2.5f), (0.6f, 1f), (3f, 0.75f), (1f, 2f)];
        for (int n = 0; n < OracleShapes.CasesPerOp; n++)
        {
            int[] dims = [rng.Next(1, 3), rng.Next(1, 4), rng.Next(2, 9), rng.Next(2, 9)];
            ResizeParams p;
            ResizeCoordinateTransform t = Transforms[n % Transforms.Length];
            if (n % 3 == 2)
            {
                p = ResizeParams.WithSizes(dims[0], dims[1], rng.Next(1, 14), rng.Next(1, 14), ResizeMode.Cubic, t);
            }
            else
            {
                var (sh, sw) = scales[rng.Next(scales.Length)];
                p = ResizeParams.WithScales(sh, sw, ResizeMode.Cubic, t);
            }
            p = p with { CubicCoeffA = n % 2 == 0 ? -0.75f : -0.5f, ExcludeOutside = n % 5 >= 3 };
            yield return new TestCaseData(dims, p).SetName($"Resize(X={LayoutShapes.Fmt(dims)}, {p}) #{n}");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesOnnxRuntime(int[] dims, ResizeParams p)
    {
        var x = TestData.Floats(new Random(LayoutShapes.Seed(dims)), new TensorShape(dims), -4, 4);
        byte[] model = Model(x, p);
        Tensor expected = OnnxModelBuilder.RunOrt(model, new Dictionary<string, Tensor> { ["X"] = x })["Y"];
        var y = TestData.Poisoned(Reference.ResizeOutputShape(x.Shape, p));
        Reference.Resize(x, p, y);
        // y = Σ_r wh_r·Σ_s ww_s·x (16 terms). Each cubic weight is a polynomial of t with |dW/dt| ≤ 3 (a ∈ [−0.75,
        // −0.5]); the float coordinate carries ≤ (6L + 3)·u (as for linear), each float weight a few roundings more
        // (≤ 8u), and |w| ≤ 1.1, so each product wh·ww is off by ≤ 2·1.1·(3(6L + 3) + 8)u; with 16 of them and the
        // float sums (γ₈ of Σ|terms| ≤ 1.5²·max|x|) one implementation is within 16·2.2·(3(6L + 3) + 8)·u·max|x|
        // + 8u·2.25·max|x| of the exact value, and two within twice that. A wrong tap or weight is off by O(max|x|).
        float maxAbs = x.ToArray().Select(MathF.Abs).Max();
        int l = new[] { dims[2], dims[3], y.Shape[2], y.Shape[3] }.Max();
        double u = Math.Pow(2, -24);
        float atol = (float)(2 * (16 * 2.2 * (3 * (6.0 * l + 3) + 8) + 18) * u * maxAbs);
        Compare.Close(expected, y, $"Resize X={x.Shape} {p}", atol, 0f);
        foreach (string backend in (string[])[BackendNames.Reference, BackendNames.Cpu])
        {
            using var session = new FastConvSession(OnnxModel.Load(model), new FastConvSessionOptions { Backend = backend, Threads = 1 });
            Assert.That(session.NodePlans.Single().Backend, Is.EqualTo(backend));
            Compare.Exact(y, session.Run(new Dictionary<string, Tensor> { ["X"] = x })["Y"], $"cubic Resize session on {backend}");
        }
    }

    private static byte[] Model(Tensor x, ResizeParams p)
    {
        var g = new OnnxGraphBuilder("Resize", 13).Input("X", x).NoInput();
        if (p.Scales is not null)
        {
            g.Constant("scales", p.Scales.ToArray(), 4);
        }
        else
        {
            g.NoInput().Constant("sizes", p.Sizes!.Select(s => (long)s).ToArray());
        }
        return g.Attr("mode", "cubic").Attr("coordinate_transformation_mode", p.OnnxCoordinateTransform).Attr("cubic_coeff_a", p.CubicCoeffA)
            .Attr("exclude_outside", p.ExcludeOutside ? 1L : 0L).ToBytes();
    }

    [Test]
    public void KeysWeightsByHand()
    {
        // t = 0.5, a = −0.75: W(1.5) = −0.09375, W(0.5) = 0.59375, so the taps weigh (−0.09375, 0.59375, 0.59375, −0.09375).
        var (index, weight) = Reference.ResizeCubicTaps(2.5f, 8, -0.75f, false);
        Assert.That(index, Is.EqualTo(new[] { 1, 2, 3, 4 }));
        Assert.That(weight, Is.EqualTo(new[] { -0.09375, 0.59375, 0.59375, -0.09375 }).Within(1e-12));
        // At the left edge with exclude_outside the tap at −1 drops out and the rest are renormalized to sum 1.
        var (edge, w2) = Reference.ResizeCubicTaps(0.5f, 8, -0.75f, true);
        Assert.That(edge, Is.EqualTo(new[] { 0, 0, 1, 2 }));
        Assert.That(w2[0], Is.Zero);
        Assert.That(w2.Sum(), Is.EqualTo(1.0).Within(1e-12));
        // A constant image stays constant (the weights sum to 1).
        var x = Tensor.FromArray(Enumerable.Repeat(3f, 16).ToArray(), 1, 1, 4, 4);
        var y = Tensor.Allocate(1, 1, 8, 8);
        Reference.Resize(x, ResizeParams.WithScales(2, 2, ResizeMode.Cubic), y);
        Assert.That(y.ToArray(), Is.All.EqualTo(3f).Within(1e-6f));
    }
}
