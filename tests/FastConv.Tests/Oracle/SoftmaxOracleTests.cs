using FastConv.Cpu;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>Softmax (opset 13) of the reference against ONNX Runtime, every axis, and by hand.</summary>
public sealed class SoftmaxOracleTests
{
    /// <summary>Ranks 1–4 in turn, the axis cycling through every value in [-rank, rank-1]; dims 1–9 (edges first).</summary>
    public static IEnumerable<TestCaseData> Cases()
    {
        int[][] edges = [[1], [17], [1, 1], [1, 1000], [2, 16, 8, 8], [3, 13, 1, 9]];
        var rng = new Random(211);
        for (int n = 0; n < OracleShapes.CasesPerOp; n++)
        {
            int[] dims;
            if (n < edges.Length)
            {
                dims = edges[n];
            }
            else
            {
                dims = new int[1 + n % 4];
                for (int i = 0; i < dims.Length; i++)
                {
                    dims[i] = rng.Next(1, 10);
                }
            }
            int axis = (n / 4 + n) % (2 * dims.Length) - dims.Length;
            yield return new TestCaseData(dims, axis).SetName($"Softmax(X={ElementwiseShapes.Format(dims)}, axis={axis}) #{n}");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesOnnxRuntime(int[] dims, int axis)
    {
        var rng = new Random(dims.Aggregate(61 + axis, (h, d) => h * 31 + d));
        var shape = new TensorShape(dims);
        var x = TestData.Floats(rng, shape, -10, 10);
        var expected = new OnnxGraphBuilder("Softmax", opset: 13).Input("X", x).Attr("axis", (long)axis).Run();
        var y = TestData.Poisoned(shape);
        Reference.Softmax(x, axis, y);
        // The reference subtracts the max and takes exp and the sum in double (one rounding). ONNX Runtime
        // (MLAS) computes d = x − max in FLOAT, which carries an absolute error up to ½ulp(d) ≤ u·|d| (u = 2^-24),
        // and that becomes a relative error u·|d| of exp(d); then a few ulp for its polynomial exp, the float sum
        // and the division. Measured over 400k points: ≤ 20 ulp at |d| ≈ 20, ≤ 6 ulp for |d| ≤ 2.
        // Bound: u·(8 + |x − max|)·|y| per element.
        var bound = Tensor.Allocate(shape);
        int ax = axis < 0 ? axis + dims.Length : axis;
        int len = dims[ax], inner = dims.Skip(ax + 1).Aggregate(1, (a, b) => a * b);
        for (int i = 0; i < bound.Length; i++)
        {
            int start = i / (len * inner) * len * inner + i % inner;
            float max = float.NegativeInfinity;
            for (int j = 0; j < len; j++)
            {
                max = MathF.Max(max, x.Span[start + j * inner]);
            }
            bound.Span[i] = Ulp.U * (8 + (max - x.Span[i])) * MathF.Abs(expected.Span[i]) + float.Epsilon;
        }
        Compare.Close(expected, y, $"Softmax X={shape} axis={axis}", bound);
    }

    [Test]
    public void ByHand()
    {
        // Along the last axis of [2,3]: row {0, ln 2, ln 5} → {1, 2, 5}/8; row {1000, 1000, 1000} → 1/3 each
        // (exp(1000) overflows: only the max subtraction makes it work).
        var x = Tensor.FromArray([0f, MathF.Log(2f), MathF.Log(5f), 1000f, 1000f, 1000f], 2, 3);
        var y = Tensor.Allocate(2, 3);
        Reference.Softmax(x, -1, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 0.125f, 0.25f, 0.625f, 1f / 3, 1f / 3, 1f / 3 }).Within(1e-7f));
        // Along axis 0 of the same data: each column is {a, 1000}: {0, 0, 0, 1, 1, 1} (exp(-1000) underflows).
        Reference.Softmax(x, 0, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 0f, 0f, 0f, 1f, 1f, 1f }));
        // -∞ gets 0; a NaN makes its whole slice NaN; +∞ too (∞ − ∞).
        var s = Tensor.FromArray([float.NegativeInfinity, 0f, 0f, float.NaN, 1f, 2f, float.PositiveInfinity, 1f, 2f], 3, 3);
        Reference.Softmax(s, 1, s);
        Assert.That(s.ToArray(), Is.EqualTo(new[] { 0f, 0.5f, 0.5f, float.NaN, float.NaN, float.NaN, float.NaN, float.NaN, float.NaN }));
        // Rank 1, length 1: always 1.
        var one = Tensor.FromArray([-42f], 1);
        Reference.Softmax(one, 0, one);
        Assert.That(one.Span[0], Is.EqualTo(1f));
    }

    [TestCase(2)]
    [TestCase(-3)]
    [TestCase(7)]
    public void AxisOutOfRangeThrows(int axis)
    {
        var ex = Assert.Throws<InvalidHyperparameterException>(() => Reference.Softmax(Tensor.Allocate(4, 5), axis, Tensor.Allocate(4, 5)));
        Assert.That(ex!.Message, Does.Contain("[4,5]").And.Contain($"axis {axis}"));
    }

    [Test]
    public void WrongOutputShapeThrows()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => Reference.Softmax(Tensor.Allocate(4, 5), 1, Tensor.Allocate(5, 4)));
        Assert.That(ex!.Message, Does.Contain("[4,5]").And.Contain("[5,4]"));
    }
}
