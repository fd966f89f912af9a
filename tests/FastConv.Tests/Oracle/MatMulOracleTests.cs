using FastConv.Cpu;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>MatMul (NumPy semantics) of the reference against ONNX Runtime, and by hand.</summary>
public sealed class MatMulOracleTests
{
    /// <summary>
    /// 60 problems cycling through the kinds: 1-D·1-D, 1-D·2-D, 2-D·1-D, 2-D·2-D, same batches, broadcast
    /// batches (different ranks and size-1 batch dims on both sides), 1-D·batched, batched·1-D.
    /// </summary>
    public static IEnumerable<TestCaseData> Cases()
    {
        var rng = new Random(213);
        for (int n = 0; n < OracleShapes.CasesPerOp; n++)
        {
            int m = rng.Next(1, 12), k = n == 5 ? 300 : rng.Next(1, 12), nn = rng.Next(1, 12);
            int[] batch = new int[rng.Next(1, 4)];
            for (int i = 0; i < batch.Length; i++)
            {
                batch[i] = rng.Next(1, 5);
            }
            int[] Mat(int r, int c, int[] b) => [.. b, r, c];
            (int[] a, int[] b) = (n % 8) switch
            {
                0 => ([k], [k]),
                1 => ([k], [k, nn]),
                2 => ([m, k], [k]),
                3 => ([m, k], [k, nn]),
                4 => (Mat(m, k, batch), Mat(k, nn, batch)),
                5 => (Mat(m, k, ElementwiseShapes.BroadcastableTo(rng, batch)), Mat(k, nn, ElementwiseShapes.BroadcastableTo(rng, batch))),
                6 => ([k], Mat(k, nn, batch)),
                _ => (Mat(m, k, batch), [k]),
            };
            yield return new TestCaseData(a, b).SetName($"MatMul(A={ElementwiseShapes.Format(a)}, B={ElementwiseShapes.Format(b)}) #{n}");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesOnnxRuntime(int[] aDims, int[] bDims)
    {
        var rng = new Random(aDims.Concat(bDims).Aggregate(67, (h, d) => h * 31 + d));
        TensorShape aShape = new(aDims), bShape = new(bDims);
        int k = aDims[^1];
        string problem = $"MatMul A={aShape} B={bShape} -> {Reference.MatMulOutputShape(aShape, bShape)}";

        // Small integers: every product and partial sum is an integer below 2^24, exact in float32.
        var a = TestData.Ints(rng, aShape);
        var b = TestData.Ints(rng, bShape);
        Compare.Exact(new OnnxGraphBuilder("MatMul", opset: 13).Input("A", a).Input("B", b).Run(), Run(a, b), $"{problem} (integer-valued)");

        // Floats: a K-term dot product in any order is within γ_K·Σ|a·b| of the exact value (Higham §3.1), two of
        // them within 2γ_K·Σ|a·b|; Σ|a·b| is the reference run on absolute values.
        var af = TestData.Floats(rng, aShape);
        var bf = TestData.Floats(rng, bShape);
        var magnitude = Run(TestData.Abs(af), TestData.Abs(bf));
        Compare.Close(new OnnxGraphBuilder("MatMul", opset: 13).Input("A", af).Input("B", bf).Run(), Run(af, bf), $"{problem} (float)", Tolerance.Accumulation(k, magnitude));
    }

    private static Tensor Run(Tensor a, Tensor b)
    {
        var y = TestData.Poisoned(Reference.MatMulOutputShape(a.Shape, b.Shape));
        Reference.MatMul(a, b, y);
        return y;
    }

    [Test]
    public void ByHand()
    {
        // [3]·[3] is a dot product of rank 0: 1·4 + 2·5 + 3·6 = 32.
        var v = Tensor.FromArray([1f, 2f, 3f], 3);
        var w = Tensor.FromArray([4f, 5f, 6f], 3);
        Assert.That(Reference.MatMulOutputShape(v.Shape, w.Shape), Is.EqualTo(TensorShape.Of()));
        var s = Tensor.Allocate(TensorShape.Of());
        Reference.MatMul(v, w, s);
        Assert.That(s.ToArray(), Is.EqualTo(new[] { 32f }));
        // [2,3]·[3] = [2]: rows {1,2,3}·{4,5,6} = 32, {0,1,0}·… = 5.
        var m = Tensor.FromArray([1f, 2f, 3f, 0f, 1f, 0f], 2, 3);
        var y = Tensor.Allocate(2);
        Reference.MatMul(m, w, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 32f, 5f }));
        // [3]·[3,2] = [2]: {1,2,3}·columns {1,0,1} and {0,1,-1} = 4, -1.
        var b = Tensor.FromArray([1f, 0f, 0f, 1f, 1f, -1f], 3, 2);
        Reference.MatMul(v, b, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 4f, -1f }));
        // Broadcast batch: A [2,1,3] (two row vectors) · B [3,2] (shared) = [2,1,2].
        var a3 = Tensor.FromArray([1f, 2f, 3f, 0f, 0f, 1f], 2, 1, 3);
        Assert.That(Reference.MatMulOutputShape(a3.Shape, b.Shape), Is.EqualTo(TensorShape.Of(2, 1, 2)));
        var y3 = Tensor.Allocate(2, 1, 2);
        Reference.MatMul(a3, b, y3);
        Assert.That(y3.ToArray(), Is.EqualTo(new[] { 4f, -1f, 1f, -1f }));
        // Batch dims of both sides stretch: [2,1,1,3]·[3,3,1] → [2,3,1,1].
        Assert.That(Reference.MatMulOutputShape(TensorShape.Of(2, 1, 1, 3), TensorShape.Of(3, 3, 1)), Is.EqualTo(TensorShape.Of(2, 3, 1, 1)));
        // NaN propagates to its row only.
        var mn = Tensor.FromArray([float.NaN, 0f, 0f, 0f, 1f, 0f], 2, 3);
        Reference.MatMul(mn, w, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { float.NaN, 5f }));
    }

    [Test]
    public void InnerDimensionMismatchThrows()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => Reference.MatMulOutputShape(TensorShape.Of(2, 3), TensorShape.Of(4, 5)));
        Assert.That(ex!.Message, Does.Contain("[2,3]").And.Contain("[4,5]"));
        var ex2 = Assert.Throws<InvalidShapeException>(() => Reference.MatMul(Tensor.Allocate(3), Tensor.Allocate(4), Tensor.Allocate(TensorShape.Of())));
        Assert.That(ex2!.Message, Does.Contain("[3]").And.Contain("[4]"));
    }

    [Test]
    public void BatchMismatchThrows()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => Reference.MatMulOutputShape(TensorShape.Of(2, 4, 3), TensorShape.Of(3, 3, 5)));
        Assert.That(ex!.Message, Does.Contain("[2,4,3]").And.Contain("[3,3,5]"));
    }

    [Test]
    public void WrongOutputShapeThrows()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => Reference.MatMul(Tensor.Allocate(2, 3), Tensor.Allocate(3, 4), Tensor.Allocate(4, 2)));
        Assert.That(ex!.Message, Does.Contain("[2,4]").And.Contain("[4,2]"));
    }
}
