using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Graphs;
using FastConv.Graphs.Ops;
using FastConv.Onnx;
using FastConv.Sessions;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>
/// ReduceSum (axes as an input, opset 13), ReduceMax and ReduceMin (axes as an input, opset 18; and the attribute form of
/// opset 13 through the importer) of the reference against ONNX Runtime on seeded shapes and axes, keepdims both ways,
/// by hand, and in sessions on reference and cpu.
/// </summary>
public sealed class ReduceOracleTests
{
    private static readonly (string Op, ReduceKind Kind, int Opset)[] Ops = [("ReduceSum", ReduceKind.Sum, 13), ("ReduceMax", ReduceKind.Max, 18), ("ReduceMin", ReduceKind.Min, 18)];

    public static IEnumerable<TestCaseData> Cases()
    {
        foreach (var (op, kind, opset) in Ops)
        {
            var rng = new Random(op.Length * 100 + opset);
            for (int n = 0; n < OracleShapes.CasesPerOp; n++)
            {
                int rank = 1 + n % 4;
                int[] dims = [.. Enumerable.Range(0, rank).Select(_ => rng.Next(1, 8))];
                int[] axes = [.. Enumerable.Range(-rank, 2 * rank).Where(_ => rng.Next(3) == 0).GroupBy(a => (a + rank) % rank).Select(g => g.First())];
                bool keep = n % 2 == 0;
                yield return new TestCaseData(op, kind, opset, dims, axes, keep).SetName($"{op}(X={ElementwiseShapes.Format(dims)}, axes=[{string.Join(",", axes)}], keepdims={keep}) #{n}");
            }
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesOnnxRuntime(string op, ReduceKind kind, int opset, int[] dims, int[] axes, bool keep)
    {
        var rng = new Random(dims.Aggregate(axes.Length, (h, d) => h * 31 + d));
        var shape = new TensorShape(dims);
        Tensor x = TestData.Floats(rng, shape, -2, 2);
        var g = new OnnxGraphBuilder(op, opset).Input("X", x);
        if (axes.Length > 0)
        {
            g.Constant("axes", [.. axes.Select(a => (long)a)]);
        }
        Tensor expected = g.Attr("keepdims", keep ? 1L : 0L).Run();
        int[] normalized = [.. axes.Select(a => a < 0 ? a + dims.Length : a).Order()];
        if (normalized.Length == 0)
        {
            normalized = [.. Enumerable.Range(0, dims.Length)]; // no axes: reduce all (noop_with_empty_axes = 0)
        }
        Tensor y = TestData.Poisoned(ReduceMeanOp.OutputShape(shape, normalized, keep));
        Reference.Reduce(kind, x, normalized, keep, y);
        string problem = $"{op} X={shape} axes [{string.Join(",", axes)}] keepdims={keep}";
        if (kind == ReduceKind.Sum)
        {
            // ORT sums n floats in float (≤ γₙ·Σ|x|); the reference in double, rounded once (½ ulp).
            int count = normalized.Aggregate(1, (p, a) => p * dims[a]);
            Tensor abs = TestData.Abs(x), sums = Tensor.Allocate(y.Shape);
            Reference.Reduce(ReduceKind.Sum, abs, normalized, keep, sums);
            Compare.Close(expected, y, problem, Tolerance.Accumulation(count, sums));
        }
        else
        {
            Compare.Exact(expected, y, problem);
        }
    }

    [Test]
    public void ByHand()
    {
        var x = Tensor.FromArray([1f, -2, 3, 4, 5, -6], 2, 3);
        var y = Tensor.Allocate(2);
        Reference.Reduce(ReduceKind.Sum, x, [1], false, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 2f, 3f }));
        var z = Tensor.Allocate(1, 3);
        Reference.Reduce(ReduceKind.Max, x, [0], true, z);
        Assert.That(z.ToArray(), Is.EqualTo(new[] { 4f, 5f, 3f }));
        Reference.Reduce(ReduceKind.Min, x, [0], true, z);
        Assert.That(z.ToArray(), Is.EqualTo(new[] { 1f, -2f, -6f }));
        x.Span[4] = float.NaN;
        Reference.Reduce(ReduceKind.Max, x, [0], true, z);
        Assert.That(float.IsNaN(z.Span[1]) && z.Span[0] == 4f, "a NaN in the reduced set makes the result NaN");
    }

    [Test]
    public void AttributeAxesOfOpset13LoadAndMaxOverAnEmptyAxisIsAnError()
    {
        Tensor x = TestData.Floats(new Random(2), TensorShape.Of(2, 3, 4));
        byte[] model = new OnnxGraphBuilder("ReduceMax", 13).Input("X", x).Attr("axes", 1L, 2L).Attr("keepdims", 0L).ToBytes();
        Tensor expected = OnnxModelBuilder.RunOrt(model, new Dictionary<string, Tensor> { ["X"] = x })["Y"];
        foreach (string backend in (string[])[BackendNames.Reference, BackendNames.Cpu])
        {
            using var session = new FastConvSession(OnnxModel.Load(model), new FastConvSessionOptions { Backend = backend, Threads = 1 });
            Assert.That(session.NodePlans.Single().Backend, Is.EqualTo(backend));
            Compare.Exact(expected, session.Run(new Dictionary<string, Tensor> { ["X"] = x })["Y"], $"ReduceMax opset 13 on {backend}");
        }
        var b = new FastConv.Networks.NetworkBuilder("empty");
        GraphValue input = b.Input("X", TensorShape.Of(2, 0, 3));
        var e = Assert.Catch<FastConvException>(() => b.Node("ReduceMax", [input.Name, b.Constant("axes", GraphConstant.Int64(TensorShape.Of(1), [1]))], name: "m"));
        Assert.That(e!.Message, Does.Contain("ReduceMax").And.Contain("[2,0,3]"));
    }

    [Test]
    public void ReduceSumRunsOnCpuInASession()
    {
        Tensor x = TestData.Ints(new Random(3), TensorShape.Of(2, 16, 9, 9));
        byte[] model = new OnnxGraphBuilder("ReduceSum", 13).Input("X", x).Constant("axes", [2L, 3L]).ToBytes();
        Tensor expected = OnnxModelBuilder.RunOrt(model, new Dictionary<string, Tensor> { ["X"] = x })["Y"];
        using var session = new FastConvSession(OnnxModel.Load(model), new FastConvSessionOptions { Backend = BackendNames.Cpu, Threads = 2 });
        Assert.That(session.NodePlans.Single().Backend, Is.EqualTo(BackendNames.Cpu));
        Compare.Exact(expected, session.Run(new Dictionary<string, Tensor> { ["X"] = x })["Y"], "ReduceSum of integers on cpu");
    }
}
