using FastConv.Cpu;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>PRelu of the reference against ONNX Runtime (slope broadcast unidirectionally), and by hand.</summary>
public sealed class PReluOracleTests
{
    /// <summary>The element-wise shapes, each with a slope that broadcasts to it: per-channel [C,1,1], [1], full, random suffixes with 1s.</summary>
    public static IEnumerable<TestCaseData> Cases()
    {
        var rng = new Random(202);
        int n = 0;
        foreach (var tc in OracleShapes.Elementwise("PRelu", seed: 202))
        {
            var x = (int[])tc.Arguments[0]!;
            int[] slope = (n % 4) switch
            {
                0 when x.Length >= 3 => [x[^3], 1, 1], // per-channel of (N)CHW
                1 => [1],
                2 => x,
                _ => ElementwiseShapes.BroadcastableTo(rng, x, minRank: 1),
            };
            yield return new TestCaseData(x, slope).SetName($"PRelu(X={ElementwiseShapes.Format(x)}, slope={ElementwiseShapes.Format(slope)}) #{n++}");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesOnnxRuntime(int[] dims, int[] slopeDims)
    {
        var rng = new Random(dims.Concat(slopeDims).Aggregate(23, (h, d) => h * 31 + d));
        var shape = new TensorShape(dims);
        var x = TestData.Floats(rng, shape, -4, 4);
        var slope = TestData.Floats(rng, new TensorShape(slopeDims), -2, 2);
        var expected = new OnnxGraphBuilder("PRelu").Input("X", x).Input("slope", slope).Run();
        var y = TestData.Poisoned(shape);
        Reference.PRelu(x, slope, y);
        // One float multiplication (or a copy) per element: correctly rounded, so exact for any float input.
        Compare.Exact(expected, y, $"PRelu X={shape} slope={slope.Shape}");
    }

    [Test]
    public void ByHand()
    {
        // X [2,1,3] (C = 2 on the first axis), slope [2,1,1]: channel 0 slope 0.5, channel 1 slope -2.
        var x = Tensor.FromArray([-2f, -0f, 4f, -1f, float.NaN, float.NegativeInfinity], 2, 1, 3);
        var slope = Tensor.FromArray([0.5f, -2f], 2, 1, 1);
        var y = Tensor.Allocate(2, 1, 3);
        Reference.PRelu(x, slope, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { -1f, -0f, 4f, 2f, float.NaN, float.PositiveInfinity }));
        Assert.That(float.IsNegative(y.Span[1]), Is.True, "-0 stays -0");
        // A 1-D slope aligns with the LAST axis (ONNX broadcasting), not with C.
        var x2 = Tensor.FromArray([-1f, -1f, -1f, -2f, -2f, -2f], 2, 3);
        Reference.PRelu(x2, Tensor.FromArray([1f, 2f, 3f], 3), x2);
        Assert.That(x2.ToArray(), Is.EqualTo(new[] { -1f, -2f, -3f, -2f, -4f, -6f }));
    }

    [Test]
    public void SlopeThatDoesNotBroadcastThrows()
    {
        // [C] = [3] against NCHW [1,3,4,5] aligns with W = 5: not broadcastable.
        var ex = Assert.Throws<InvalidShapeException>(() => Reference.PRelu(Tensor.Allocate(1, 3, 4, 5), Tensor.Allocate(3), Tensor.Allocate(1, 3, 4, 5)));
        Assert.That(ex!.Message, Does.Contain("[3]").And.Contain("[1,3,4,5]"));
        // Unidirectional: the slope may not make the output bigger.
        var ex2 = Assert.Throws<InvalidShapeException>(() => Reference.PRelu(Tensor.Allocate(3, 1), Tensor.Allocate(3, 4), Tensor.Allocate(3, 1)));
        Assert.That(ex2!.Message, Does.Contain("[3,4]").And.Contain("[3,1]"));
    }
}
