using FastConv.Graphs;
using FastConv.Graphs.Ops;
using FastConv.Networks;

namespace FastConv.Tests.Networks;

/// <summary>Build-time shape inference and graph validation: each mistake is a typed error naming the node (or value) and the shapes.</summary>
public sealed class GraphValidationTests
{
    [Test]
    [Category("Hostile")]
    [Description("InvalidShapeException naming the layer and both shapes")]
    public void ConvOnTheWrongChannelCountNamesTheLayerAndShapes()
    {
        var b = new NetworkBuilder("bad");
        GraphValue x = b.Input("x", TensorShape.Of(1, 3, 8, 8));
        string w = b.Constant("w", GraphConstant.Float32(TensorShape.Of(4, 5, 3, 3), new float[180]));
        var e = Assert.Throws<InvalidShapeException>(() => b.Node("Conv", [x.Name, w], name: "conv_a"));
        Assert.That(e!.Message, Does.StartWith("Conv 'conv_a'").And.Contain("[4,5,3,3]").And.Contain("C=3"));
        // The failed layer is not left in the graph.
        Assert.That(b.Build(x).Graph.Nodes, Is.Empty);
    }

    [Test]
    [Category("Hostile")]
    [Description("InvalidHyperparameterException naming the layer")]
    public void KernelLargerThanPaddedInputIsAHyperparameterError()
    {
        var b = new NetworkBuilder("bad");
        GraphValue x = b.Input("x", TensorShape.Of(1, 3, 4, 4));
        var e = Assert.Throws<InvalidHyperparameterException>(() => b.Conv2d(x, 8, 7, name: "big"));
        Assert.That(e!.Message, Does.StartWith("Conv 'big'").And.Contain("7x7").And.Contain("4x4"));
        Assert.Throws<InvalidHyperparameterException>(() => b.MaxPool(x, 2, 0, name: "zero_stride"));
    }

    [Test]
    [Category("Hostile")]
    [Description("InvalidShapeException naming both operands")]
    public void ResidualAddOfMismatchedShapesNamesBoth()
    {
        var b = new NetworkBuilder("bad");
        GraphValue x = b.Input("x", TensorShape.Of(1, 4, 8, 8));
        GraphValue y = b.Conv2d(x, 8, 3, stride: 2, pad: 1, name: "c");
        var e = Assert.Throws<InvalidShapeException>(() => b.Add(y, x, "res"));
        Assert.That(e!.Message, Does.StartWith("Add 'res'").And.Contain("[1,8,4,4]").And.Contain("[1,4,8,8]"));
        Assert.Throws<InvalidShapeException>(() => b.Concat(1, [y, x], "cat"));
        Assert.Throws<InvalidShapeException>(() => b.Linear(x, 10, name: "fc_on_4d"));
    }

    [Test]
    [Category("Hostile")]
    [Description("InvalidShapeException naming the node and the shapes")]
    public void ReshapeAndGemmShapeErrors()
    {
        var b = new NetworkBuilder("bad");
        GraphValue x = b.Input("x", TensorShape.Of(2, 6));
        string s = b.Constant("s", GraphConstant.Int64(TensorShape.Of(2), [5, -1]));
        Assert.That(Assert.Throws<InvalidShapeException>(() => b.Node("Reshape", [x.Name, s], name: "r"))!.Message, Does.StartWith("Reshape 'r'").And.Contain("[5,-1]"));
        string w = b.Constant("w", GraphConstant.Float32(TensorShape.Of(7, 3), new float[21]));
        Assert.That(Assert.Throws<InvalidShapeException>(() => b.Node("Gemm", [x.Name, w], name: "g"))!.Message, Does.StartWith("Gemm 'g'").And.Contain("inner"));
    }

    [Test]
    [Category("Hostile")]
    [Description("InvalidModelException naming the value")]
    public void DanglingInputsCyclesAndDuplicatesAreInvalidModels()
    {
        var dangling = new Graph("g");
        dangling.Inputs.Add(new GraphValue("x", TensorShape.Of(1, 4)));
        dangling.AddNode("Relu", "r", ["ghost"], ["y"]);
        dangling.Outputs.Add("y");
        Assert.That(Assert.Throws<InvalidModelException>(() => GraphInfo.Analyze(dangling))!.Message, Does.Contain("'ghost'").And.Contain("dangling"));

        var cycle = new Graph("g");
        cycle.Inputs.Add(new GraphValue("x", TensorShape.Of(1, 4)));
        cycle.AddNode("Add", "a", ["x", "c"], ["b"]);
        cycle.AddNode("Relu", "r", ["b"], ["c"]);
        cycle.Outputs.Add("c");
        Assert.That(Assert.Throws<InvalidModelException>(() => GraphInfo.Analyze(cycle))!.Message, Does.Contain("cycle"));

        var twice = new Graph("g");
        twice.Inputs.Add(new GraphValue("x", TensorShape.Of(1, 4)));
        twice.AddNode("Relu", "r1", ["x"], ["y"]);
        twice.AddNode("Relu", "r2", ["x"], ["y"]);
        twice.Outputs.Add("y");
        Assert.That(Assert.Throws<InvalidModelException>(() => GraphInfo.Analyze(twice))!.Message, Does.Contain("'y'").And.Contain("already defined"));

        var noOutput = new Graph("g");
        noOutput.Inputs.Add(new GraphValue("x", TensorShape.Of(1, 4)));
        noOutput.Outputs.Add("z");
        Assert.Throws<InvalidModelException>(() => GraphInfo.Analyze(noOutput));
    }

