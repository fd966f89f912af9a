using FastConv.Cpu;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>LeakyRelu of the reference against ONNX Runtime, and by hand.</summary>
public sealed class LeakyReluOracleTests
{
    public static IEnumerable<TestCaseData> Shapes() => OracleShapes.Elementwise("LeakyRelu", seed: 201);

    [TestCaseSource(nameof(Shapes))]
    public void MatchesOnnxRuntime(int[] dims)
    {
        var rng = new Random(dims.Aggregate(19, (h, d) => h * 31 + d));
        var shape = new TensorShape(dims);
        var x = TestData.Floats(rng, shape, -4, 4);
        // Half the cases use the ONNX default alpha (attribute omitted), the others a random one (negative and > 1 included).
        bool useDefault = rng.Next(2) == 0;
        float alpha = useDefault ? 0.01f : -2f + 5f * rng.NextSingle();
        var g = new OnnxGraphBuilder("LeakyRelu").Input("X", x);
        if (!useDefault)
        {
            g.Attr("alpha", alpha);
        }
        var expected = g.Run();
        var y = TestData.Poisoned(shape);
        Reference.LeakyRelu(x, alpha, y);
        // One float multiplication (or a copy) per element: correctly rounded, so exact for any float input.
        Compare.Exact(expected, y, $"LeakyRelu X={shape} alpha={alpha:R}");
    }

    [Test]
    public void ByHand()
    {
        var x = Tensor.FromArray([-2f, -0f, 0f, 1.5f, -300f, float.NaN, float.NegativeInfinity, float.PositiveInfinity], 8);
        var y = Tensor.Allocate(8);
        Reference.LeakyRelu(x, 0.01f, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { -0.02f, -0f, 0f, 1.5f, -3f, float.NaN, float.NegativeInfinity, float.PositiveInfinity }));
        Assert.That(float.IsNegative(y.Span[1]), Is.True, "-0 stays -0");
        Reference.LeakyRelu(x, -0.5f, x); // in place, negative alpha
        Assert.That(x.ToArray(), Is.EqualTo(new[] { 1f, -0f, 0f, 1.5f, 150f, float.NaN, float.PositiveInfinity, float.PositiveInfinity }));
    }

    [Test]
    public void WrongOutputShapeThrows()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => Reference.LeakyRelu(Tensor.Allocate(2, 3), 0.01f, Tensor.Allocate(6)));
        Assert.That(ex!.Message, Does.Contain("[2,3]").And.Contain("[6]"));
    }
}
