using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Graphs;
using FastConv.Onnx;
using FastConv.Sessions;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>InstanceNormalization of the reference against ONNX Runtime on seeded shapes (ranks 3 to 5), by hand, its errors, and in a session.</summary>
public sealed class InstanceNormalizationOracleTests
{
    public static IEnumerable<TestCaseData> Cases()
    {
        int[][] edges = [[1, 1, 1], [1, 1, 7], [2, 3, 1, 1], [1, 4, 5, 6], [2, 2, 3, 4, 5], [1, 16, 33, 20]];
        var rng = new Random(606);
        for (int n = 0; n < OracleShapes.CasesPerOp; n++)
        {
            int[] dims = n < edges.Length ? edges[n] : [rng.Next(1, 3), rng.Next(1, 7), .. Enumerable.Range(0, 1 + n % 3).Select(_ => rng.Next(1, 10))];
            yield return new TestCaseData(dims).SetName($"InstanceNormalization(X={ElementwiseShapes.Format(dims)}) #{n}");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesOnnxRuntime(int[] dims)
    {
        var rng = new Random(dims.Aggregate(11, (h, d) => h * 31 + d));
        var shape = new TensorShape(dims);
        int c = dims[1];
        Tensor x = TestData.Floats(rng, shape, -1f + 0.5f * (dims[0] % 3), 1f + 0.5f * (dims[0] % 3));
        Tensor s = TestData.Floats(rng, TensorShape.Of(c), 0.5f, 2f), b = TestData.Floats(rng, TensorShape.Of(c));
        Tensor expected = new OnnxGraphBuilder("InstanceNormalization", opset: 13).Input("X", x).Constant("scale", s.ToArray(), c).Constant("B", b.ToArray(), c)
            .Attr("epsilon", 1e-5f).Run();
        Tensor y = TestData.Poisoned(shape);
        Reference.InstanceNormalization(x, 1e-5f, s, b, y);
        int m = shape.ElementCount / (dims[0] * c);
        Compare.Close(expected, y, $"InstanceNormalization X={shape}", NormalizationBounds.Rows(x, expected, m, i => s.Span[i / m % c], i => b.Span[i / m % c]));
    }

    [Test]
    public void ByHand()
    {
        // Channel 0 holds {1, 3}: mean 2, σ² 1 → (∓1)/√(1 + ε)·2 + 1; channel 1 holds {5, 5}: σ = 0 → just the bias −1.
        var x = Tensor.FromArray([1f, 3, 5, 5], 1, 2, 2);
        var y = Tensor.Allocate(1, 2, 2);
        Reference.InstanceNormalization(x, 1e-5f, Tensor.FromArray([2f, 7], 2), Tensor.FromArray([1f, -1], 2), y);
        double d = 2 / Math.Sqrt(1 + 1e-5);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { (float)(1 - d), (float)(1 + d), -1f, -1f }).Within(1e-6f));
    }

    [Test]
    public void ErrorsNameTheShapes()
    {
        var e = Assert.Throws<InvalidShapeException>(() => Reference.InstanceNormalization(Tensor.Allocate(2, 3), 1e-5f, Tensor.Allocate(3), Tensor.Allocate(3), Tensor.Allocate(2, 3)));
        Assert.That(e!.Message, Does.Contain("[2,3]"));
        e = Assert.Throws<InvalidShapeException>(() => Reference.InstanceNormalization(Tensor.Allocate(1, 3, 4), 1e-5f, Tensor.Allocate(2), Tensor.Allocate(3), Tensor.Allocate(1, 3, 4)));
        Assert.That(e!.Message, Does.Contain("scale").And.Contain("[2]"));
        var onnx = new OnnxGraphBuilder("InstanceNormalization", opset: 13).Input("X", Tensor.Allocate(1, 3, 4)).Constant("scale", [1f, 1], 2).Constant("B", [0f, 0, 0], 3).ToBytes();
        var load = Assert.Throws<InvalidModelException>(() => OnnxModel.Load(onnx));
        Assert.That(load!.Message, Does.Contain("InstanceNormalization").And.Contain("scale"));
    }

    [Test]
    public void RunsInASessionOnReferenceAndCpu()
    {
        var rng = new Random(4);
        Tensor x = TestData.Floats(rng, TensorShape.Of(2, 4, 9, 7)), s = TestData.Floats(rng, TensorShape.Of(4), 0.5f, 2), b = TestData.Floats(rng, TensorShape.Of(4));
        Graph graph = OnnxModel.Load(new OnnxGraphBuilder("InstanceNormalization", opset: 13).Input("X", x).Constant("scale", s.ToArray(), 4).Constant("B", b.ToArray(), 4).ToBytes());
        var expected = Tensor.Allocate(x.Shape);
        Reference.InstanceNormalization(x, 1e-5f, s, b, expected);
        foreach (string backend in (string[])[BackendNames.Reference, BackendNames.Cpu])
        {
            using var session = new FastConvSession(graph, new FastConvSessionOptions { Backend = backend, Threads = 1 });
            Assert.That(session.NodePlans.Single().Backend, Is.EqualTo(backend));
            Compare.Close(expected, session.Run(new Dictionary<string, Tensor> { ["X"] = x })["Y"], $"InstanceNormalization session on {backend}",
                NormalizationBounds.Rows(x, expected, 63, i => s.Span[i / 63 % 4], i => b.Span[i / 63 % 4]));
        }
    }
}
