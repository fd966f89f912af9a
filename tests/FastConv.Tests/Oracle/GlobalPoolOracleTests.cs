using FastConv.Cpu;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>GlobalAveragePool and GlobalMaxPool of the reference against ONNX Runtime, and by hand.</summary>
public sealed class GlobalPoolOracleTests
{
    public static IEnumerable<TestCaseData> AvgShapes() => Named("GlobalAveragePool", 601);

    public static IEnumerable<TestCaseData> MaxShapes() => Named("GlobalMaxPool", 602);

    private static IEnumerable<TestCaseData> Named(string op, int seed)
        => ConvShapes.Global(seed).Select((d, i) => new TestCaseData(d).SetName($"{op}(X=[{string.Join(",", d)}]) #{i}"));

    [TestCaseSource(nameof(AvgShapes))]
    public void GlobalAveragePoolMatchesOnnxRuntime(int[] dims)
    {
        var shape = new TensorShape(dims);
        var x = TestData.Ints(new Random(ConvOnnx.Seed(shape.ToString())), shape, -9, 9);
        var expected = new OnnxGraphBuilder("GlobalAveragePool").Input("X", x).Run();
        var y = TestData.Poisoned(TensorShape.Of(dims[0], dims[1], 1, 1));
        Reference.GlobalAveragePool(x, y);
        // Integer sums (at most 400 terms of |v| ≤ 9) are exact; one correctly rounded division by H·W.
        Compare.Exact(expected, y, $"GlobalAveragePool X={shape}");
    }

    [TestCaseSource(nameof(MaxShapes))]
    public void GlobalMaxPoolMatchesOnnxRuntime(int[] dims)
    {
        var shape = new TensorShape(dims);
        var x = TestData.Floats(new Random(ConvOnnx.Seed(shape.ToString())), shape, -9, 9);
        var expected = new OnnxGraphBuilder("GlobalMaxPool").Input("X", x).Run();
        var y = TestData.Poisoned(TensorShape.Of(dims[0], dims[1], 1, 1));
        Reference.GlobalMaxPool(x, y);
        // A max is exact for any floats.
        Compare.Exact(expected, y, $"GlobalMaxPool X={shape}");
    }

    [Test]
    public void ByHand()
    {
        var x = Tensor.FromArray([1, 2, 3, 4, -1, -2, -3, -6], 1, 2, 2, 2);
        var avg = TestData.Poisoned(TensorShape.Of(1, 2, 1, 1));
        var max = TestData.Poisoned(TensorShape.Of(1, 2, 1, 1));
        Reference.GlobalAveragePool(x, avg);
        Reference.GlobalMaxPool(x, max);
        Assert.Multiple(() =>
        {
            Assert.That(avg.ToArray(), Is.EqualTo(new float[] { 2.5f, -3 }));
            Assert.That(max.ToArray(), Is.EqualTo(new float[] { 4, -1 }));
        });
    }

    [Test]
    public void WrongShapesThrow()
    {
        var ex1 = Assert.Throws<InvalidShapeException>(() => Reference.GlobalAveragePool(Tensor.Allocate(2, 3, 4), Tensor.Allocate(2, 3, 1)));
        var ex2 = Assert.Throws<InvalidShapeException>(() => Reference.GlobalMaxPool(Tensor.Allocate(2, 3, 4, 5), Tensor.Allocate(2, 3, 1, 2)));
        Assert.Multiple(() =>
        {
            Assert.That(ex1!.Message, Does.Contain("rank 3").And.Contain("[2,3,4]"));
            Assert.That(ex2!.Message, Does.Contain("[2,3,4,5]").And.Contain("[2,3,1,1]").And.Contain("[2,3,1,2]"));
        });
    }
}
