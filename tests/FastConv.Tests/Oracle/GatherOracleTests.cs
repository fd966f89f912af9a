using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Onnx;
using FastConv.Sessions;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>Gather of float data with constant int64 indices (any rank, negative) against ONNX Runtime, through sessions on reference and cpu, exactly.</summary>
public sealed class GatherOracleTests
{
    public static IEnumerable<TestCaseData> Cases()
    {
        var rng = new Random(1212);
        for (int n = 0; n < OracleShapes.CasesPerOp; n++)
        {
            int rank = 1 + n % 4;
            int[] dims = [.. Enumerable.Range(0, rank).Select(_ => rng.Next(1, 8))];
            int axis = rng.Next(-rank, rank);
            int d = dims[axis < 0 ? axis + rank : axis];
            int[] ishape = [.. Enumerable.Range(0, n % 3).Select(_ => rng.Next(1, 4))];
            long[] indices = [.. Enumerable.Range(0, ishape.Aggregate(1, (p, v) => p * v)).Select(_ => (long)rng.Next(-d, d))];
            yield return new TestCaseData(dims, axis, ishape, indices).SetName($"Gather(X={ElementwiseShapes.Format(dims)}, axis={axis}, indices {ElementwiseShapes.Format(ishape)}=[{string.Join(",", indices)}]) #{n}");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesOnnxRuntimeOnEveryBackend(int[] dims, int axis, int[] ishape, long[] indices)
    {
        Tensor x = TestData.Floats(new Random(dims.Aggregate(3, (h, d) => h * 31 + d)), new TensorShape(dims));
        var b = new OnnxModelBuilder(opset: 13);
        string input = b.Input("X", [.. dims.Select(v => (long)v)]);
        var t = new global::Onnx.TensorProto { Name = "indices", DataType = (int)global::Onnx.TensorProto.Types.DataType.Int64 };
        t.Dims.AddRange(ishape.Select(v => (long)v));
        t.Int64Data.AddRange(indices);
        b.Graph.Initializer.Add(t);
        b.Node("Gather", [input, "indices"], ["Y"], OnnxModelBuilder.Attr("axis", (long)axis));
        b.Output("Y");
        byte[] model = b.ToBytes();
        Tensor expected = OnnxModelBuilder.RunOrt(model, new Dictionary<string, Tensor> { ["X"] = x })["Y"];
        foreach (string backend in (string[])[BackendNames.Reference, BackendNames.Cpu])
        {
            using var session = new FastConvSession(OnnxModel.Load(model), new FastConvSessionOptions { Backend = backend, Threads = 1 });
            Assert.That(session.NodePlans.Single().Backend, Is.EqualTo(backend));
            Compare.Exact(expected, session.Run(new Dictionary<string, Tensor> { ["X"] = x })["Y"], $"Gather X={x.Shape} axis {axis} on {backend}");
        }
    }

    [Test]
    public void ByHand()
    {
        var x = Tensor.FromArray([0f, 1, 2, 3, 4, 5], 3, 2);
        var y = Tensor.Allocate(2, 2, 2);
        Reference.Gather(x, 0, [2, 0, 1, 1], TensorShape.Of(2, 2), y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 4f, 5, 0, 1, 2, 3, 2, 3 }));
    }

    [Test]
    public void IndexOutOfRangeAndRunTimeIndicesAreRejected()
    {
        var b = new OnnxModelBuilder(opset: 13);
        string x = b.Input("X", 3, 2);
        b.Node("Gather", [x, b.Int64("i", 3)], ["Y"]);
        b.Output("Y");
        var e = Assert.Throws<InvalidModelException>(() => OnnxModel.Load(b.ToBytes()));
        Assert.That(e!.Message, Does.Contain("index 3").And.Contain("[3,2]"));
    }
}
