using FastConv.Cpu;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>Relu of the reference against ONNX Runtime, and by hand.</summary>
public sealed class ReluOracleTests
{
    public static IEnumerable<TestCaseData> Shapes() => OracleShapes.Elementwise("Relu", seed: 101);

    [TestCaseSource(nameof(Shapes))]
    public void MatchesOnnxRuntime(int[] dims)
    {
        var rng = new Random(dims.Aggregate(17, (h, d) => h * 31 + d));
        var shape = new TensorShape(dims);
        var x = TestData.Floats(rng, shape, -4, 4);
        var expected = new OnnxGraphBuilder("Relu").Input("X", x).Run();
        var y = TestData.Poisoned(shape);
        Reference.Relu(x, y);
        // max(x, 0) is exact in any implementation.
        Compare.Exact(expected, y, $"Relu X={shape}");
    }

    [Test]
    public void ByHand()
    {
        var x = Tensor.FromArray([-2f, -0f, 0f, 1.5f, float.NaN, float.NegativeInfinity, float.PositiveInfinity], 7);
        var y = Tensor.Allocate(7);
        Reference.Relu(x, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 0f, -0f, 0f, 1.5f, float.NaN, 0f, float.PositiveInfinity }));
    }

    [Test]
    public void WrongOutputShapeThrows()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => Reference.Relu(Tensor.Allocate(2, 3), Tensor.Allocate(3, 2)));
        Assert.That(ex!.Message, Does.Contain("[2,3]").And.Contain("[3,2]"));
    }
}
