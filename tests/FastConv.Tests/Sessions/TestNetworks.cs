using FastConv.Graphs;
using FastConv.Networks;

namespace FastConv.Tests.Sessions;

/// <summary>Small networks for session tests: the shapes of the real ones, sized to run on the reference in milliseconds.</summary>
internal static class TestNetworks
{
    /// <summary>A ResNet-style net: stem conv + BN + ReLU, max-pool, two basic blocks (one strided with a 1x1 downsample), GAP, FC, softmax.</summary>
    public static Network MiniResNet(int batch = 1, int seed = 1)
    {
        var b = new NetworkBuilder("mini-resnet", seed);
        GraphValue x = b.Input("image", TensorShape.Of(batch, 3, 20, 20));
        x = b.Relu(b.BatchNorm(b.Conv2d(x, 8, 3, 1, 1, bias: false, name: "stem"), name: "stem.bn"), "stem.relu");
        x = b.MaxPool(x, 3, 2, 1, name: "pool");
        foreach (var (k, stride, name) in new[] { (8, 1, "block1"), (16, 2, "block2") })
        {
            GraphValue y = b.Relu(b.BatchNorm(b.Conv2d(x, k, 3, stride, 1, bias: false, name: $"{name}.conv1"), name: $"{name}.bn1"), $"{name}.relu1");
            y = b.BatchNorm(b.Conv2d(y, k, 3, 1, 1, bias: false, name: $"{name}.conv2"), name: $"{name}.bn2");
            GraphValue shortcut = x;
            if (stride != 1 || x.Shape[1] != k)
            {
                shortcut = b.BatchNorm(b.Conv2d(x, k, 1, stride, bias: false, name: $"{name}.down"), name: $"{name}.down.bn");
            }
            x = b.Relu(b.Add(y, shortcut, $"{name}.add"), $"{name}.relu2");
        }
        x = b.Flatten(b.GlobalAvgPool(x, "gap"), name: "flatten");
        x = b.Softmax(b.Linear(x, 10, name: "fc"), name: "prob");
        return b.Build(x);
    }

