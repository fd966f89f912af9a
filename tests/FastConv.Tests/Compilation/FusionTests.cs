using FastConv.Backends;
using FastConv.Compilation;
using FastConv.Cpu;
using FastConv.Graphs;
using FastConv.Graphs.Ops;
using FastConv.Networks;
using FastConv.Onnx;
using FastConv.Sessions;
using FastConv.Tests.Support;

namespace FastConv.Tests.Compilation;

/// <summary>
/// The fuse pass's rewrites of what exporters write out op by op: HardSwish, HardSigmoid, Gelu and Swish (SiLU) recognized in the
/// PyTorch and Paddle2ONNX spellings (and then fused into conv epilogues), per-channel constants folded into convs,
/// element-wise op + activation in one pass. Each is checked for what the graph becomes and, run on cpu, against the
/// same graph compiled without the rewrites.
/// </summary>
public sealed class FusionTests
{
    private static Graph Optimized(Graph g) => GraphCompiler.Optimize(g, evaluator: new ReferenceBackend());

    private static string[] Ops(Graph g) => [.. g.Nodes.Select(n => n.OpType)];

    [TestCase("mobilenetv3-torch-opset11")]
    [TestCase("mobilenetv3-paddle")]
    [TestCase("mobilenetv3-opset13")]
    [TestCase("dbnet-head")]
    public void DecomposedHardSwishBecomesOneOpAndJoinsTheConvEpilogue(string net)
    {
        Graph g = Optimized(OnnxModel.Load(OnnxTestNets.Get(net).Model));
        string[] ops = Ops(g);
        Assert.That(ops, Has.None.EqualTo("Clip").And.None.EqualTo("Div").And.None.EqualTo("HardSwish"), string.Join(" ", ops));
        Assert.That(g.Nodes.Count(n => n.OpType == FastConvOps.FusedConv && n.GetString("activation", "") == "HardSwish"), Is.GreaterThan(0));
    }

    [Test]
    public void DecomposedGeluBecomesGelu()
    {
        Graph g = Optimized(OnnxModel.Load(OnnxTestNets.SvtrAttention().Model));
        Assert.That(Ops(g), Has.None.EqualTo("Erf").And.One.EqualTo("Gelu"), string.Join(" ", Ops(g)));
    }

    [Test]
    public void PatternsWithAnIntermediateReadTwiceAreLeftAlone()
    {
        // c = Clip(x + 3, 0, 6) is also a graph output: recognizing HardSwish would lose it.
        var b = new NetworkBuilder("shared");
        GraphValue x = b.Input("x", TensorShape.Of(1, 4));
        string three = b.Constant("three", GraphConstant.Float32(TensorShape.Of(), [3])), six = b.Constant("six", GraphConstant.Float32(TensorShape.Of(), [6]));
        GraphValue c = b.Clip(b.Node("Add", [x.Name, three], name: "add"), 0, 6, "clip");
        GraphValue y = b.Node("Div", [b.Node("Mul", [x.Name, c.Name], name: "mul").Name, six], name: "div");
        Graph g = Optimized(b.Build(y, c).Graph);
        // x + 3 then Clip still run as one pass (the Add's only reader is the Clip); the rest stays as written.
        Assert.That(Ops(g), Is.EqualTo(new[] { FastConvOps.FusedBinary, "Mul", "Div" }));
    }

    [Test]
    public void PerChannelScaleAndShiftFoldIntoTheConv()
    {
        var b = new NetworkBuilder("affine", seed: 4);
        GraphValue x = b.Input("x", TensorShape.Of(2, 3, 6, 6));
        GraphValue conv = b.Conv2d(x, 5, 3, pad: 1, name: "conv");
        string scale = b.Constant("scale", GraphConstant.Float32(TensorShape.Of(5, 1, 1), [0.5f, -2f, 3f, 0.25f, 1.5f]));
        string shift = b.Constant("shift", GraphConstant.Float32(TensorShape.Of(1, 5, 1, 1), [1f, -1f, 0.5f, 0f, 2f]));
        GraphValue y = b.Relu(b.Node("Add", [b.Node("Mul", [conv.Name, scale], name: "mul").Name, shift], name: "add"), "relu");
        Graph g = b.Build(y).Graph;
        Assert.That(Ops(Optimized(g)), Is.EqualTo(new[] { FastConvOps.FusedConv }));
        AssertSameAsUnfused(g, "x");
    }

