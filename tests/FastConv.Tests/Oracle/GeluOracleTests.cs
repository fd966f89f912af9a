using FastConv.Cpu;
using FastConv.Ops;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>Gelu (opset 20, both approximate modes) of the reference against ONNX Runtime, and by hand.</summary>
public sealed class GeluOracleTests
{
    public static IEnumerable<TestCaseData> Shapes() => OracleShapes.Elementwise("Gelu(none)", seed: 208);
    public static IEnumerable<TestCaseData> TanhShapes() => OracleShapes.Elementwise("Gelu(tanh)", seed: 209);

    [TestCaseSource(nameof(Shapes))]
    public void MatchesOnnxRuntime(int[] dims) => Check(dims, GeluParams.Exact);

    [TestCaseSource(nameof(TanhShapes))]
    public void TanhApproximationMatchesOnnxRuntime(int[] dims) => Check(dims, GeluParams.TanhApproximation);

    private static void Check(int[] dims, GeluParams p)
    {
        var rng = new Random(dims.Aggregate(p.Approximate == GeluApproximation.Tanh ? 47 : 53, (h, d) => h * 31 + d));
        var shape = new TensorShape(dims);
        var x = TestData.Floats(rng, shape, -8, 8);
        var expected = new OnnxGraphBuilder("Gelu", opset: 20).Input("X", x).Attr("approximate", p.OnnxName).Run();
        var y = TestData.Poisoned(shape);
        Reference.Gelu(x, p, y);
        // The reference is correctly rounded (double erfc / exp, one rounding). ONNX Runtime evaluates
        // ½x·(1 + erf(·)) (resp. tanh) in float with MLAS's polynomial erf / tanh, whose error is a few u
        // ABSOLUTE (u = 2^-24); they saturate to -1 early, so Gelu(x) is flushed to -0 for x < -5.5 (none) and
        // x < -4.9 (tanh) where the true value is up to 8e-8 (resp. 4.4e-7). Scaled by ½|x| that is ≤ 4u·|x|
        // absolute; plus the final products' rounding. Measured over 600k points in [-100, 100]: ≤ 5 ulp relative,
        // ≤ 9.6e-7 absolute. Bound: 8u·|y| + 4u·|x| per element.
        Compare.Close(expected, y, $"Gelu X={shape} {p}", Ulp.Bound(expected, x, rel: 8, perX: 4));
    }

    [Test]
    public void ByHand()
    {
        var x = Tensor.FromArray([0f, -0f, 1f, -1f, 3f, 20f, -20f, float.NaN, float.PositiveInfinity, float.NegativeInfinity], 10);
        var y = Tensor.Allocate(10);
        Reference.Gelu(x, GeluParams.Exact, y);
        // ½x(1 + erf(x/√2)): Φ(1) = 0.841344746068543, Φ(-1) = 0.158655253931457, Φ(3) = 0.998650101968370,
        // Φ(-20) ≈ 2.75e-89 (x·Φ(x) underflows to -0). -∞·0 is NaN (as ONNX Runtime).
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 0f, -0f, 0.84134477f, -0.15865526f, 2.9959502f, 20f, -0f, float.NaN, float.PositiveInfinity, float.NaN }));
        Assert.That(float.IsNegative(y.Span[6]), Is.True, "-20·Φ(-20) rounds to -0");

        Reference.Gelu(x, GeluParams.TanhApproximation, y);
        // ½x(1 + tanh(√(2/π)(x + 0.044715x³))): at x = 1, tanh(0.7978845608·1.044715) = tanh(0.8335625) = 0.6823739,
        // so 0.8411920; at x = -1, -0.1588080; at x = 3: tanh(0.7978845608·4.207305) = 0.99758…, 2.9963627.
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 0f, -0f, 0.84119201f, -0.15880801f, 2.9963627f, 20f, -0f, float.NaN, float.PositiveInfinity, float.NaN }));
    }

    [Test]
    public void WrongOutputShapeThrows()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => Reference.Gelu(Tensor.Allocate(5), GeluParams.Exact, Tensor.Allocate(4)));
        Assert.That(ex!.Message, Does.Contain("[5]").And.Contain("[4]"));
    }
}
