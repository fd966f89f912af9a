using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Onnx;
using FastConv.Sessions;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>
/// DepthToSpace (DCR and CRD) and SpaceToDepth: the reference against ONNX Runtime on seeded shapes (exact: they move
/// elements), and every ONNX model through sessions on reference and cpu, which plan them as a transpose of a 6-D view.
/// </summary>
public sealed class DepthToSpaceOracleTests
{
    public static IEnumerable<TestCaseData> Cases()
    {
        var rng = new Random(1313);
        for (int n = 0; n < OracleShapes.CasesPerOp; n++)
        {
            int b = n < 3 ? n + 1 : rng.Next(1, 5);
            string op = n % 3 == 2 ? "SpaceToDepth" : "DepthToSpace";
            string mode = n % 3 == 1 ? "CRD" : "DCR";
            int[] dims = op == "DepthToSpace"
                ? [rng.Next(1, 3), b * b * rng.Next(1, 4), rng.Next(1, 6), rng.Next(1, 6)]
                : [rng.Next(1, 3), rng.Next(1, 4), b * rng.Next(1, 4), b * rng.Next(1, 4)];
            yield return new TestCaseData(op, mode, b, dims).SetName($"{op}(X={ElementwiseShapes.Format(dims)}, blocksize={b}{(op == "DepthToSpace" ? ", " + mode : "")}) #{n}");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesOnnxRuntimeOnEveryBackend(string op, string mode, int b, int[] dims)
    {
        Tensor x = TestData.Floats(new Random(dims.Aggregate(b, (h, d) => h * 31 + d)), new TensorShape(dims));
        var g = new OnnxGraphBuilder(op, 13).Input("X", x).Attr("blocksize", (long)b);
        if (op == "DepthToSpace")
        {
            g.Attr("mode", mode);
        }
        byte[] model = g.ToBytes();
        Tensor expected = OnnxModelBuilder.RunOrt(model, new Dictionary<string, Tensor> { ["X"] = x })["Y"];
        Tensor y = TestData.Poisoned(expected.Shape);
        if (op == "DepthToSpace")
        {
            Reference.DepthToSpace(x, b, mode == "CRD", y);
        }
        else
        {
            Reference.SpaceToDepth(x, b, y);
        }
        Compare.Exact(expected, y, $"{op} X={x.Shape} b={b} {mode}");
        foreach (string backend in (string[])[BackendNames.Reference, BackendNames.Cpu])
        {
            using var session = new FastConvSession(OnnxModel.Load(model), new FastConvSessionOptions { Backend = backend, Threads = 1 });
            Assert.That(session.NodePlans.Single().Backend, Is.EqualTo(backend));
            Compare.Exact(expected, session.Run(new Dictionary<string, Tensor> { ["X"] = x })["Y"], $"{op} session on {backend}");
        }
    }

    [Test]
    public void ByHand()
    {
        // Four channels of one pixel become one 2×2 plane: DCR reads them in order, CRD too when C/b² = 1.
        var x = Tensor.FromArray([1f, 2, 3, 4], 1, 4, 1, 1);
        var y = Tensor.Allocate(1, 1, 2, 2);
        Reference.DepthToSpace(x, 2, false, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 1f, 2, 3, 4 }));
        var back = Tensor.Allocate(1, 4, 1, 1);
        Reference.SpaceToDepth(y, 2, back);
        Assert.That(back.ToArray(), Is.EqualTo(x.ToArray()));
        // Eight channels, C/b² = 2: DCR takes channel (i·2 + j)·2 + c, CRD (c·2 + i)·2 + j.
        var x8 = Tensor.FromArray([0f, 1, 2, 3, 4, 5, 6, 7], 1, 8, 1, 1);
        var y8 = Tensor.Allocate(1, 2, 2, 2);
        Reference.DepthToSpace(x8, 2, false, y8);
        Assert.That(y8.ToArray(), Is.EqualTo(new[] { 0f, 2, 4, 6, 1, 3, 5, 7 }));
        Reference.DepthToSpace(x8, 2, true, y8);
        Assert.That(y8.ToArray(), Is.EqualTo(new[] { 0f, 1, 2, 3, 4, 5, 6, 7 }));
    }

    [Test]
    public void BlockSizesThatDoNotFitAreRejected()
    {
        var e = Assert.Throws<InvalidModelException>(() => OnnxModel.Load(new OnnxGraphBuilder("DepthToSpace", 13).Input("X", Tensor.Allocate(1, 6, 2, 2)).Attr("blocksize", 2L).ToBytes()));
        Assert.That(e!.Message, Does.Contain("blocksize 2").And.Contain("[1,6,2,2]"));
        e = Assert.Throws<InvalidModelException>(() => OnnxModel.Load(new OnnxGraphBuilder("SpaceToDepth", 13).Input("X", Tensor.Allocate(1, 1, 3, 4)).Attr("blocksize", 2L).ToBytes()));
        Assert.That(e!.Message, Does.Contain("blocksize 2").And.Contain("[1,1,3,4]"));
    }
}
