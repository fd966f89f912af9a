using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Graphs;
using FastConv.Onnx;
using FastConv.Sessions;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>Erf of the reference against ONNX Runtime on seeded shapes, special values by hand, and in a session on reference and cpu.</summary>
public sealed class ErfOracleTests
{
    public static IEnumerable<TestCaseData> Cases() => OracleShapes.Elementwise("Erf", 1309);

    [TestCaseSource(nameof(Cases))]
    public void MatchesOnnxRuntime(int[] dims)
    {
        var rng = new Random(dims.Aggregate(3, (h, d) => h * 31 + d));
        Tensor x = TestData.Floats(rng, new TensorShape(dims), -4, 4);
        Tensor expected = new OnnxGraphBuilder("Erf", opset: 13).Input("X", x).Run();
        Tensor y = TestData.Poisoned(x.Shape);
        Reference.Erf(x, y);
        // The reference is erf in double rounded once (½ ulp); ONNX Runtime's float erf is a polynomial fit measured
        // within 2 ulps of the result plus 2⁻²⁴ absolute where erf is near ±1: 4 ulps + 2u covers both.
        Compare.Close(expected, y, $"Erf X={x.Shape}", Ulp.Bound(expected, x, rel: 4, abs: 2));
    }

    [Test]
    public void SpecialValuesByHand()
    {
        var x = Tensor.FromArray([0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, 1f, -0.5f, 1e-20f], 8);
        var y = Tensor.Allocate(8);
        Reference.Erf(x, y);
        Assert.That(y.ToArray()[..4], Is.EqualTo(new[] { 0f, -0f, 1f, -1f }));
        Assert.That(float.IsNaN(y.Span[4]));
        Assert.That(y.Span[5], Is.EqualTo(0.8427007929f).Within(1e-7f));
        Assert.That(y.Span[6], Is.EqualTo(-0.5204998778f).Within(1e-7f));
        Assert.That(y.Span[7], Is.EqualTo(1.1283792e-20f).Within(1e-26f), "erf(x) ≈ 2x/√π near 0: relative accuracy kept");
    }

    [Test]
    public void RunsInASessionOnReferenceAndCpu()
    {
        Tensor x = TestData.Floats(new Random(4), TensorShape.Of(2, 3, 50), -3, 3);
        Graph graph = OnnxModel.Load(new OnnxGraphBuilder("Erf", opset: 13).Input("X", x).ToBytes());
        var expected = Tensor.Allocate(x.Shape);
        Reference.Erf(x, expected);
        foreach (string backend in (string[])[BackendNames.Reference, BackendNames.Cpu])
        {
            using var session = new FastConvSession(graph, new FastConvSessionOptions { Backend = backend, Threads = 1 });
            Assert.That(session.NodePlans.Single().Backend, Is.EqualTo(backend));
            Compare.Close(expected, session.Run(new Dictionary<string, Tensor> { ["X"] = x })["Y"], $"Erf session on {backend}", Ulp.Bound(expected, x, rel: 4, abs: 1));
        }
    }
}