    /// <summary>
    /// A net that touches every other op of the registry: branches joined by Concat, ConvTranspose and Resize
    /// upsampling, Pad, Transpose, Reshape, PRelu, Gelu, Sqrt, Pow, ReduceMean, Mul/Sub/Div with constants,
    /// MatMul, the activations (Clip as Relu6, LeakyRelu, HardSigmoid, HardSwish, Sigmoid, Tanh), GlobalMaxPool,
    /// AveragePool, Identity and Dropout, and a squeeze-excite gate.
    /// </summary>
    public static Network EveryOp(int batch = 1, int seed = 2)
    {
        var b = new NetworkBuilder("every-op", seed);
        GraphValue x = b.Input("x", TensorShape.Of(batch, 4, 8, 8));
        GraphValue c1 = b.Clip(b.Conv2d(x, 8, 3, 1, 1, name: "c1"), 0, 6, "relu6");
        GraphValue dw = b.HardSwish(b.BatchNorm(b.Conv2d(c1, 8, 5, 1, 2, groups: 8, name: "dw"), name: "dw.bn"), "hswish");
        // Squeeze-excite: GAP → 1x1 conv → ReLU → 1x1 conv → HardSigmoid → Mul.
        GraphValue se = b.GlobalAvgPool(dw, "se.gap");
        se = b.HardSigmoid(b.Conv2d(b.Relu(b.Conv2d(se, 4, 1, name: "se.fc1"), "se.relu"), 8, 1, name: "se.fc2"), 1f / 6, 0.5f, "se.gate");
        GraphValue gated = b.Mul(dw, se, "se.mul");
        // Down and up again: stride-2 conv, then ConvTranspose and Resize, joined with the full-resolution branch.
        GraphValue down = b.LeakyRelu(b.Conv2d(gated, 8, 3, 2, 1, name: "down"), 0.1f, "leaky");
        string ctw = b.Constant("up.weight", Weights(seed, 8 * 4 * 2 * 2, TensorShape.Of(8, 4, 2, 2)));
        GraphValue up = b.Node("ConvTranspose", [down.Name, ctw], new Dictionary<string, AttributeValue> { ["strides"] = AttributeValue.Of(2L, 2L) }, "up");
        string scales = b.Constant("resize.scales", GraphConstant.Float32(TensorShape.Of(4), [1, 1, 2, 2]));
        GraphValue resized = b.Node("Resize", [down.Name, "", scales], new Dictionary<string, AttributeValue> { ["mode"] = AttributeValue.Of("nearest") }, "resize");
        GraphValue cat = b.Concat(1, [gated, up, b.Sigmoid(resized, "sig")], "concat");
        // PRelu with a per-channel slope, Pad, AveragePool.
        string slope = b.Constant("prelu.slope", Weights(seed + 1, 20, TensorShape.Of(20, 1, 1)));
        GraphValue pr = b.Node("PRelu", [cat.Name, slope], name: "prelu");
        string pads = b.Constant("pad.pads", GraphConstant.Int64(TensorShape.Of(8), [0, 0, 1, 1, 0, 0, 1, 1]));
        GraphValue padded = b.Node("Pad", [pr.Name, pads], new Dictionary<string, AttributeValue> { ["mode"] = AttributeValue.Of("reflect") }, "pad");
        GraphValue pooled = b.AvgPool(padded, 3, 2, name: "avg");
        // Element-wise arithmetic with constants: (Tanh(p) − 0.5) / 2, squared, + 1, sqrt, Gelu.
        string half = b.Constant("half", GraphConstant.Float32(TensorShape.Of(), [0.5f]));
        string two = b.Constant("two", GraphConstant.Float32(TensorShape.Of(1), [2f]));
        string one = b.Constant("one", GraphConstant.Float32(TensorShape.Of(1, 20, 1, 1), [.. Enumerable.Repeat(1f, 20)]));
        GraphValue t = b.Node("Div", [b.Node("Sub", [b.Tanh(pooled, "tanh").Name, half], name: "sub").Name, two], name: "div");
        t = b.Node("Pow", [t.Name, two], name: "pow");
        t = b.Node("Sqrt", [b.Node("Add", [t.Name, one], name: "add1").Name], name: "sqrt");
        t = b.Node("Gelu", [b.Dropout(b.Node("Identity", [t.Name], name: "identity"), "drop").Name], name: "gelu");
        // Head: ReduceMean over W, Transpose, Reshape, MatMul with a constant, GlobalMaxPool on the side.
        GraphValue mean = b.Node("ReduceMean", [t.Name], new Dictionary<string, AttributeValue> { ["axes"] = AttributeValue.Of(new long[] { 3 }), ["keepdims"] = AttributeValue.Of(0L) }, "mean");
        GraphValue tr = b.Node("Transpose", [mean.Name], new Dictionary<string, AttributeValue> { ["perm"] = AttributeValue.Of(0L, 2L, 1L) }, "transpose");
        string shape = b.Constant("reshape.shape", GraphConstant.Int64(TensorShape.Of(2), [batch, -1]));
        GraphValue flat = b.Node("Reshape", [tr.Name, shape], name: "reshape");
        string mw = b.Constant("mm.weight", Weights(seed + 2, flat.Shape[1] * 6, TensorShape.Of(flat.Shape[1], 6)));
        GraphValue logits = b.Node("MatMul", [flat.Name, mw], name: "matmul");
        GraphValue side = b.Flatten(b.GlobalMaxPool(cat, "gmp"), name: "side");
        return b.Build(b.Softmax(logits, name: "out"), side);
    }

    public static GraphConstant Weights(int seed, int count, TensorShape shape)
    {
        var rng = new Random(seed);
        return GraphConstant.Float32(shape, [.. Enumerable.Range(0, count).Select(_ => rng.NextSingle() - 0.5f)]);
    }

    public static Dictionary<string, Tensor> RandomInputs(Graph graph, int seed)
    {
        var rng = new Random(seed);
        return graph.Inputs.ToDictionary(i => i.Name, i => Support.TestData.Floats(rng, i.Shape));
    }
}
