using FastConv.Cpu;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>Transpose of the reference against ONNX Runtime, by hand, and on invalid inputs.</summary>
public sealed class TransposeOracleTests
{
    public static IEnumerable<TestCaseData> Cases()
    {
        var rng = new Random(204);
        for (int n = 0; n < OracleShapes.CasesPerOp; n++)
        {
            int rank = 1 + n % 5;
            int[] dims = LayoutShapes.RandomDims(rng, rank, 1, 6);
            // Every seventh case omits perm: ONNX then reverses the axes.
            int[]? perm = n % 7 == 6 ? null : LayoutShapes.RandomPerm(rng, rank);
            string p = perm is null ? "default" : LayoutShapes.Fmt(perm);
            yield return new TestCaseData(dims, perm).SetName($"Transpose(X={LayoutShapes.Fmt(dims)}, perm={p}) #{n}");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesOnnxRuntime(int[] dims, int[]? perm)
    {
        var rng = new Random(LayoutShapes.Seed(dims));
        var x = TestData.Floats(rng, new TensorShape(dims), -4, 4);
        var g = new OnnxGraphBuilder("Transpose").Input("X", x);
        if (perm is not null)
        {
            g.Attr("perm", LayoutShapes.Longs(perm));
        }
        var expected = g.Run();
        var y = TestData.Poisoned(Reference.TransposeOutputShape(x.Shape, perm));
        Reference.Transpose(x, perm, y);
        Compare.Exact(expected, y, $"Transpose X={x.Shape} perm={(perm is null ? "default" : LayoutShapes.Fmt(perm))}");
    }

    [Test]
    public void ByHand()
    {
        var x = Tensor.FromArray([1f, 2f, 3f, 4f, 5f, 6f], 2, 3);
        var y = Tensor.Allocate(3, 2);
        Reference.Transpose(x, null, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 1f, 4f, 2f, 5f, 3f, 6f }));

        // NCHW [1,2,1,2] → NHWC [1,1,2,2]: x[0,c,0,w] = 10c + w.
        var nchw = Tensor.FromArray([0f, 1f, 10f, 11f], 1, 2, 1, 2);
        var nhwc = Tensor.Allocate(1, 1, 2, 2);
        Reference.Transpose(nchw, [0, 2, 3, 1], nhwc);
        Assert.That(nhwc.ToArray(), Is.EqualTo(new[] { 0f, 10f, 1f, 11f }));
    }

    [TestCase(new[] { 0, 0, 1 })]
    [TestCase(new[] { 0, 1, 3 })]
    [TestCase(new[] { 0, 1 })]
    [TestCase(new[] { -1, 0, 1 })]
    public void BadPermThrows(int[] perm)
    {
        var ex = Assert.Throws<InvalidHyperparameterException>(() => Reference.TransposeOutputShape(TensorShape.Of(2, 3, 4), perm));
        Assert.That(ex!.Message, Does.Contain(LayoutShapes.Fmt(perm)).And.Contain("[2,3,4]"));
    }

    [Test]
    public void WrongOutputShapeThrows()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => Reference.Transpose(Tensor.Allocate(2, 3), null, Tensor.Allocate(2, 3)));
        Assert.That(ex!.Message, Does.Contain("[3,2]").And.Contain("[2,3]"));
    }
}
