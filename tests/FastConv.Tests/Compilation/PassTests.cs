using FastConv.Backends;
using FastConv.Compilation;
using FastConv.Cpu;
using FastConv.Graphs;
using FastConv.Graphs.Ops;
using FastConv.Networks;
using FastConv.Tests.Sessions;

namespace FastConv.Tests.Compilation;

/// <summary>Each compile pass run alone on a small graph, checking what it changed in the IR and nothing else.</summary>
public sealed class PassTests
{
    private static Graph Chain(int channels = 5)
    {
        var b = new NetworkBuilder("chain");
        GraphValue x = b.Input("x", TensorShape.Of(2, channels, 3, 4));
        GraphValue r1 = b.Relu(x, "r1");
        GraphValue s = b.Node("Sqrt", [r1.Name], name: "sqrt");
        GraphValue r2 = b.Relu(s, "r2");
        GraphValue sum = b.Add(r2, r1, "sum");
        GraphValue y = b.Relu(sum, "y");
        return b.Build(y).Graph;
    }

    [Test]
    public void InferKeepsRecordedShapesAndReinfersWhenInputsChange()
    {
        Graph g = Chain();
        Assert.That(g.Values["sum"].Shape, Is.EqualTo(TensorShape.Of(2, 5, 3, 4)), "the builder infers once and keeps");
        // A recorded shape is trusted, not recomputed (a wrong one shows through).
        g.Values["sqrt"] = new ValueInfo("sqrt", TensorShape.Of(7));
        InferPass.Run(g);
        Assert.That(g.Values["sqrt"].Shape, Is.EqualTo(TensorShape.Of(7)));
        // New input shapes make every kept shape stale: all are inferred again.
        g.Inputs[0] = new GraphValue("x", TensorShape.Of(1, 5, 6, 6));
        InferPass.Run(g);
        Assert.That(g.Values["sqrt"].Shape, Is.EqualTo(TensorShape.Of(1, 5, 6, 6)));
        Assert.That(g.Values["y"].Shape, Is.EqualTo(TensorShape.Of(1, 5, 6, 6)));
    }

    [Test]
    public void FoldEvaluatesConstantNodesWithTheEvaluatorAndDropsTheirValues()
    {
        var b = new NetworkBuilder("fold");
        GraphValue x = b.Input("x", TensorShape.Of(1, 3));
        string c = b.Constant("c", GraphConstant.Float32(TensorShape.Of(1, 3), [1, 4, 9]));
        GraphValue s = b.Node("Sqrt", [c], name: "s");
        GraphValue y = b.Node("Mul", [x.Name, s.Name], name: "y");
        Graph g = b.Build(y).Graph;
        using var reference = new ReferenceBackend();
        FoldPass.Run(g, reference);
        Assert.That(g.Nodes.Select(n => n.Name), Is.EqualTo(new[] { "y" }));
        Assert.That(g.Constants["s"].Floats, Is.EqualTo(new[] { 1f, 2f, 3f }));
        Assert.That(g.Values.ContainsKey("s"), Is.False, "a folded value is a constant, no longer a run-time value");
    }

    [Test]
    public void FuseRemovesTheValuesItFusesAway()
    {
        Graph g = TestNetworks.MiniResNet().Graph;
        InferPass.Run(g);
        FusePass.Run(g, OptimizerOptions.All);
        var produced = g.Nodes.SelectMany(n => n.Outputs).Concat(g.Inputs.Select(i => i.Name)).ToHashSet();
        Assert.That(g.Values.Keys, Is.EquivalentTo(produced), "Values holds exactly the values some node still writes");
        Assert.That(g.Nodes.Count(n => n.OpType == FastConvOps.FusedConv), Is.EqualTo(5));
    }

    [Test]
    public void PlaceChoosesTheFirstBackendThatRunsEachNodeAndInsertsCopiesWhereSpacesChange()
    {
        Graph g = Chain();
        InferPass.Run(g);
        using var device = new FakeDeviceBackend();
        using var cpu = new CpuBackend();
        PlacePass.Run(g, [device, cpu]);
        Assert.That(g.Nodes.Where(n => n.OpType != FastConvOps.Copy).Select(n => $"{n.Name}@{n.Backend}"),
            Is.EqualTo(new[] { "r1@fake-device", "sqrt@cpu", "r2@fake-device", "sum@fake-device", "y@fake-device" }));
        Node[] copies = [.. g.Nodes.Where(n => n.OpType == FastConvOps.Copy)];
        // x up; r1 down for sqrt; sqrt up for r2; y down (the graph output leaves from the host).
        Assert.That(copies.Select(c => c.GetString("to", "")), Is.EqualTo(new[] { "device", "host", "device", "host" }));
        Assert.That(copies.All(c => c.Backend == "fake-device"));
        Assert.That(g.Values["y"].Memory, Is.EqualTo(MemorySpace.Host));
        Assert.That(g.Values[g.Nodes.Single(n => n.Name == "sum").Outputs[0]].Memory, Is.EqualTo(MemorySpace.Device));
        // r1 is read on both sides: one copy down, shared; its device original still feeds sum.
        Assert.That(g.Nodes.Single(n => n.Name == "sum").Inputs[1], Is.EqualTo("r1"));
        Assert.That(g.Nodes.Single(n => n.Name == "sqrt").Inputs[0], Is.Not.EqualTo("r1"));
        GraphInfo.SortTopologically(g); // still a valid graph
    }

