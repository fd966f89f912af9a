using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Graphs;
using FastConv.Onnx;
using FastConv.Sessions;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>Softplus of the reference against ONNX Runtime on seeded shapes, by hand, and in a session on reference and cpu.</summary>
public sealed class SoftplusOracleTests
{
    public static IEnumerable<TestCaseData> Cases() => OracleShapes.Elementwise("Softplus", 1810);

    [TestCaseSource(nameof(Cases))]
    public void MatchesOnnxRuntime(int[] dims)
    {
        var rng = new Random(dims.Aggregate(7, (h, d) => h * 31 + d));
        Tensor x = TestData.Floats(rng, new TensorShape(dims), -30, 30);
        Tensor expected = new OnnxGraphBuilder("Softplus", opset: 13).Input("X", x).Run();
        Tensor y = TestData.Poisoned(x.Shape);
        Reference.Softplus(x, y);
        // The reference rounds once (½ ulp); ONNX Runtime's float evaluation loses a few ulps where the result is small
        // (measured up to 5 ulps near y = 7e-4). 16 ulps of |y| plus 1e-30 absolute (exp underflowing to subnormals for x ≪ 0).
        Compare.Close(expected, y, $"Softplus X={x.Shape}", Ulp.Bound(expected, x, rel: 16, abs: 1e-30f / Ulp.U));
    }

    [Test]
    public void ByHand()
    {
        var x = Tensor.FromArray([0f, 1f, -1f, 50f, -50f, float.NaN, float.PositiveInfinity, float.NegativeInfinity], 8);
        var y = Tensor.Allocate(8);
        Reference.Softplus(x, y);
        // ln 2 = 0.6931472; ln(1 + e) = 1.3132617; ln(1 + 1/e) = 0.3132617.
        Assert.That(y.Span[0], Is.EqualTo(0.6931472f).Within(1e-7f));
        Assert.That(y.Span[1], Is.EqualTo(1.31326163f).Within(1e-7f));
        Assert.That(y.Span[2], Is.EqualTo(0.31326169f).Within(1e-7f));
        Assert.That(y.Span[3], Is.EqualTo(50f));
        Assert.That(y.Span[4], Is.EqualTo((float)Math.Exp(-50)).Within(1e-28f), "very negative x keep their small value");
        Assert.That(float.IsNaN(y.Span[5]));
        Assert.That(y.Span[6], Is.EqualTo(float.PositiveInfinity));
        Assert.That(y.Span[7], Is.EqualTo(0f));
    }

    [Test]
    public void RunsInASessionOnReferenceAndCpuWithinFourUlps()
    {
        Tensor x = TestData.Floats(new Random(5), TensorShape.Of(2, 3, 333), -100, 100);
        x.Span[0] = float.NaN;
        x.Span[1] = float.PositiveInfinity;
        x.Span[2] = float.NegativeInfinity;
        x.Span[3] = -0f;
        Graph graph = OnnxModel.Load(new OnnxGraphBuilder("Softplus", opset: 13).Input("X", x).ToBytes());
        var expected = Tensor.Allocate(x.Shape);
        Reference.Softplus(x, expected);
        foreach (string backend in (string[])[BackendNames.Reference, BackendNames.Cpu])
        {
            using var session = new FastConvSession(graph, new FastConvSessionOptions { Backend = backend, Threads = 1 });
            Assert.That(session.NodePlans.Single().Backend, Is.EqualTo(backend));
            Compare.Close(expected, session.Run(new Dictionary<string, Tensor> { ["X"] = x })["Y"], $"Softplus session on {backend}",
                Ulp.Bound(expected, x, rel: 4, abs: 1e-30f / Ulp.U));
        }
    }
}