    [Test]
    public void NodesAreSortedTopologically()
    {
        var g = new Graph("g");
        g.Inputs.Add(new GraphValue("x", TensorShape.Of(1, 4)));
        g.AddNode("Sigmoid", "second", ["a"], ["b"]);
        g.AddNode("Relu", "first", ["x"], ["a"]);
        g.Outputs.Add("b");
        GraphInfo info = GraphInfo.Analyze(g);
        Assert.That(info.Nodes.Select(n => n.Node.Name), Is.EqualTo(new[] { "first", "second" }));
    }

    [Test]
    [Category("Hostile")]
    [Description("UnsupportedModelException listing every offending node")]
    public void EveryUnsupportedNodeIsListedAtOnce()
    {
        var g = new Graph("g");
        g.Inputs.Add(new GraphValue("x", TensorShape.Of(1, 2, 4, 4)));
        g.AddNode("LSTM", "rnn", ["x"], ["a"]);
        g.AddNode("Resize", "up", ["a"], ["b"], new Dictionary<string, AttributeValue> { ["mode"] = AttributeValue.Of("lanczos") });
        g.AddNode("Pad", "pad", ["b"], ["c"], new Dictionary<string, AttributeValue> { ["mode"] = AttributeValue.Of("wrap") });
        g.Nodes.Add(new Node("MaxPool", "pool", ["c"], ["d", "idx"], new Dictionary<string, AttributeValue> { ["kernel_shape"] = AttributeValue.Of(2L, 2L) }) { Opset = 12 });
        g.AddNode("Relu", "fine", ["d"], ["e"]);
        g.Outputs.Add("e");
        var e = Assert.Throws<UnsupportedModelException>(() => GraphInfo.Analyze(g));
        Assert.That(e!.Problems, Has.Count.EqualTo(4));
        Assert.That(e.Problems[0], Does.Contain("LSTM 'rnn'").And.Contain("op type 'LSTM'"));
        Assert.That(e.Problems[1], Does.Contain("Resize 'up'").And.Contain("'mode' = \"lanczos\""));
        Assert.That(e.Problems[2], Does.Contain("Pad 'pad'").And.Contain("wrap"));
        Assert.That(e.Problems[3], Does.Contain("MaxPool 'pool' (opset 12)").And.Contain("Indices"));
        Assert.That(OpRegistry.IsSupported(g.Nodes[4], out string? none), Is.True);
        Assert.That(none, Is.Null);
    }

    [Test]
    public void RegistryCoversTheReferenceList()
    {
        string[] reference =
        [
            "Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Relu", "LeakyRelu", "PRelu", "Clip",
            "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Gelu", "BatchNormalization", "Gemm", "MatMul", "Softmax", "Add", "Sub", "Mul",
            "Div", "Concat", "Flatten", "Reshape", "Transpose", "Pad", "Resize", "ReduceMean", "Pow", "Sqrt", "Dropout", "Identity",
        ];
        Assert.That(reference, Is.SubsetOf(OpRegistry.OpTypes));
    }

    [Test]
    public void AutoPadSameUpperMatchesOnnx()
    {
        // ONNX SAME_UPPER: output = ceil(in / stride), the odd pad at the end.
        var b = new NetworkBuilder("same");
        GraphValue x = b.Input("x", TensorShape.Of(1, 1, 7, 8));
        string w = b.Constant("w", GraphConstant.Float32(TensorShape.Of(1, 1, 3, 3), new float[9]));
        GraphValue y = b.Node("Conv", [x.Name, w], new Dictionary<string, AttributeValue> { ["auto_pad"] = AttributeValue.Of("SAME_UPPER"), ["strides"] = AttributeValue.Of(2L, 2L) }, "c");
        Assert.That(y.Shape, Is.EqualTo(TensorShape.Of(1, 1, 4, 4)));
        Node node = b.Build(y).Graph.Nodes[0];
        Assert.That(ConvOp.Params(node, x.Shape, TensorShape.Of(1, 1, 3, 3)).Padding, Is.EqualTo(new FastConv.Ops.Padding2d(1, 0, 1, 1)));
    }
}
