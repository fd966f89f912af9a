using FastConv.Backends;
using FastConv.Compilation;
using FastConv.Graphs;
using FastConv.Graphs.Ops;
using FastConv.Networks;
using FastConv.Sessions;
using FastConv.Tests.Support;

namespace FastConv.Tests.Sessions;

/// <summary>
/// Sessions end to end: the optimizer's rewrites keep results within tolerance of the unoptimized reference run;
/// the cpu backend agrees with the reference; caller-owned buffers; the arena is shared by liveness.
/// Tolerance: every output is a chain of float32 sums of at most a few hundred terms over values of order 1,
/// each step within γ_n·Σ|terms| (≈ 1e-5 relative for n ≤ 600); BN folding rounds W·s once instead of
/// rounding the conv and then the scale, Winograd (cpu, fast precision) adds its documented ~1e-5 relative
/// error per layer, and a handful of layers compound it. 1e-4 absolute plus 1e-3 relative holds all of that
/// with margin while still catching any wrong index or missed step (those give O(1) errors).
/// </summary>
public sealed class SessionTests
{
    private const float Atol = 1e-4f, Rtol = 1e-3f;

    private static IEnumerable<TestCaseData> Networks()
    {
        yield return new TestCaseData("mini-resnet").SetName("mini-resnet");
        yield return new TestCaseData("every-op").SetName("every-op");
        yield return new TestCaseData("lenet5").SetName("lenet5");
        yield return new TestCaseData("mnist").SetName("mnist");
    }

    private static Network Build(string name, int batch = 1) => name switch
    {
        "mini-resnet" => TestNetworks.MiniResNet(batch),
        "every-op" => TestNetworks.EveryOp(batch),
        _ => Builtins.Build(name, batch),
    };

    [TestCaseSource(nameof(Networks))]
    public void OptimizedCpuAndReferenceAgreeWithUnoptimizedReference(string name)
    {
        Network net = Build(name, batch: 2);
        var inputs = TestNetworks.RandomInputs(net.Graph, 5);
        using var plain = new FastConvSession(net.Graph, new FastConvSessionOptions { Backend = BackendNames.Reference, Optimizer = OptimizerOptions.None });
        using var fusedRef = new FastConvSession(net.Graph, new FastConvSessionOptions { Backend = BackendNames.Reference });
        using var cpu = new FastConvSession(net.Graph, new FastConvSessionOptions { Backend = BackendNames.Cpu, Threads = 2 });
        var expected = plain.Run(inputs);
        foreach (FastConvSession s in new[] { fusedRef, cpu })
        {
            var actual = s.Run(inputs);
            foreach (var (output, e) in expected)
            {
                Compare.Close(e, actual[output], $"{name} output '{output}' on {s.BackendName} (optimized) vs reference (unoptimized)", Atol, Rtol);
            }
        }
    }

    [Test]
    public void OptimizerFoldsBatchNormAndFusesResidualAndActivations()
    {
        Graph g = GraphCompiler.Optimize(TestNetworks.MiniResNet().Graph);
        string[] ops = [.. g.Nodes.Select(n => n.OpType)];
        Assert.That(ops, Has.None.EqualTo("BatchNormalization").And.None.EqualTo("Relu").And.None.EqualTo("Add"), string.Join(" ", ops));
        // stem, block1 conv1, conv2(+add+relu), block2 conv1, conv2(+add+relu) are fused; the downsample conv (BN
        // folded in) only feeds the Add as its residual, so it stays a plain Conv.
        Assert.That(ops.Count(o => o == FastConvOps.FusedConv), Is.EqualTo(5));
        Assert.That(g.Nodes.Single(n => n.OpType == "Conv").Name, Is.EqualTo("block2.down"));
        Node residual = g.Nodes.Single(n => n.Outputs[0] == "block2.relu2");
        Assert.That(residual.OpType, Is.EqualTo(FastConvOps.FusedConv));
        Assert.That(residual.Inputs, Has.Length.EqualTo(4));
        Assert.That(residual.GetString("activation", ""), Is.EqualTo("Relu"));
        // The caller's graph is untouched.
        Assert.That(TestNetworks.MiniResNet().Graph.Nodes.Count(n => n.OpType == "BatchNormalization"), Is.EqualTo(6));
    }

