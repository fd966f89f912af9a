using FastConv.Cpu;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>HardSwish (opset 14) of the reference against ONNX Runtime, and by hand.</summary>
public sealed class HardSwishOracleTests
{
    public static IEnumerable<TestCaseData> Shapes() => OracleShapes.Elementwise("HardSwish", seed: 207);

    [TestCaseSource(nameof(Shapes))]
    public void MatchesOnnxRuntime(int[] dims)
    {
        var rng = new Random(dims.Aggregate(43, (h, d) => h * 31 + d));
        var shape = new TensorShape(dims);
        var x = TestData.Floats(rng, shape, -8, 8);
        var expected = new OnnxGraphBuilder("HardSwish", opset: 14).Input("X", x).Run();
        var y = TestData.Poisoned(shape);
        Reference.HardSwish(x, y);
        // ONNX Runtime computes t = max(0, min(1, fl(fl(x·(1/6)f) + 0.5))) in float — absolute error about
        // u·(|x/6| + 0.5) ≤ 1.5u where t is not clamped (|x| ≤ 3), cancelling near x = -3 — then y = fl(x·t),
        // so |error| ≤ 1.5u·|x| + ½u·|y| (u = 2^-24). Measured: 4u absolute (2.4e-7) at x ≈ -3. The
        // reference rounds once. Bound: 2u·|x| + u·|y| per element.
        Compare.Close(expected, y, $"HardSwish X={shape}", Ulp.Bound(expected, x, rel: 1, perX: 2));
    }

    [Test]
    public void ByHand()
    {
        var x = Tensor.FromArray([0f, -0f, 3f, -3f, 1.5f, -1.5f, 6f, -6f, float.NaN, float.PositiveInfinity, float.NegativeInfinity], 11);
        var y = Tensor.Allocate(11);
        Reference.HardSwish(x, y);
        // x·max(0, min(1, x/6 + 0.5)): 1.5·0.75 = 1.125, -1.5·0.25 = -0.375; -∞·0 is NaN (as ONNX Runtime).
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 0f, -0f, 3f, -0f, 1.125f, -0.375f, 6f, -0f, float.NaN, float.PositiveInfinity, float.NaN }));
        Assert.That(float.IsNegative(y.Span[3]), Is.True, "-3·0 = -0");
    }

    [Test]
    public void WrongOutputShapeThrows()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => Reference.HardSwish(Tensor.Allocate(2, 3), Tensor.Allocate(6)));
        Assert.That(ex!.Message, Does.Contain("[2,3]").And.Contain("[6]"));
    }
}
