using FastConv.Cpu;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>Sigmoid of the reference against ONNX Runtime, and by hand.</summary>
public sealed class SigmoidOracleTests
{
    public static IEnumerable<TestCaseData> Shapes() => OracleShapes.Elementwise("Sigmoid", seed: 204);

    [TestCaseSource(nameof(Shapes))]
    public void MatchesOnnxRuntime(int[] dims)
    {
        var rng = new Random(dims.Aggregate(31, (h, d) => h * 31 + d));
        var shape = new TensorShape(dims);
        var x = TestData.Floats(rng, shape, -20, 20);
        var expected = new OnnxGraphBuilder("Sigmoid").Input("X", x).Run();
        var y = TestData.Poisoned(shape);
        Reference.Sigmoid(x, y);
        // The reference is correctly rounded (double exp, one rounding). ONNX Runtime uses MLAS's polynomial
        // logistic, whose error is ABSOLUTE, not relative: measured over 600k points in [-100, 100] it is at most
        // 3u (u = 2^-24) absolute (1.8e-7 near 1; for x < -16 it returns 0 where the true value is < 1.2e-7, and
        // around x = -9.7 it is off by 0.2% of a 6e-5 result) and at most 2 ulp relative in [-1, 1].
        // Bound: 4u relative + 4u absolute.
        Compare.Close(expected, y, $"Sigmoid X={shape}", atol: 4 * Ulp.U, rtol: 4 * Ulp.U);
    }

    [Test]
    public void ByHand()
    {
        var x = Tensor.FromArray([0f, -0f, 2f, -2f, 100f, -100f, float.NaN, float.PositiveInfinity, float.NegativeInfinity], 9);
        var y = Tensor.Allocate(9);
        Reference.Sigmoid(x, y);
        // 1/(1 + e^-2) = 0.8807970779…, 1/(1 + e^2) = 0.1192029220…, 1/(1 + e^100) = 3.72e-44 (a denormal float).
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 0.5f, 0.5f, 0.88079708f, 0.11920292f, 1f, 3.783506e-44f, float.NaN, 1f, 0f }));
    }

    [Test]
    public void WrongOutputShapeThrows()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => Reference.Sigmoid(Tensor.Allocate(2, 3), Tensor.Allocate(3, 2)));
        Assert.That(ex!.Message, Does.Contain("[2,3]").And.Contain("[3,2]"));
    }
}
