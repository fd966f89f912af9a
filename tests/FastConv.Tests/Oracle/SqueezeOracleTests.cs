using FastConv.Backends;
using FastConv.Graphs;
using FastConv.Networks;
using FastConv.Onnx;
using FastConv.Sessions;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>
/// Squeeze and Unsqueeze: in an ONNX file the importer turns them into a Reshape with the shape known at load (kept);
/// built in code they are ops of their own (shapes by their definitions, the elements copied). Both against ONNX Runtime.
/// </summary>
public sealed class SqueezeOracleTests
{
    public static IEnumerable<TestCaseData> Cases()
    {
        var rng = new Random(1616);
        for (int n = 0; n < OracleShapes.CasesPerOp; n++)
        {
            int rank = 1 + n % 4;
            int[] dims = [.. Enumerable.Range(0, rank).Select(_ => rng.Next(3) == 0 ? 1 : rng.Next(2, 5))];
            bool squeeze = n % 2 == 0;
            long[] axes = squeeze
                ? [.. Enumerable.Range(0, rank).Where(a => dims[a] == 1 && rng.Next(2) == 0).Select(a => (long)(rng.Next(2) == 0 ? a - rank : a))]
                : [.. Enumerable.Range(0, rank + 1).Where(_ => rng.Next(3) == 0).Take(2).Select(a => (long)a)]; // < rank + 1 ≤ output rank
            if (!squeeze && axes.Length == 0)
            {
                axes = [0];
            }
            yield return new TestCaseData(squeeze ? "Squeeze" : "Unsqueeze", dims, axes).SetName($"{(squeeze ? "Squeeze" : "Unsqueeze")}(X={ElementwiseShapes.Format(dims)}, axes=[{string.Join(",", axes)}]) #{n}");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void BuiltInCodeAndImportedMatchOnnxRuntime(string op, int[] dims, long[] axes)
    {
        Tensor x = TestData.Floats(new Random(dims.Aggregate(1, (h, d) => h * 31 + d)), new TensorShape(dims));
        var g = new OnnxGraphBuilder(op, 13).Input("X", x);
        if (axes.Length > 0 || op == "Unsqueeze")
        {
            g.Constant("axes", axes);
        }
        byte[] model = g.ToBytes();
        Tensor expected = OnnxModelBuilder.RunOrt(model, new Dictionary<string, Tensor> { ["X"] = x })["Y"];
        Graph imported = OnnxModel.Load(model);
        Assert.That(imported.Nodes.Single().OpType, Is.EqualTo("Reshape"), "the importer's rewrite stays");

        var b = new NetworkBuilder(op);
        GraphValue input = b.Input("X", x.Shape);
        var inputs = new List<string> { input.Name };
        if (axes.Length > 0 || op == "Unsqueeze")
        {
            inputs.Add(b.Constant("axes", GraphConstant.Int64(TensorShape.Of(axes.Length), axes)));
        }
        GraphValue y = b.Node(op, inputs, name: "Y");
        Graph built = b.Build(y).Graph;
        foreach (string backend in (string[])[BackendNames.Reference, BackendNames.Cpu])
        {
            foreach (Graph graph in new[] { imported, built })
            {
                using var session = new FastConvSession(graph, new FastConvSessionOptions { Backend = backend, Threads = 1 });
                Tensor actual = session.Run(new Dictionary<string, Tensor> { ["X"] = x }).Values.Single();
                Assert.That(actual.Shape, Is.EqualTo(expected.Shape), $"{op} {x.Shape} axes [{string.Join(",", axes)}] on {backend}");
                Compare.Exact(expected, actual, $"{op} {x.Shape} on {backend}");
            }
        }
    }

    [Test]
    public void SqueezingAnAxisThatIsNotOneIsAnError()
    {
        var b = new NetworkBuilder("bad");
        GraphValue input = b.Input("X", TensorShape.Of(2, 3));
        var e = Assert.Catch<FastConvException>(() => b.Node("Squeeze", [input.Name, b.Constant("axes", GraphConstant.Int64(TensorShape.Of(1), [0]))], name: "s"));
        Assert.That(e!.Message, Does.Contain("axes [0]").And.Contain("[2,3]"));
    }
}
