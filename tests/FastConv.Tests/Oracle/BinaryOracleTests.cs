using FastConv.Cpu;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>Add, Sub, Mul, Div (NumPy broadcasting) of the reference against ONNX Runtime, and by hand.</summary>
public sealed class BinaryOracleTests
{
    public static IEnumerable<TestCaseData> AddPairs() => ElementwiseShapes.BinaryPairs("Add", seed: 214);
    public static IEnumerable<TestCaseData> SubPairs() => ElementwiseShapes.BinaryPairs("Sub", seed: 215);
    public static IEnumerable<TestCaseData> MulPairs() => ElementwiseShapes.BinaryPairs("Mul", seed: 216);
    public static IEnumerable<TestCaseData> DivPairs() => ElementwiseShapes.BinaryPairs("Div", seed: 217);

    [TestCaseSource(nameof(AddPairs))]
    public void AddMatchesOnnxRuntime(int[] a, int[] b) => Check("Add", a, b, Reference.Add);

    [TestCaseSource(nameof(SubPairs))]
    public void SubMatchesOnnxRuntime(int[] a, int[] b) => Check("Sub", a, b, Reference.Sub);

    [TestCaseSource(nameof(MulPairs))]
    public void MulMatchesOnnxRuntime(int[] a, int[] b) => Check("Mul", a, b, Reference.Mul);

    [TestCaseSource(nameof(DivPairs))]
    public void DivMatchesOnnxRuntime(int[] a, int[] b) => Check("Div", a, b, Reference.Div);

    private static void Check(string op, int[] aDims, int[] bDims, Action<Tensor, Tensor, Tensor> reference)
    {
        var rng = new Random(aDims.Concat([-1]).Concat(bDims).Aggregate(op.Length * 71, (h, d) => h * 31 + d));
        TensorShape aShape = new(aDims), bShape = new(bDims);
        TensorShape outShape = Broadcast.BroadcastShape(aShape, bShape);
        string problem = $"{op} A={aShape} B={bShape} -> {outShape}";
        // Each output is ONE IEEE float32 operation on two inputs, correctly rounded in any correct implementation,
        // so the results match bit for bit — for integer-valued inputs and for arbitrary floats alike.
        foreach (bool ints in new[] { true, false })
        {
            var a = ints ? TestData.Ints(rng, aShape, -9, 9) : TestData.Floats(rng, aShape, -4, 4);
            var b = ints ? TestData.Ints(rng, bShape, -9, 9) : TestData.Floats(rng, bShape, -4, 4);
            if (op == "Div")
            {
                // No zero divisors: shift each b away from 0 keeping its sign (|b| ≥ 0.5).
                Span<float> s = b.Span;
                for (int i = 0; i < s.Length; i++)
                {
                    s[i] = s[i] >= 0 ? s[i] + 0.5f : s[i] - 0.5f;
                }
            }
            var expected = new OnnxGraphBuilder(op, opset: 14).Input("A", a).Input("B", b).Run();
            var y = TestData.Poisoned(outShape);
            reference(a, b, y);
            Compare.Exact(expected, y, $"{problem} ({(ints ? "integer-valued" : "float")})");
        }
    }

    [Test]
    public void ByHand()
    {
        // A [2,1] = {{1},{2}}, B [3] = {10, 20, 30}: broadcast to [2,3].
        var a = Tensor.FromArray([1f, 2f], 2, 1);
        var b = Tensor.FromArray([10f, 20f, 30f], 3);
        var y = Tensor.Allocate(2, 3);
        Reference.Add(a, b, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 11f, 21f, 31f, 12f, 22f, 32f }));
        Reference.Sub(a, b, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { -9f, -19f, -29f, -8f, -18f, -28f }));
        Reference.Mul(a, b, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 10f, 20f, 30f, 20f, 40f, 60f }));
        Reference.Div(b, a, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 10f, 20f, 30f, 5f, 10f, 15f }));
        // Scalar (rank 0) with a tensor.
        var s = Tensor.FromArray([2f]).Reshape(TensorShape.Of());
        var y3 = Tensor.Allocate(3);
        Reference.Mul(b, s, y3);
        Assert.That(y3.ToArray(), Is.EqualTo(new[] { 20f, 40f, 60f }));
    }

    [Test]
    public void SpecialValues()
    {
        float nan = float.NaN, inf = float.PositiveInfinity;
        var a = Tensor.FromArray([nan, inf, inf, -0f, 0f, 1f, -1f, 0f], 8);
        var b = Tensor.FromArray([1f, inf, -inf, 0f, -0f, 0f, 0f, 0f], 8);
        var y = Tensor.Allocate(8);
        Reference.Add(a, b, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { nan, inf, nan, 0f, 0f, 1f, -1f, 0f }));
        Assert.That(float.IsNegative(y.Span[3]), Is.False, "-0 + 0 = +0");
        Reference.Sub(a, b, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { nan, nan, inf, -0f, 0f, 1f, -1f, 0f }));
        Assert.That(float.IsNegative(y.Span[3]), Is.True, "-0 - 0 = -0");
        Reference.Mul(a, b, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { nan, inf, -inf, -0f, -0f, 0f, -0f, 0f }));
        Assert.That(float.IsNegative(y.Span[4]) && float.IsNegative(y.Span[6]), Is.True, "0·-0 = -0 and -1·0 = -0");
        Reference.Div(a, b, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { nan, nan, nan, nan, nan, inf, -inf, nan }));
    }

    [Test]
    public void IncompatibleShapesThrow()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => Reference.Add(Tensor.Allocate(2, 3), Tensor.Allocate(4), Tensor.Allocate(2, 3)));
        Assert.That(ex!.Message, Does.Contain("[2,3]").And.Contain("[4]").And.Contain("Add"));
        var ex2 = Assert.Throws<InvalidShapeException>(() => Broadcast.BroadcastShape(TensorShape.Of(5, 2, 3), TensorShape.Of(2, 1, 4, 3), "Mul"));
        Assert.That(ex2!.Message, Does.Contain("[5,2,3]").And.Contain("[2,1,4,3]").And.Contain("Mul"));
    }

    [Test]
    public void WrongOutputShapeThrows()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => Reference.Div(Tensor.Allocate(2, 1), Tensor.Allocate(3), Tensor.Allocate(2, 1)));
        Assert.That(ex!.Message, Does.Contain("[2,3]").And.Contain("[2,1]"));
    }

    [TestCase(new int[0], new[] { 3, 4 }, new[] { 3, 4 })]
    [TestCase(new[] { 1 }, new int[0], new[] { 1 })]
    [TestCase(new[] { 2, 1, 4 }, new[] { 3, 1 }, new[] { 2, 3, 4 })]
    [TestCase(new[] { 0, 1 }, new[] { 5 }, new[] { 0, 5 })]
    [TestCase(new[] { 1, 6 }, new[] { 7, 1, 1 }, new[] { 7, 1, 6 })]
    public void BroadcastShapeByHand(int[] a, int[] b, int[] expected)
    {
        Assert.That(Broadcast.BroadcastShape(new TensorShape(a), new TensorShape(b)), Is.EqualTo(new TensorShape(expected)));
        Assert.That(Broadcast.BroadcastShape(new TensorShape(b), new TensorShape(a)), Is.EqualTo(new TensorShape(expected)));
    }
}
