using FastConv.Cpu;
using FastConv.Ops;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>Clip (and Relu6) of the reference against ONNX Runtime (opset 13, min/max as optional inputs), and by hand.</summary>
public sealed class ClipOracleTests
{
    public static IEnumerable<TestCaseData> Shapes() => OracleShapes.Elementwise("Clip", seed: 203);

    [TestCaseSource(nameof(Shapes))]
    public void MatchesOnnxRuntime(int[] dims)
    {
        var rng = new Random(dims.Aggregate(29, (h, d) => h * 31 + d));
        var shape = new TensorShape(dims);
        var x = TestData.Floats(rng, shape, -8, 8);
        // Modes: both bounds, Relu6, only min, only max, neither, min > max (everything becomes max).
        int mode = rng.Next(6);
        float lo = -4f + 4f * rng.NextSingle(), hi = 4f * rng.NextSingle();
        bool hasMin = mode is 0 or 1 or 2 or 5, hasMax = mode is 0 or 1 or 3 or 5;
        (lo, hi) = mode switch { 1 => (0f, 6f), 5 => (hi + 1f, lo), _ => (lo, hi) };
        var g = new OnnxGraphBuilder("Clip", opset: 13).Input("X", x);
        if (hasMin)
        {
            g.ScalarConstant("min", lo);
        }
        else if (hasMax)
        {
            g.NoInput();
        }
        if (hasMax)
        {
            g.ScalarConstant("max", hi);
        }
        var p = new ClipParams();
        p = hasMin ? p with { Min = lo } : p;
        p = hasMax ? p with { Max = hi } : p;
        var expected = g.Run();
        var y = TestData.Poisoned(shape);
        Reference.Clip(x, p, y);
        var y2 = TestData.Poisoned(shape);
        Reference.Clip(x, hasMin ? lo : null, hasMax ? hi : null, y2);
        Compare.Exact(y, y2, $"Clip overloads X={shape} {p}");
        // Comparisons and copies only: exact for any float input.
        Compare.Exact(expected, y, $"Clip X={shape} {p} (min given: {hasMin}, max given: {hasMax})");
    }

    [Test]
    public void ByHand()
    {
        var x = Tensor.FromArray([-1f, -0f, 0f, 3f, 6f, 7.5f, float.NaN, float.NegativeInfinity, float.PositiveInfinity], 9);
        var y = Tensor.Allocate(9);
        Reference.Clip(x, ClipParams.Relu6, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 0f, -0f, 0f, 3f, 6f, 6f, float.NaN, 0f, 6f }));
        Assert.That(float.IsNegative(y.Span[1]), Is.True, "-0 is inside [0, 6] and stays -0 (as ONNX Runtime)");
        // No bounds: ONNX Runtime clips to the finite float range, so ±∞ become ±MaxValue.
        Reference.Clip(x, null, null, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { -1f, -0f, 0f, 3f, 6f, 7.5f, float.NaN, float.MinValue, float.MaxValue }));
        // min > max: everything (but NaN) becomes max.
        Reference.Clip(x, 2f, 1f, x);
        Assert.That(x.ToArray(), Is.EqualTo(new[] { 1f, 1f, 1f, 1f, 1f, 1f, float.NaN, 1f, 1f }));
    }

    [Test]
    public void WrongOutputShapeThrows()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => Reference.Clip(Tensor.Allocate(2, 3), ClipParams.Relu6, Tensor.Allocate(2, 4)));
        Assert.That(ex!.Message, Does.Contain("[2,3]").And.Contain("[2,4]"));
    }
}
