using FastConv.Cpu;
using FastConv.Ops;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>ConvTranspose2d of the reference against ONNX Runtime <c>ConvTranspose</c> (opset 17), and by hand.</summary>
public sealed class ConvTranspose2dOracleTests
{
    public static IEnumerable<TestCaseData> Cases() => ConvShapes.AsTestCases("ConvTranspose2d", ConvShapes.ConvTranspose(seed: 301));

    [TestCaseSource(nameof(Cases))]
    public void MatchesOnnxRuntime(ConvTransposeCase c)
    {
        var rng = new Random(ConvOnnx.Seed(c.ToString()));
        var x = TestData.Ints(rng, c.X, -3, 3);
        var w = TestData.Ints(rng, c.Wt, -2, 2);
        var b = c.Bias ? TestData.Ints(rng, c.B, -5, 5) : null;
        var expected = ConvOnnx.ConvTranspose(x, w, b, c.P);
        var y = TestData.Poisoned(Reference.ConvTranspose2dOutputShape(c.X, c.Wt, c.P, b?.Shape));
        Reference.ConvTranspose2d(x, w, b, c.P, y);
        // Small integers: exact in any summation order.
        Compare.Exact(expected, y, $"ConvTranspose2d {c}");
    }

    private static Tensor X2x2 => Tensor.FromArray([1, 2, 3, 4], 1, 1, 2, 2);
    private static Tensor Ones2x2 => Tensor.FromArray([1, 1, 1, 1], 1, 1, 2, 2);

    [Test]
    public void ByHandStride1()
    {
        // Every input element stamps the all-ones 2x2 kernel at its position; overlaps add.
        var y = TestData.Poisoned(TensorShape.Of(1, 1, 3, 3));
        Reference.ConvTranspose2d(X2x2, Ones2x2, null, ConvTranspose2dParams.Create(), y);
        Assert.That(y.ToArray(), Is.EqualTo(new float[] { 1, 3, 2, 4, 10, 6, 3, 7, 4 }));
    }

    [Test]
    public void ByHandStride2()
    {
        // Stride 2 = kernel size: the stamps tile the output without overlap.
        var y = TestData.Poisoned(TensorShape.Of(1, 1, 4, 4));
        Reference.ConvTranspose2d(X2x2, Ones2x2, null, ConvTranspose2dParams.Create(stride: 2), y);
        Assert.That(y.ToArray(), Is.EqualTo(new float[] { 1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4 }));
    }

    [Test]
    public void ByHandPadsCropTheBorder()
    {
        // Same as stride 2, then pad 1 removes one row/column on every side: 4x4 → 2x2.
        var y = TestData.Poisoned(TensorShape.Of(1, 1, 2, 2));
        Reference.ConvTranspose2d(X2x2, Ones2x2, null, ConvTranspose2dParams.Create(stride: 2, pad: 1), y);
        Assert.That(y.ToArray(), Is.EqualTo(new float[] { 1, 2, 3, 4 }));
    }

    [Test]
    public void ByHandOutputPaddingHoldsOnlyTheBias()
    {
        // Stride 2, output padding 1: a 5th row and column nothing reaches, which hold the bias 10.
        var b = Tensor.FromArray([10], 1);
        var y = TestData.Poisoned(TensorShape.Of(1, 1, 5, 5));
        Reference.ConvTranspose2d(X2x2, Ones2x2, b, ConvTranspose2dParams.Create(stride: 2, outputPadding: 1), y);
        Assert.That(y.ToArray(), Is.EqualTo(new float[]
        {
            11, 11, 12, 12, 10,
            11, 11, 12, 12, 10,
            13, 13, 14, 14, 10,
            13, 13, 14, 14, 10,
            10, 10, 10, 10, 10,
        }));
    }
}
