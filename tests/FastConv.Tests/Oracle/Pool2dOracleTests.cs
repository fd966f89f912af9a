using FastConv.Cpu;
using FastConv.Ops;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>MaxPool2d of the reference against ONNX Runtime <c>MaxPool</c> (opset 17, with dilations), and by hand.</summary>
public sealed class MaxPool2dOracleTests
{
    public static IEnumerable<TestCaseData> Cases() => ConvShapes.AsTestCases("MaxPool2d", ConvShapes.Pool(seed: 401, dilation: true));

    [TestCaseSource(nameof(Cases))]
    public void MatchesOnnxRuntime(PoolCase c)
    {
        var rng = new Random(ConvOnnx.Seed(c.ToString()));
        // Negative values too, so a padded position wrongly read as 0 would win some windows.
        var x = TestData.Ints(rng, c.X, -20, 5);
        var expected = ConvOnnx.MaxPool(x, c.P);
        var y = TestData.Poisoned(Reference.Pool2dOutputShape(c.X, c.P, "MaxPool2d"));
        Reference.MaxPool2d(x, c.P, y);
        Compare.Exact(expected, y, $"MaxPool2d {c}");
    }

    private static Tensor X3x3 => Tensor.FromArray([1, 2, 3, 4, 5, 6, 7, 8, 9], 1, 1, 3, 3);

    [Test]
    public void ByHand2x2Stride1()
    {
        var y = TestData.Poisoned(TensorShape.Of(1, 1, 2, 2));
        Reference.MaxPool2d(X3x3, Pool2dParams.Create(2), y);
        Assert.That(y.ToArray(), Is.EqualTo(new float[] { 5, 6, 8, 9 }));
    }

    [Test]
    public void ByHandCeilModeKeepsThePartialWindow()
    {
        // 2x2 stride 2 on 3x3: floor mode has one window; ceil mode adds the partial windows at row/col 2.
        var floor = TestData.Poisoned(TensorShape.Of(1, 1, 1, 1));
        Reference.MaxPool2d(X3x3, Pool2dParams.Create(2, stride: 2), floor);
        var ceil = TestData.Poisoned(TensorShape.Of(1, 1, 2, 2));
        Reference.MaxPool2d(X3x3, Pool2dParams.Create(2, stride: 2, ceilMode: true), ceil);
        Assert.Multiple(() =>
        {
            Assert.That(floor.ToArray(), Is.EqualTo(new float[] { 5 }));
            Assert.That(ceil.ToArray(), Is.EqualTo(new float[] { 5, 6, 8, 9 }));
        });
    }

    [Test]
    public void ByHandPaddingIsNotZero()
    {
        // All-negative input, pad 1: the padding must not win (it is skipped, not read as 0).
        var x = Tensor.FromArray([-1, -2, -3, -4, -5, -6, -7, -8, -9], 1, 1, 3, 3);
        var y = TestData.Poisoned(TensorShape.Of(1, 1, 2, 2));
        Reference.MaxPool2d(x, Pool2dParams.Create(2, stride: 2, pad: 1), y);
        Assert.That(y.ToArray(), Is.EqualTo(new float[] { -1, -2, -4, -5 }));
    }

    [Test]
    public void ByHandDilation2()
    {
        // A 2x2 window dilated by 2 sees the corners 1, 3, 7, 9 of the 3x3 input.
        var x = Tensor.FromArray([1, 20, 3, 40, 50, 60, 7, 80, 9], 1, 1, 3, 3);
        var y = TestData.Poisoned(TensorShape.Of(1, 1, 1, 1));
        Reference.MaxPool2d(x, Pool2dParams.Create(2, dilation: 2), y);
        Assert.That(y.ToArray(), Is.EqualTo(new float[] { 9 }));
    }
}

/// <summary>AvgPool2d of the reference against ONNX Runtime <c>AveragePool</c> (opset 17, no dilations), and by hand.</summary>
public sealed class AvgPool2dOracleTests
{
    public static IEnumerable<TestCaseData> Cases() => ConvShapes.AsTestCases("AvgPool2d", ConvShapes.Pool(seed: 501, dilation: false));

    [TestCaseSource(nameof(Cases))]
    public void MatchesOnnxRuntime(PoolCase c)
    {
        var rng = new Random(ConvOnnx.Seed(c.ToString()));
        var x = TestData.Ints(rng, c.X, -5, 5);
        var expected = ConvOnnx.AvgPool(x, c.P);
        var y = TestData.Poisoned(Reference.Pool2dOutputShape(c.X, c.P, "AvgPool2d"));
        Reference.AvgPool2d(x, c.P, y);
        // The sum of at most 49 small integers is exact; the one division by the count is correctly
        // rounded in both (ORT divides the exact sum by the same count), so the results are identical.
        Compare.Exact(expected, y, $"AvgPool2d {c}");
    }

    private static Tensor X3x3 => Tensor.FromArray([1, 2, 3, 4, 5, 6, 7, 8, 9], 1, 1, 3, 3);

    [Test]
    public void ByHandPad1ExcludingPadding()
    {
        // 2x2 stride 2 pad 1: windows {1}, {2,3}, {4,7}, {5,6,8,9}, each divided by its real count.
        var y = TestData.Poisoned(TensorShape.Of(1, 1, 2, 2));
        Reference.AvgPool2d(X3x3, Pool2dParams.Create(2, stride: 2, pad: 1), y);
        Assert.That(y.ToArray(), Is.EqualTo(new float[] { 1, 2.5f, 5.5f, 7 }));
    }

    [Test]
    public void CeilModeCountIncludePadDividesByTheWindowClippedToThePaddedInput()
    {
        // Ones 4x4, kernel 3, stride 2, pad 1, ceil mode: P = ceil((4 + 2 − 3) / 2) + 1 = 3 windows per axis,
        // starting at rows −1, 1, 3. The last one covers row 3 (real), row 4 (end padding) and row 5, which
        // is past the padded input. Per axis the real counts are [2, 3, 1] and the counts clipped to the
        // padded input [−1, 5) are [3, 3, 2]; ORT 1.31 divides by the clipped count (2·2 = 4 for the corner,
        // not R·S = 9), like PyTorch. Checked here against ORT itself and against the reference.
        var x = Tensor.FromArray(Enumerable.Repeat(1f, 16).ToArray(), 1, 1, 4, 4);
        var p = Pool2dParams.Create(3, stride: 2, pad: 1, ceilMode: true, countIncludePad: true);
        var expected = new float[] { 4f / 9, 6f / 9, 2f / 6, 6f / 9, 9f / 9, 3f / 6, 2f / 6, 3f / 6, 1f / 4 };
        var y = TestData.Poisoned(TensorShape.Of(1, 1, 3, 3));
        Reference.AvgPool2d(x, p, y);
        Assert.Multiple(() =>
        {
            Assert.That(ConvOnnx.AvgPool(x, p).ToArray(), Is.EqualTo(expected), "ONNX Runtime");
            Assert.That(y.ToArray(), Is.EqualTo(expected), "reference");
        });
    }

    [Test]
    public void ByHandPad1IncludingPadding()
    {
        // Same windows, each divided by 4 (the padding counts).
        var y = TestData.Poisoned(TensorShape.Of(1, 1, 2, 2));
        Reference.AvgPool2d(X3x3, Pool2dParams.Create(2, stride: 2, pad: 1, countIncludePad: true), y);
        Assert.That(y.ToArray(), Is.EqualTo(new float[] { 0.25f, 1.25f, 2.75f, 7 }));
    }
}
