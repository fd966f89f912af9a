using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Onnx;
using FastConv.Sessions;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>Expand with a constant shape (bidirectional broadcast, higher and lower target rank) against ONNX Runtime, through sessions on reference and cpu, exactly.</summary>
public sealed class ExpandOracleTests
{
    public static IEnumerable<TestCaseData> Cases()
    {
        var rng = new Random(1414);
        for (int n = 0; n < OracleShapes.CasesPerOp; n++)
        {
            int rank = 1 + n % 4;
            int[] dims = [.. Enumerable.Range(0, rank).Select(_ => rng.Next(3) == 0 ? 1 : rng.Next(1, 5))];
            int outRank = rank + rng.Next(-Math.Min(rank - 1, 1), 3);
            var target = new long[outRank];
            for (int i = 0; i < outRank; i++)
            {
                int xi = i - (outRank - rank);
                target[i] = xi < 0 ? rng.Next(1, 4) : dims[xi] == 1 ? rng.Next(1, 5) : rng.Next(2) == 0 ? 1 : dims[xi];
            }
            yield return new TestCaseData(dims, target).SetName($"Expand(X={ElementwiseShapes.Format(dims)}, shape=[{string.Join(",", target)}]) #{n}");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesOnnxRuntimeOnEveryBackend(int[] dims, long[] target)
    {
        Tensor x = TestData.Floats(new Random(dims.Aggregate(9, (h, d) => h * 31 + d)), new TensorShape(dims));
        byte[] model = new OnnxGraphBuilder("Expand", 13).Input("X", x).Constant("shape", target).ToBytes();
        Tensor expected = OnnxModelBuilder.RunOrt(model, new Dictionary<string, Tensor> { ["X"] = x })["Y"];
        var y = TestData.Poisoned(expected.Shape);
        Reference.Expand(x, y);
        Compare.Exact(expected, y, $"Expand X={x.Shape} reference");
        foreach (string backend in (string[])[BackendNames.Reference, BackendNames.Cpu])
        {
            using var session = new FastConvSession(OnnxModel.Load(model), new FastConvSessionOptions { Backend = backend, Threads = 1 });
            Assert.That(session.NodePlans.Single().Backend, Is.EqualTo(backend));
            Compare.Exact(expected, session.Run(new Dictionary<string, Tensor> { ["X"] = x })["Y"], $"Expand X={x.Shape} on {backend}");
        }
    }

    [Test]
    public void ShapesThatDoNotBroadcastAreRejected()
    {
        var e = Assert.Throws<InvalidModelException>(() => OnnxModel.Load(new OnnxGraphBuilder("Expand", 13).Input("X", Tensor.Allocate(2, 3)).Constant("shape", [4L, 3L]).ToBytes()));
        Assert.That(e!.Message, Does.Contain("[2,3]").And.Contain("[4,3]"));
    }
}
