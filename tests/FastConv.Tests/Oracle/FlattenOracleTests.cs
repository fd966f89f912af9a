using FastConv.Cpu;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>Flatten of the reference against ONNX Runtime, by hand, and on invalid inputs.</summary>
public sealed class FlattenOracleTests
{
    public static IEnumerable<TestCaseData> Cases()
    {
        var rng = new Random(202);
        for (int n = 0; n < OracleShapes.CasesPerOp; n++)
        {
            int rank = 1 + n % 5;
            // Every axis in [-r, r] over the cases of each rank.
            int axis = (n / 5) % (2 * rank + 1) - rank;
            int[] dims = LayoutShapes.RandomDims(rng, rank, 1, 7);
            yield return new TestCaseData(dims, axis).SetName($"Flatten(X={LayoutShapes.Fmt(dims)}, axis={axis}) #{n}");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesOnnxRuntime(int[] dims, int axis)
    {
        var rng = new Random(LayoutShapes.Seed([.. dims, axis]));
        var x = TestData.Floats(rng, new TensorShape(dims), -4, 4);
        var expected = new OnnxGraphBuilder("Flatten").Input("X", x).Attr("axis", (long)axis).Run();
        var y = TestData.Poisoned(Reference.FlattenOutputShape(x.Shape, axis));
        Reference.Flatten(x, axis, y);
        Compare.Exact(expected, y, $"Flatten X={x.Shape} axis={axis}");
    }

    [Test]
    public void ByHand()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Reference.FlattenOutputShape(TensorShape.Of(2, 3, 4), 2), Is.EqualTo(TensorShape.Of(6, 4)));
            Assert.That(Reference.FlattenOutputShape(TensorShape.Of(2, 3, 4), 0), Is.EqualTo(TensorShape.Of(1, 24)));
            Assert.That(Reference.FlattenOutputShape(TensorShape.Of(2, 3, 4), 3), Is.EqualTo(TensorShape.Of(24, 1)));
            Assert.That(Reference.FlattenOutputShape(TensorShape.Of(2, 3, 4), -1), Is.EqualTo(TensorShape.Of(6, 4)));
            Assert.That(Reference.FlattenOutputShape(TensorShape.Of(2, 3, 4), -3), Is.EqualTo(TensorShape.Of(1, 24)));
        });
        var x = Tensor.FromArray([1f, 2f, 3f, 4f, 5f, 6f], 1, 2, 3);
        var y = Tensor.Allocate(2, 3);
        Reference.Flatten(x, 2, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 1f, 2f, 3f, 4f, 5f, 6f }));
    }

    [TestCase(4)]
    [TestCase(-4)]
    public void AxisOutOfRangeThrows(int axis)
    {
        var ex = Assert.Throws<InvalidHyperparameterException>(() => Reference.FlattenOutputShape(TensorShape.Of(2, 3, 4), axis));
        Assert.That(ex!.Message, Does.Contain($"axis {axis}").And.Contain("[2,3,4]"));
    }

    [Test]
    public void WrongOutputShapeThrows()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => Reference.Flatten(Tensor.Allocate(2, 3, 4), 1, Tensor.Allocate(6, 4)));
        Assert.That(ex!.Message, Does.Contain("[2,12]").And.Contain("[6,4]").And.Contain("[2,3,4]"));
    }
}
