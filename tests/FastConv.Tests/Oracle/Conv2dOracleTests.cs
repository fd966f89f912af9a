using FastConv.Cpu;
using FastConv.Ops;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>Conv2d of the reference against ONNX Runtime <c>Conv</c> (opset 17), and by hand.</summary>
public sealed class Conv2dOracleTests
{
    public static IEnumerable<TestCaseData> Cases() => ConvShapes.AsTestCases("Conv2d", ConvShapes.Conv(seed: 201));

    public static IEnumerable<TestCaseData> FloatCases() => ConvShapes.AsTestCases("Conv2dFloat", ConvShapes.Conv(seed: 202, count: 24));

    [TestCaseSource(nameof(Cases))]
    public void MatchesOnnxRuntime(ConvCase c)
    {
        var rng = new Random(ConvOnnx.Seed(c.ToString()));
        var x = TestData.Ints(rng, c.X, -3, 3);
        var w = TestData.Ints(rng, c.Wt, -2, 2);
        var b = c.Bias ? TestData.Ints(rng, c.B, -5, 5) : null;
        var expected = ConvOnnx.Conv(x, w, b, c.P);
        var y = TestData.Poisoned(Reference.Conv2dOutputShape(c.X, c.Wt, c.P, b?.Shape));
        Reference.Conv2d(x, w, b, c.P, y);
        // Small integers: every product and partial sum is an integer below 2^24, exact in any order.
        Compare.Exact(expected, y, $"Conv2d {c}");
    }

    [TestCaseSource(nameof(FloatCases))]
    public void MatchesOnnxRuntimeOnFloats(ConvCase c)
    {
        var rng = new Random(ConvOnnx.Seed(c.ToString()));
        var x = TestData.Floats(rng, c.X, -1, 1);
        var w = TestData.Floats(rng, c.Wt, -1, 1);
        var b = c.Bias ? TestData.Floats(rng, c.B, -1, 1) : null;
        var expected = ConvOnnx.Conv(x, w, b, c.P);
        var outShape = Reference.Conv2dOutputShape(c.X, c.Wt, c.P, b?.Shape);
        var y = TestData.Poisoned(outShape);
        Reference.Conv2d(x, w, b, c.P, y);
        // Each output is a sum of n = (C/groups)·R·S products plus the bias. Summed in any order (ORT uses
        // im2col + blocked SGEMM with FMA, the reference a plain loop), each result is within γ_n·Σ|terms|
        // of the exact value, so the two differ by at most 2·γ_n·Σ|terms|; Σ|terms| per output is the
        // reference conv on |x|, |w|, |bias| (every term counted, padding contributing nothing).
        var magnitude = Tensor.Allocate(outShape);
        Reference.Conv2d(TestData.Abs(x), TestData.Abs(w), b is null ? null : TestData.Abs(b), c.P, magnitude);
        int n = c.C / c.P.Groups * c.R * c.S + 1;
        Compare.Close(expected, y, $"Conv2d floats {c}", Tolerance.Accumulation(n, magnitude));
    }

    [Test]
    public void ByHand2x2KernelOn3x3Input()
    {
        // x = 1..9 (3x3), w = [[1,2],[3,4]], bias 1: y[p,q] = x[p,q] + 2x[p,q+1] + 3x[p+1,q] + 4x[p+1,q+1] + 1.
        var x = Tensor.FromArray([1, 2, 3, 4, 5, 6, 7, 8, 9], 1, 1, 3, 3);
        var w = Tensor.FromArray([1, 2, 3, 4], 1, 1, 2, 2);
        var b = Tensor.FromArray([1], 1);
        var y = TestData.Poisoned(TensorShape.Of(1, 1, 2, 2));
        Reference.Conv2d(x, w, b, Conv2dParams.Create(), y);
        Assert.That(y.ToArray(), Is.EqualTo(new float[] { 38, 48, 68, 78 }));
    }

    [Test]
    public void ByHandStride2Pad1()
    {
        // All-ones 2x2 kernel, pad 1, stride 2 on 1..9: windows rows/cols {-1,0} and {1,2}.
        var x = Tensor.FromArray([1, 2, 3, 4, 5, 6, 7, 8, 9], 1, 1, 3, 3);
        var w = Tensor.FromArray([1, 1, 1, 1], 1, 1, 2, 2);
        var y = TestData.Poisoned(TensorShape.Of(1, 1, 2, 2));
        Reference.Conv2d(x, w, null, Conv2dParams.Create(stride: 2, pad: 1), y);
        Assert.That(y.ToArray(), Is.EqualTo(new float[] { 1, 2 + 3, 4 + 7, 5 + 6 + 8 + 9 }));
    }

    [Test]
    public void ByHandDilation2()
    {
        // A 2x2 kernel dilated by 2 touches the four corners of the 3x3 input: 1·1 + 2·3 + 3·7 + 4·9.
        var x = Tensor.FromArray([1, 2, 3, 4, 5, 6, 7, 8, 9], 1, 1, 3, 3);
        var w = Tensor.FromArray([1, 2, 3, 4], 1, 1, 2, 2);
        var y = TestData.Poisoned(TensorShape.Of(1, 1, 1, 1));
        Reference.Conv2d(x, w, null, Conv2dParams.Create(dilation: 2), y);
        Assert.That(y.ToArray(), Is.EqualTo(new float[] { 64 }));
    }

    [Test]
    public void ByHandGroups()
    {
        // groups = 2, 1x1 kernels 2 and 3: each output channel sees only its own input channel.
        var x = Tensor.FromArray([1, 2, 3, 4], 1, 2, 1, 2);
        var w = Tensor.FromArray([2, 3], 2, 1, 1, 1);
        var y = TestData.Poisoned(TensorShape.Of(1, 2, 1, 2));
        Reference.Conv2d(x, w, null, Conv2dParams.Create(groups: 2), y);
        Assert.That(y.ToArray(), Is.EqualTo(new float[] { 2, 4, 9, 12 }));
    }

    [Test]
    public void ByHandAsymmetricPadding()
    {
        // 1x1 kernel 1, pad top 1 and right 2: the input framed by zeros above and on the right.
        var x = Tensor.FromArray([1, 2, 3, 4], 1, 1, 2, 2);
        var w = Tensor.FromArray([1], 1, 1, 1, 1);
        var p = new Conv2dParams { Padding = new Padding2d(1, 0, 0, 2) };
        var y = TestData.Poisoned(TensorShape.Of(1, 1, 3, 4));
        Reference.Conv2d(x, w, null, p, y);
        Assert.That(y.ToArray(), Is.EqualTo(new float[] { 0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0 }));
    }
}
