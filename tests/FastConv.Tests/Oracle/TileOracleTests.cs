using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Onnx;
using FastConv.Sessions;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>
/// Tile with constant repeats against ONNX Runtime: the reference's formula, and sessions on reference and cpu (which
/// plan it as an expand of a reshaped view), exactly.
/// </summary>
public sealed class TileOracleTests
{
    public static IEnumerable<TestCaseData> Cases()
    {
        var rng = new Random(1515);
        for (int n = 0; n < OracleShapes.CasesPerOp; n++)
        {
            int rank = 1 + n % 4;
            int[] dims = [.. Enumerable.Range(0, rank).Select(_ => rng.Next(1, 5))];
            long[] repeats = [.. Enumerable.Range(0, rank).Select(_ => (long)(n == 5 ? 0 : rng.Next(1, 4)))];
            yield return new TestCaseData(dims, repeats).SetName($"Tile(X={ElementwiseShapes.Format(dims)}, repeats=[{string.Join(",", repeats)}]) #{n}");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesOnnxRuntimeOnEveryBackend(int[] dims, long[] repeats)
    {
        Tensor x = TestData.Floats(new Random(dims.Aggregate(2, (h, d) => h * 31 + d)), new TensorShape(dims));
        byte[] model = new OnnxGraphBuilder("Tile", 13).Input("X", x).Constant("repeats", repeats).ToBytes();
        Tensor expected = OnnxModelBuilder.RunOrt(model, new Dictionary<string, Tensor> { ["X"] = x })["Y"];
        var y = TestData.Poisoned(expected.Shape);
        Reference.Tile(x, [.. repeats.Select(r => (int)r)], y);
        Compare.Exact(expected, y, $"Tile X={x.Shape} reference");
        foreach (string backend in (string[])[BackendNames.Reference, BackendNames.Cpu])
        {
            using var session = new FastConvSession(OnnxModel.Load(model), new FastConvSessionOptions { Backend = backend, Threads = 1 });
            Assert.That(session.NodePlans.Single().Backend, Is.EqualTo(backend));
            Compare.Exact(expected, session.Run(new Dictionary<string, Tensor> { ["X"] = x })["Y"], $"Tile X={x.Shape} on {backend}");
        }
    }

    [Test]
    public void RepeatsOfTheWrongLengthAreRejected()
    {
        var e = Assert.Throws<InvalidModelException>(() => OnnxModel.Load(new OnnxGraphBuilder("Tile", 13).Input("X", Tensor.Allocate(2, 3)).Constant("repeats", [2L]).ToBytes()));
        Assert.That(e!.Message, Does.Contain("repeats [2]").And.Contain("[2,3]"));
    }
}