    [Test]
    public void AnElementwiseOpAndItsActivationRunAsOnePass()
    {
        var b = new NetworkBuilder("binary", seed: 5);
        GraphValue x = b.Input("x", TensorShape.Of(2, 4, 5, 5));
        GraphValue p = b.MaxPool(x, 3, 1, 1, name: "pool");
        GraphValue y = b.Relu(b.Add(p, x, "add"), "relu");
        Graph g = b.Build(y).Graph;
        Graph o = Optimized(g);
        Assert.That(Ops(o), Is.EqualTo(new[] { "MaxPool", FastConvOps.FusedBinary }));
        Assert.That(o.Nodes[1].Outputs[0], Is.EqualTo("relu"));
        AssertSameAsUnfused(g, "x");
    }

    [TestCase(1f)]
    [TestCase(1.702f)]
    public void DecomposedSwishBecomesOneOpAndJoinsTheConvEpilogue(float alpha)
    {
        // PyTorch writes SiLU as x · Sigmoid(x); Swish(α) as x · Sigmoid(x · α).
        var b = new NetworkBuilder("silu", seed: 6);
        GraphValue x = b.Input("x", TensorShape.Of(2, 3, 9, 9));
        GraphValue conv = b.Conv2d(x, 8, 3, pad: 1, name: "conv");
        string arg = conv.Name;
        if (alpha != 1f)
        {
            string a = b.Constant("alpha", GraphConstant.Float32(TensorShape.Of(), [alpha]));
            arg = b.Node("Mul", [a, conv.Name], name: "scaled").Name;
        }
        GraphValue y = b.Node("Mul", [conv.Name, b.Node("Sigmoid", [arg], name: "sigmoid").Name], name: "silu");
        Graph g = b.Build(y).Graph;
        Graph o = Optimized(g);
        Assert.That(Ops(o), Is.EqualTo(new[] { FastConvOps.FusedConv }), string.Join(" ", Ops(o)));
        Assert.That((o.Nodes[0].GetString("activation", ""), o.Nodes[0].GetFloat("activation_alpha", 0f)), Is.EqualTo(("Swish", alpha)));
        AssertSameAsUnfused(g, "x");
    }

    [Test]
    public void DecomposedMishBecomesMish()
    {
        var b = new NetworkBuilder("mish", seed: 7);
        GraphValue x = b.Input("x", TensorShape.Of(2, 3, 9, 9));
        GraphValue conv = b.Conv2d(x, 8, 3, pad: 1, name: "conv");
        string tanh = b.Node("Tanh", [b.Node("Softplus", [conv.Name], name: "softplus").Name], name: "tanh").Name;
        GraphValue y = b.Node("Mul", [tanh, conv.Name], name: "mish");
        Graph g = b.Build(y).Graph;
        Assert.That(Ops(Optimized(g)), Is.EqualTo(new[] { "Conv", "Mish" }));
        AssertSameAsUnfused(g, "x");
    }

    /// <summary>The graph on cpu with every rewrite and with none: equal within float rounding of the rewritten steps.</summary>
    private static void AssertSameAsUnfused(Graph g, string input)
    {
        Tensor x = TestData.Floats(new Random(9), g.Inputs.Single(i => i.Name == input).Shape);
        var feeds = new Dictionary<string, Tensor> { [input] = x };
        using var fused = new FastConvSession(g, new FastConvSessionOptions { Backend = BackendNames.Cpu, Threads = 1, Exact = true });
        using var plain = new FastConvSession(g, new FastConvSessionOptions { Backend = BackendNames.Cpu, Threads = 1, Exact = true, Optimizer = OptimizerOptions.None });
        foreach (var (name, expected) in plain.Run(feeds))
        {
            Compare.Close(expected, fused.Run(feeds)[name], $"{g.Name} '{name}' fused vs unfused", 1e-5f, 1e-5f);
        }
    }
}
