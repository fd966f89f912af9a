using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Graphs;
using FastConv.Onnx;
using FastConv.Sessions;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>Mish (opset 18) of the reference against ONNX Runtime on seeded shapes, by hand, and in a session on reference and cpu.</summary>
public sealed class MishOracleTests
{
    public static IEnumerable<TestCaseData> Cases() => OracleShapes.Elementwise("Mish", 1809);

    [TestCaseSource(nameof(Cases))]
    public void MatchesOnnxRuntime(int[] dims)
    {
        var rng = new Random(dims.Aggregate(5, (h, d) => h * 31 + d));
        Tensor x = TestData.Floats(rng, new TensorShape(dims), -12, 12);
        Tensor expected = new OnnxGraphBuilder("Mish", opset: 18).Input("X", x).Run();
        Tensor y = TestData.Poisoned(x.Shape);
        Reference.Mish(x, y);
        // The reference rounds once (½ ulp). ONNX Runtime evaluates x·tanh(softplus(x)) in float: softplus (log1p of
        // exp, ~2 ulps), tanh (~2 ulps, its error times tanh' ≤ 1 relative), the product: ≤ 6 ulps; for x ≪ 0 softplus
        // ≈ eˣ keeps relative accuracy. 8 ulps of |y| plus 1e-30 absolute (subnormal products) covers both.
        Compare.Close(expected, y, $"Mish X={x.Shape}", Ulp.Bound(expected, x, rel: 8, abs: 1e-30f / Ulp.U));
    }

    [Test]
    public void ByHand()
    {
        var x = Tensor.FromArray([0f, 1f, -1f, 50f, -50f, float.NaN, float.PositiveInfinity], 7);
        var y = Tensor.Allocate(7);
        Reference.Mish(x, y);
        // Mish(1) = tanh(ln(1 + e)) = tanh(1.3132617) = 0.8650984; Mish(−1) = −tanh(ln(1 + 1/e)) = −tanh(0.3132617) = −0.3034014.
        Assert.That(y.Span[0], Is.EqualTo(0f));
        Assert.That(y.Span[1], Is.EqualTo(0.86509839f).Within(1e-7f));
        Assert.That(y.Span[2], Is.EqualTo(-0.30340144f).Within(1e-7f));
        Assert.That(y.Span[3], Is.EqualTo(50f));
        Assert.That(y.Span[4], Is.EqualTo((float)(-50 * Math.Exp(-50))).Within(1e-28f), "very negative x keep their small value");
        Assert.That(float.IsNaN(y.Span[5]));
        Assert.That(y.Span[6], Is.EqualTo(float.PositiveInfinity));
    }

    [Test]
    public void RunsInASessionOnReferenceAndCpu()
    {
        Tensor x = TestData.Floats(new Random(4), TensorShape.Of(2, 3, 50), -6, 6);
        Graph graph = OnnxModel.Load(new OnnxGraphBuilder("Mish", opset: 18).Input("X", x).ToBytes());
        var expected = Tensor.Allocate(x.Shape);
        Reference.Mish(x, expected);
        foreach (string backend in (string[])[BackendNames.Reference, BackendNames.Cpu])
        {
            using var session = new FastConvSession(graph, new FastConvSessionOptions { Backend = backend, Threads = 1 });
            Assert.That(session.NodePlans.Single().Backend, Is.EqualTo(backend));
            Compare.Close(expected, session.Run(new Dictionary<string, Tensor> { ["X"] = x })["Y"], $"Mish session on {backend}", Ulp.Bound(expected, x, rel: 8, abs: 1));
        }
    }
}
