using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Graphs;
using FastConv.Onnx;
using FastConv.Sessions;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>
/// GroupNormalization of the reference against ONNX Runtime in both forms — opset 21 (scale and bias per channel) and
/// opset 18 (per group, loaded through the op's definition, which repeats each group's value over its channels) — on
/// seeded shapes, by hand, its errors, and in a session.
/// </summary>
public sealed class GroupNormalizationOracleTests
{
    public static IEnumerable<TestCaseData> Cases()
    {
        var rng = new Random(1821);
        for (int n = 0; n < OracleShapes.CasesPerOp; n++)
        {
            int groups = rng.Next(1, 5), c = groups * rng.Next(1, 4);
            int[] dims = n == 0 ? [1, 1, 1] : n == 1 ? [2, 6, 1, 1] : [rng.Next(1, 3), c, .. Enumerable.Range(0, 1 + n % 3).Select(_ => rng.Next(1, 9))];
            groups = n == 1 ? 3 : n == 0 ? 1 : groups;
            int opset = n % 2 == 0 ? 21 : 18;
            yield return new TestCaseData(dims, groups, opset).SetName($"GroupNormalization(X={ElementwiseShapes.Format(dims)}, groups={groups}, opset {opset}) #{n}");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesOnnxRuntime(int[] dims, int groups, int opset)
    {
        var rng = new Random(dims.Aggregate(13 + groups, (h, d) => h * 31 + d));
        var shape = new TensorShape(dims);
        int c = dims[1], perGroup = c / groups;
        Tensor x = TestData.Floats(rng, shape, -1, 2);
        int count = opset == 21 ? c : groups;
        Tensor s = TestData.Floats(rng, TensorShape.Of(count), 0.5f, 2f), b = TestData.Floats(rng, TensorShape.Of(count));
        byte[] model = new OnnxGraphBuilder("GroupNormalization", opset).Input("X", x).Constant("scale", s.ToArray(), count).Constant("bias", b.ToArray(), count)
            .Attr("num_groups", (long)groups).Attr("epsilon", 1e-5f).ToBytes();
        Tensor expected = OnnxModelBuilder.RunOrt(model, new Dictionary<string, Tensor> { ["X"] = x })["Y"];
        // The reference takes per-channel values: opset 18's per-group ones repeated over each group's channels.
        Tensor sc = opset == 21 ? s : Tensor.FromArray([.. Enumerable.Range(0, c).Select(k => s.Span[k / perGroup])], c);
        Tensor bc = opset == 21 ? b : Tensor.FromArray([.. Enumerable.Range(0, c).Select(k => b.Span[k / perGroup])], c);
        Tensor y = TestData.Poisoned(shape);
        Reference.GroupNormalization(x, groups, 1e-5f, sc, bc, y);
        int plane = shape.ElementCount / (dims[0] * c);
        Tensor bound = NormalizationBounds.Rows(x, expected, plane * perGroup, i => sc.Span[i / plane % c], i => bc.Span[i / plane % c]);
        Compare.Close(expected, y, $"GroupNormalization X={shape} groups {groups} opset {opset}", bound);
        // The same model through the importer and a session: opset 18's per-group form reaches the same numbers.
        using var session = new FastConvSession(OnnxModel.Load(model), new FastConvSessionOptions { Backend = BackendNames.Reference, Threads = 1 });
        Compare.Exact(y, session.Run(new Dictionary<string, Tensor> { ["X"] = x })["Y"], $"GroupNormalization session X={shape} opset {opset}");
    }

    [Test]
    public void ByHand()
    {
        // Two groups of one channel each: group 0 {1, 3} → ∓1/√(1 + ε); group 1 {4, 4, …}: σ = 0 → bias.
        var x = Tensor.FromArray([1f, 3, 4, 4], 1, 2, 2);
        var y = Tensor.Allocate(1, 2, 2);
        Reference.GroupNormalization(x, 2, 1e-5f, Tensor.FromArray([1f, 1], 2), Tensor.FromArray([0f, 5], 2), y);
        double d = 1 / Math.Sqrt(1 + 1e-5);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { (float)-d, (float)d, 5f, 5f }).Within(1e-6f));
        // One group over both channels: mean 3, σ² = (4 + 0 + 1 + 1)/4 = 1.5.
        Reference.GroupNormalization(x, 1, 0f, Tensor.FromArray([1f, 2], 2), Tensor.FromArray([0f, 0], 2), y);
        double inv = 1 / Math.Sqrt(1.5);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { (float)(-2 * inv), (float)(0 * inv), (float)(2 * inv), (float)(2 * inv) }).Within(1e-6f));
    }

    [Test]
    public void GroupsThatDoNotDivideTheChannelsAreRejected()
    {
        Assert.Throws<InvalidHyperparameterException>(() => Reference.GroupNormalization(Tensor.Allocate(1, 6, 2), 4, 1e-5f, Tensor.Allocate(6), Tensor.Allocate(6), Tensor.Allocate(1, 6, 2)));
        byte[] model = new OnnxGraphBuilder("GroupNormalization", 21).Input("X", Tensor.Allocate(1, 6, 2)).Constant("scale", new float[6], 6).Constant("bias", new float[6], 6)
            .Attr("num_groups", 4L).ToBytes();
        var e = Assert.Throws<InvalidModelException>(() => OnnxModel.Load(model));
        Assert.That(e!.Message, Does.Contain("num_groups = 4").And.Contain("[1,6,2]"));
    }

    [Test]
    public void RunsOnCpu()
    {
        var rng = new Random(4);
        Tensor x = TestData.Floats(rng, TensorShape.Of(2, 8, 9, 7)), s = TestData.Floats(rng, TensorShape.Of(8), 0.5f, 2), b = TestData.Floats(rng, TensorShape.Of(8));
        Graph graph = OnnxModel.Load(new OnnxGraphBuilder("GroupNormalization", 21).Input("X", x).Constant("scale", s.ToArray(), 8).Constant("bias", b.ToArray(), 8)
            .Attr("num_groups", 4L).ToBytes());
        var expected = Tensor.Allocate(x.Shape);
        Reference.GroupNormalization(x, 4, 1e-5f, s, b, expected);
        using var session = new FastConvSession(graph, new FastConvSessionOptions { Backend = BackendNames.Cpu, Threads = 2 });
        Assert.That(session.NodePlans.Single().Backend, Is.EqualTo(BackendNames.Cpu));
        Compare.Close(expected, session.Run(new Dictionary<string, Tensor> { ["X"] = x })["Y"], "GroupNormalization on cpu",
            NormalizationBounds.Rows(x, expected, 126, i => s.Span[i / 63 % 8], i => b.Span[i / 63 % 8]));
    }
}