    [Test]
    public void OptimizerDropsNoOpsAndFoldsConstantSubgraphs()
    {
        var b = new NetworkBuilder("consts");
        GraphValue x = b.Input("x", TensorShape.Of(1, 3));
        string c = b.Constant("c", GraphConstant.Float32(TensorShape.Of(1, 3), [1, 4, 9]));
        GraphValue s = b.Node("Sqrt", [c], name: "sqrt");           // constant → folded
        GraphValue t = b.Node("Mul", [s.Name, s.Name], name: "sq");  // constant → folded
        GraphValue y = b.Node("Add", [b.Dropout(x, "drop").Name, t.Name], name: "add");
        GraphValue z = b.Node("Identity", [y.Name], name: "out");
        Graph g = GraphCompiler.Optimize(b.Build(z).Graph, evaluator: new FastConv.Cpu.ReferenceBackend());
        Assert.That(g.Nodes.Select(n => n.OpType), Is.EqualTo(new[] { "Add" }));
        Assert.That(g.Nodes[0].Outputs[0], Is.EqualTo("out"), "the no-op's graph output is written by its producer");
        Assert.That(g.Constants[g.Nodes[0].Inputs[1]].Floats, Is.EqualTo(new[] { 1f, 4f, 9f }));
        using var session = new FastConvSession(g, new FastConvSessionOptions { Backend = BackendNames.Cpu });
        var result = session.Run(new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray([1, 2, 3], 1, 3) });
        Assert.That(result["out"].ToArray(), Is.EqualTo(new[] { 2f, 6f, 12f }));
    }

    [Test]
    public void CallerOwnedTensorsAndSpansGiveTheSameResult()
    {
        Network net = TestNetworks.MiniResNet();
        using var session = net.CreateSession(new FastConvSessionOptions { Backend = BackendNames.Cpu, Threads = 1 });
        var inputs = TestNetworks.RandomInputs(net.Graph, 9);
        Tensor expected = session.Run(inputs)["prob"];
        var output = TestData.Poisoned(session.Outputs[0].Shape);
        session.Run(["image"], [inputs["image"]], ["prob"], [output]);
        Compare.Exact(expected, output, "pre-allocated output tensor");
        var span = new float[expected.Length];
        span.AsSpan().Fill(float.NaN);
        session.Run(inputs["image"].Span, span);
        Compare.Exact(expected, Tensor.FromArray(span, expected.Shape.Dims), "span output");
    }

    [Test]
    public void ArenaIsSharedByLiveness()
    {
        Network net = Builtins.Build("resnet18");
        using var session = net.CreateSession(new FastConvSessionOptions { Backend = BackendNames.Reference });
        long sumOfValues = session.Info.Nodes.Sum(n => (long)n.OutputShapes[0].ElementCount) + session.Inputs.Sum(i => (long)i.Shape.ElementCount);
        // Every value of the optimized ResNet-18 together is ~2.4 M floats; by liveness two of the largest
        // (the 64x112x112 stem output and the 64x56x56 pool output) are all that must coexist at the peak.
        Assert.That(session.ArenaFloats, Is.LessThan(sumOfValues / 2));
        Assert.That(session.ArenaFloats, Is.GreaterThanOrEqualTo(64 * 112 * 112 + 64 * 56 * 56));
    }

    [Test]
    [Category("Hostile")]
    [Description("wrong input shape, unknown or missing input, wrong span length: InvalidShapeException / InvalidModelException")]
    public void BadInputsAreTypedErrors()
    {
        using var session = TestNetworks.MiniResNet().CreateSession(BackendNames.Reference);
        Assert.Throws<InvalidShapeException>(() => session.Run(new Dictionary<string, Tensor> { ["image"] = Tensor.Allocate(1, 3, 20, 21) }));
        Assert.Throws<InvalidModelException>(() => session.Run(new Dictionary<string, Tensor> { ["nope"] = Tensor.Allocate(1, 3, 20, 20) }));
        Assert.Throws<InvalidModelException>(() => session.Run(new Dictionary<string, Tensor>()));
        Assert.Throws<InvalidShapeException>(() => session.Run(new float[10], new float[10]));
    }

    [Test]
    public void ProfileTimesEveryNode()
    {
        Network net = TestNetworks.MiniResNet();
        using var session = net.CreateSession(BackendNames.Cpu);
        var profile = session.Profile(TestNetworks.RandomInputs(net.Graph, 1), runs: 3);
        Assert.That(profile.Select(p => p.Node), Is.EqualTo(session.NodePlans));
        Assert.That(profile.Select(p => p.MedianMs), Is.All.GreaterThanOrEqualTo(0));
    }

    [Test]
    public void SoftmaxBeforeOpset13NormalizesTheFlattenedTail()
    {
        // Opset 11 Softmax(axis=1) on [2,3,4] normalizes over the 12 values of each batch row, not over axis 1 alone.
        var g = new Graph("softmax11");
        g.Inputs.Add(new GraphValue("x", TensorShape.Of(2, 3, 4)));
        g.Nodes.Add(new Node("Softmax", "s", ["x"], ["y"], new Dictionary<string, AttributeValue> { ["axis"] = AttributeValue.Of(1L) }) { Opset = 11 });
        g.Outputs.Add("y");
        Tensor x = TestData.Floats(new Random(3), TensorShape.Of(2, 3, 4));
        foreach (string backend in new[] { BackendNames.Reference, BackendNames.Cpu })
        {
            using var session = new FastConvSession(g, new FastConvSessionOptions { Backend = backend });
            float[] y = session.Run(new Dictionary<string, Tensor> { ["x"] = x })["y"].ToArray();
            Assert.That(y.Take(12).Sum(), Is.EqualTo(1f).Within(1e-5f), backend);
            Assert.That(y.Skip(12).Sum(), Is.EqualTo(1f).Within(1e-5f), backend);
        }
    }

    [Test]
    public void PlannerFallsBackPerNodeAndReportsIt()
    {
        using var session = TestNetworks.EveryOp().CreateSession(BackendNames.Cpu);
        var byNode = session.NodePlans.ToDictionary(p => p.Node, p => p.Backend);
        Assert.That(byNode[session.NodePlans.First(p => p.Node.StartsWith(FastConvOps.FusedConv, StringComparison.Ordinal)).Node], Is.EqualTo(BackendNames.Cpu));
        Assert.That(session.NodePlans.Select(p => p.Backend).Distinct(), Is.SubsetOf(new[] { BackendNames.Cpu, BackendNames.Reference, "session" }));
    }
}
