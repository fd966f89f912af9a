using FastConv.Cpu;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>BatchNormalization (inference) of the reference against ONNX Runtime, and by hand.</summary>
public sealed class BatchNormalizationOracleTests
{
    /// <summary>Inputs N×C×D1…(rank 2–5): edges first, then random N 1–3, C 1–20, spatial dims 1–9.</summary>
    public static IEnumerable<TestCaseData> Shapes()
    {
        int[][] edges = [[1, 1], [2, 17], [1, 1, 1, 1], [1, 3, 5, 7], [2, 16, 8, 8], [3, 13, 1, 9], [2, 5, 2, 1, 2], [1, 24, 3]];
        var rng = new Random(210);
        int n = 0;
        foreach (var e in edges)
        {
            yield return Case(e, n++);
        }
        while (n < OracleShapes.CasesPerOp)
        {
            var dims = new int[rng.Next(2, 6)];
            dims[0] = rng.Next(1, 4);
            dims[1] = rng.Next(1, 21);
            for (int i = 2; i < dims.Length; i++)
            {
                dims[i] = rng.Next(1, 10);
            }
            yield return Case(dims, n++);
        }

        static TestCaseData Case(int[] dims, int n) => new TestCaseData(dims).SetName($"BatchNormalization(X={ElementwiseShapes.Format(dims)}) #{n}");
    }

    [TestCaseSource(nameof(Shapes))]
    public void MatchesOnnxRuntime(int[] dims)
    {
        var rng = new Random(dims.Aggregate(59, (h, d) => h * 31 + d));
        var shape = new TensorShape(dims);
        int c = dims[1];
        var x = TestData.Floats(rng, shape, -4, 4);
        var scale = TestData.Floats(rng, TensorShape.Of(c), -2, 2);
        var bias = TestData.Floats(rng, TensorShape.Of(c), -2, 2);
        var mean = TestData.Floats(rng, TensorShape.Of(c), -2, 2);
        var var = TestData.Floats(rng, TensorShape.Of(c), 0, 3); // a variance may be 0: epsilon keeps the root positive
        float epsilon = new[] { 1e-5f, 1e-3f, 0.1f }[rng.Next(3)];
        var expected = new OnnxGraphBuilder("BatchNormalization", opset: 15)
            .Input("X", x).Input("scale", scale).Input("B", bias).Input("mean", mean).Input("var", var)
            .Attr("epsilon", epsilon).Run();
        var y = TestData.Poisoned(shape);
        Reference.BatchNormalization(x, scale, bias, mean, var, epsilon, y);
        // The reference evaluates scale·(x − mean)/sqrt(var + eps) + bias in double and rounds once. ONNX Runtime
        // folds it in float: s = scale/sqrt(var + eps) (≈ 3 roundings), t = bias − mean·s (2), y = x·s + t (2), so
        // its error is at most ≈ 8u·(|x·s| + |mean·s| + |bias|) (u = 2^-24; the fold cancels where x ≈ mean).
        // Bound: 8u·(|scale|·(|x| + |mean|)/sqrt(var + eps) + |bias|) per element.
        var bound = Tensor.Allocate(shape);
        int inner = shape.ElementCount / (dims[0] * c);
        for (int i = 0; i < bound.Length; i++)
        {
            int ci = i / inner % c;
            double s = Math.Abs(scale.Span[ci]) / Math.Sqrt(var.Span[ci] + (double)epsilon);
            bound.Span[i] = (float)(8 * Ulp.U * (s * (Math.Abs(x.Span[i]) + Math.Abs(mean.Span[ci])) + Math.Abs(bias.Span[ci]))) + float.Epsilon;
        }
        Compare.Close(expected, y, $"BatchNormalization X={shape} epsilon={epsilon:R}", bound);
    }

    [Test]
    public void ByHand()
    {
        // X [1,2,2], epsilon 0. Channel 0 = {1, 3}, scale 3, bias 1, mean 2, var 4: y = 3·(x − 2)/2 + 1 = {-0.5, 2.5}.
        // Channel 1 = {NaN, +∞}, scale 1, bias 0, mean 0, var 1: {NaN, +∞}.
        var x = Tensor.FromArray([1f, 3f, float.NaN, float.PositiveInfinity], 1, 2, 2);
        var y = Tensor.Allocate(1, 2, 2);
        Reference.BatchNormalization(x, Tensor.FromArray([3f, 1f], 2), Tensor.FromArray([1f, 0f], 2),
            Tensor.FromArray([2f, 0f], 2), Tensor.FromArray([4f, 1f], 2), 0f, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { -0.5f, 2.5f, float.NaN, float.PositiveInfinity }));
        // Rank 2 (N, C) and epsilon: var 0.75 + eps 0.25 = 1: y = 2·(x − 1) + 0.5.
        var x2 = Tensor.FromArray([0f, 1f, 4f], 3, 1);
        Reference.BatchNormalization(x2, Tensor.FromArray([2f], 1), Tensor.FromArray([0.5f], 1),
            Tensor.FromArray([1f], 1), Tensor.FromArray([0.75f], 1), 0.25f, x2);
        Assert.That(x2.ToArray(), Is.EqualTo(new[] { -1.5f, 0.5f, 6.5f }));
    }

    [TestCase("scale")]
    [TestCase("bias")]
    [TestCase("mean")]
    [TestCase("var")]
    public void ParameterOfWrongLengthThrows(string which)
    {
        Tensor P(string name) => Tensor.Allocate(name == which ? 4 : 3);
        var ex = Assert.Throws<InvalidShapeException>(() => Reference.BatchNormalization(
            Tensor.Allocate(2, 3, 5, 5), P("scale"), P("bias"), P("mean"), P("var"), 1e-5f, Tensor.Allocate(2, 3, 5, 5)));
        Assert.That(ex!.Message, Does.Contain(which).And.Contain("[4]").And.Contain("[3]").And.Contain("[2,3,5,5]"));
    }

    [Test]
    public void RankOneInputThrows()
    {
        var p = Tensor.Allocate(3);
        var ex = Assert.Throws<InvalidShapeException>(() => Reference.BatchNormalization(Tensor.Allocate(3), p, p, p, p, 1e-5f, Tensor.Allocate(3)));
        Assert.That(ex!.Message, Does.Contain("[3]").And.Contain("rank"));
    }
}
