using FastConv.Cpu;
using FastConv.Ops;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>HardSigmoid of the reference against ONNX Runtime, and by hand.</summary>
public sealed class HardSigmoidOracleTests
{
    public static IEnumerable<TestCaseData> Shapes() => OracleShapes.Elementwise("HardSigmoid", seed: 206);

    [TestCaseSource(nameof(Shapes))]
    public void MatchesOnnxRuntime(int[] dims)
    {
        var rng = new Random(dims.Aggregate(41, (h, d) => h * 31 + d));
        var shape = new TensorShape(dims);
        var x = TestData.Floats(rng, shape, -6, 6);
        // Half the cases with the ONNX defaults (attributes omitted), half with random alpha and beta.
        bool useDefault = rng.Next(2) == 0;
        var p = useDefault ? HardSigmoidParams.Default : new HardSigmoidParams { Alpha = -1f + 2f * rng.NextSingle(), Beta = -1f + 2f * rng.NextSingle() };
        var g = new OnnxGraphBuilder("HardSigmoid").Input("X", x);
        if (!useDefault)
        {
            g.Attr("alpha", p.Alpha).Attr("beta", p.Beta);
        }
        var expected = g.Run();
        var y = TestData.Poisoned(shape);
        Reference.HardSigmoid(x, p, y);
        // ONNX Runtime evaluates alpha·x + beta in float: at most two roundings, each ≤ u·(|alpha·x| + |beta|)
        // (u = 2^-24), absolute — it cancels where the result is near 0 (measured: 1 ulp near 0.34, 2048 ulp of a
        // 3e-5 result at x = -2.4998). The reference rounds once. Bound: 2u·(|alpha·x| + |beta|) per element.
        var bound = Tensor.Allocate(shape);
        for (int i = 0; i < bound.Length; i++)
        {
            bound.Span[i] = 2 * Ulp.U * (MathF.Abs(p.Alpha * x.Span[i]) + MathF.Abs(p.Beta)) + float.Epsilon;
        }
        Compare.Close(expected, y, $"HardSigmoid X={shape} {p}", bound);
    }

    [Test]
    public void ByHand()
    {
        var x = Tensor.FromArray([0f, 1f, -1f, 2.5f, -2.5f, 3f, -3f, float.NaN, float.PositiveInfinity, float.NegativeInfinity], 10);
        var y = Tensor.Allocate(10);
        Reference.HardSigmoid(x, HardSigmoidParams.Default, y);
        // 0.2·x + 0.5 clamped to [0, 1].
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 0.5f, 0.7f, 0.3f, 1f, 0f, 1f, 0f, float.NaN, 1f, 0f }));
        Reference.HardSigmoid(x, new HardSigmoidParams { Alpha = 0.25f, Beta = 0.25f }, x);
        Assert.That(x.ToArray(), Is.EqualTo(new[] { 0.25f, 0.5f, 0f, 0.875f, 0f, 1f, 0f, float.NaN, 1f, 0f }));
    }

    [Test]
    public void WrongOutputShapeThrows()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => Reference.HardSigmoid(Tensor.Allocate(2, 3), HardSigmoidParams.Default, Tensor.Allocate(2, 2)));
        Assert.That(ex!.Message, Does.Contain("[2,3]").And.Contain("[2,2]"));
    }
}
