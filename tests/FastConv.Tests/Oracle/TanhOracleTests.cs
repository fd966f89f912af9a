using FastConv.Cpu;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>Tanh of the reference against ONNX Runtime, and by hand.</summary>
public sealed class TanhOracleTests
{
    public static IEnumerable<TestCaseData> Shapes() => OracleShapes.Elementwise("Tanh", seed: 205);

    [TestCaseSource(nameof(Shapes))]
    public void MatchesOnnxRuntime(int[] dims)
    {
        var rng = new Random(dims.Aggregate(37, (h, d) => h * 31 + d));
        var shape = new TensorShape(dims);
        var x = TestData.Floats(rng, shape, -10, 10);
        var expected = new OnnxGraphBuilder("Tanh").Input("X", x).Run();
        var y = TestData.Poisoned(shape);
        Reference.Tanh(x, y);
        // The reference is correctly rounded (double tanh, one rounding). ONNX Runtime uses MLAS's rational
        // approximation: measured over 600k points in [-100, 100] its relative error is at most 5.3u (u = 2^-24,
        // 4-5 ulp; e.g. tanh(0.1192317) 0.11866986 vs 0.11866989). Bound: 8u relative.
        Compare.Close(expected, y, $"Tanh X={shape}", atol: float.Epsilon, rtol: 8 * Ulp.U);
    }

    [Test]
    public void ByHand()
    {
        var x = Tensor.FromArray([0f, -0f, 0.5f, -0.5f, 20f, float.NaN, float.PositiveInfinity, float.NegativeInfinity], 8);
        var y = Tensor.Allocate(8);
        Reference.Tanh(x, y);
        // tanh(0.5) = 0.46211715726000974…
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 0f, -0f, 0.46211716f, -0.46211716f, 1f, float.NaN, 1f, -1f }));
        Assert.That(float.IsNegative(y.Span[1]), Is.True, "tanh(-0) = -0");
    }

    [Test]
    public void WrongOutputShapeThrows()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => Reference.Tanh(Tensor.Allocate(4), Tensor.Allocate(1, 4)));
        Assert.That(ex!.Message, Does.Contain("[4]").And.Contain("[1,4]"));
    }
}