    [TestCase("mnist")]
    [TestCase("resnet18")]
    public void AWholeNetworkOnADeviceBackendCrossesOnceEachWay(string builtin)
    {
        Graph g = Builtins.Create(builtin);
        InferPass.Run(g);
        FusePass.Run(g, OptimizerOptions.All);
        using var device = new FakeDeviceBackend();
        using var cpu = new CpuBackend();
        PlacePass.Run(g, [device, cpu]);
        Node[] copies = [.. g.Nodes.Where(n => n.OpType == FastConvOps.Copy)];
        Assert.That(copies.Select(c => c.GetString("to", "")), Is.EqualTo(new[] { "device", "host" }), string.Join(", ", copies.Select(c => c.Name)));
    }

    [TestCase(5)]
    [TestCase(8)]
    [TestCase(17)]
    public void LayoutKeepsABlockedChainBlockedAndReordersOnlyAtItsEnds(int channels)
    {
        Graph plain = Chain(channels);
        Graph g = GraphCompiler.Clone(plain);
        InferPass.Run(g);
        using var blocked = new BlockedReluBackend();
        using var reference = new ReferenceBackend();
        IBackend[] backends = [blocked, reference];
        PlacePass.Run(g, backends);
        LayoutPass.Run(g, backends);
        string Layout(string value) => g.Values[value].Layout.ToString();
        Node[] reorders = [.. g.Nodes.Where(n => n.OpType == FastConvOps.Reorder)];
        // x is reordered to 8c for r1; sqrt, r2, sum and y follow (element-wise), so only y's way out needs another.
        Assert.That(Layout(g.Nodes.Single(n => n.Name == "r1").Outputs[0]), Is.EqualTo("NCHW8c"));
        Assert.That(Layout(g.Nodes.Single(n => n.Name == "sum").Outputs[0]), Is.EqualTo("NCHW8c"), "Add of same-shaped blocked values stays blocked");
        Assert.That(reorders.Select(r => (int)r.GetInt("block", -1)), Is.EqualTo(new[] { 8, 0 }), "one reorder in (x), one out (y)");
        Assert.That(g.Values["y"].Layout, Is.EqualTo(TensorLayout.Nchw));

        // Run both and compare exactly: blocking changes where values sit, not what they are.
        var x = Tensor.Allocate(2, channels, 3, 4);
        var rng = new Random(channels);
        for (int i = 0; i < x.Length; i++)
        {
            x.Span[i] = (float)(rng.NextDouble() * 4 - 2);
        }
        float[] Run(Graph graph, IReadOnlyList<IBackend> bs)
        {
            var compiled = GraphCompiler.Compile(graph, new CompileOptions { Backends = bs });
            using var plan = ExecutionPlan.Create(compiled, bs);
            x.Span.CopyTo(plan.Input(0).Span);
            plan.Execute();
            return plan.Output(0).ToArray();
        }
        Assert.That(Run(plain, backends), Is.EqualTo(Run(plain, [reference])));
    }

    [Test]
    public void MemorySharesTheArenaBetweenValuesThatAreNotLiveTogether()
    {
        Graph g = Chain();
        InferPass.Run(g);
        using var reference = new ReferenceBackend();
        PlacePass.Run(g, [reference]);
        MemoryPlan m = MemoryPass.Run(g);
        long one = ArenaPlanner.Align(2 * 5 * 3 * 4 * sizeof(float));
        // x, r1, sqrt, r2, sum, y: at most three are live at once (r1 lives until sum).
        Assert.That(m.BytesOf(MemorySpace.Host), Is.EqualTo(3 * one));
        Assert.That(m.BytesOf(MemorySpace.Device), Is.Zero);
        Assert.That(m.Slots.Keys, Is.EquivalentTo(new[] { "x", "r1", "sqrt", "r2", "sum", "y" }));
    }

    [Test]
    public void EveryPassIsRecordedWithTheNodesItLeft()
    {
        using var reference = new ReferenceBackend();
        CompiledGraph c = GraphCompiler.Compile(TestNetworks.MiniResNet().Graph, new CompileOptions { Backends = [reference], Evaluator = reference });
        Assert.That(c.Graph.Passes.Select(p => p.Name), Is.EqualTo(new[] { "import", "infer", "fold", "fuse", "place", "layout", "memory" }));
        Assert.That(c.Graph.Passes[^1].Nodes, Is.EqualTo(c.Graph.Nodes.Count));
        Assert.That(c.Graph.Passes.Single(p => p.Name == "fuse").Nodes, Is.LessThan(c.Graph.Passes.Single(p => p.Name == "infer").Nodes));
    }
}
