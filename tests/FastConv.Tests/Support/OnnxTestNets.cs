namespace FastConv.Tests.Support;

/// <summary>A generated ONNX network: its bytes, its one input (name and shape) and a label.</summary>
internal sealed record OnnxTestNet(string Name, byte[] Model, string Input, int[] InputShape)
{
    public override string ToString() => Name;
}

/// <summary>
/// Small but complete CNNs in the forms exporters write, generated in the tests with seeded weights: each exercises
/// the importer's paths (opsets 9 to 17, raw and typed initializers, Constant-node weights, PyTorch's flatten
/// sub-graph, Clip with inputs, Dropout and Identity) and the ops of its family.
/// </summary>
internal static class OnnxTestNets
{
    public static IEnumerable<string> Names => All().Select(n => n.Name);

    public static OnnxTestNet Get(string name) => All().Single(n => n.Name == name);

    public static IEnumerable<OnnxTestNet> All()
    {
        yield return LeNet();
        yield return Vgg();
        yield return ResNet();
        yield return MobileNetV3();
        yield return MobileNetV3(opset: 13, name: "mobilenetv3-opset13");
        yield return Fpn();
        yield return OldOpsets();
    }

    /// <summary>LeNet-5 (opset 9, typed float_data initializers): conv5x5-6, avg-pool, conv5x5-16, avg-pool, PyTorch flatten, FC 120/84/10, softmax.</summary>
    public static OnnxTestNet LeNet()
    {
        var b = new OnnxModelBuilder(seed: 5, opset: 9) { RawData = false };
        string x = b.Input("input", -1, 1, 32, 32);
        string y = b.AvgPool(b.Relu(b.Conv(x, 1, 6, 5, 5, padH: 0, padW: 0)), 2, 2);
        y = b.AvgPool(b.Relu(b.Conv(y, 6, 16, 5, 5, padH: 0, padW: 0)), 2, 2);
        y = b.TorchFlatten(y);
        y = b.Relu(b.Linear(y, 400, 120));
        y = b.Relu(b.Linear(y, 120, 84));
        y = b.Softmax(b.Linear(y, 84, 10));
        b.Output(y);
        return new("lenet", b.ToBytes(), x, [1, 1, 32, 32]);
    }

    /// <summary>VGG-style (opset 11, weights as Constant nodes): 3 stages of 3x3 conv + ReLU and max-pool, Flatten, Dropout, two FC.</summary>
    public static OnnxTestNet Vgg()
    {
        var b = new OnnxModelBuilder(seed: 16, opset: 11) { WeightsAsConstantNodes = true };
        string x = b.Input("input", 1, 3, 32, 32);
        string y = x;
        int c = 3;
        foreach (var (k, convs) in new[] { (16, 2), (32, 2), (64, 3) })
        {
            for (int i = 0; i < convs; i++)
            {
                y = b.Relu(b.Conv(y, c, k, 3, 3));
                c = k;
            }
            y = b.MaxPool(y, 2, 2);
        }
        y = b.Flatten(y);
        y = b.Op("Dropout", [y], OnnxModelBuilder.Attr("ratio", 0.5f));
        y = b.Relu(b.Linear(y, 64 * 4 * 4, 128));
        y = b.Op("Dropout", [y]);
        y = b.Linear(y, 128, 10);
        b.Output(y);
        return new("vgg", b.ToBytes(), x, [1, 3, 32, 32]);
    }

    /// <summary>ResNet-style (opset 13): stem conv+BN+ReLU+max-pool, a basic block, a strided block with a 1x1 downsample, global average pool, FC.</summary>
    public static OnnxTestNet ResNet()
    {
        var b = new OnnxModelBuilder(seed: 18, opset: 13);
        string x = b.Input("input", 1, 3, 40, 40);
        string y = b.Relu(b.BatchNorm(b.Conv(x, 3, 16, 7, 7, 2, 2, bias: false), 16));
        y = b.MaxPool(y, 3, 2, 1);
        y = Block(b, y, 16, 16, 1);
        y = Block(b, y, 16, 32, 2);
        y = Block(b, y, 32, 32, 1);
        y = b.Op("GlobalAveragePool", [y]);
        y = b.Op("Identity", [b.Flatten(y)]);
        y = b.Linear(y, 32, 10);
        b.Output(y);
        return new("resnet", b.ToBytes(), x, [1, 3, 40, 40]);

        static string Block(OnnxModelBuilder b, string x, int c, int k, int stride)
        {
            string y = b.Relu(b.BatchNorm(b.Conv(x, c, k, 3, 3, stride, stride, bias: false), k));
            y = b.BatchNorm(b.Conv(y, k, k, 3, 3, bias: false), k);
            string shortcut = stride == 1 && c == k ? x : b.BatchNorm(b.Conv(x, c, k, 1, 1, stride, stride, bias: false), k);
            return b.Relu(b.Op("Add", [y, shortcut]));
        }
    }

    /// <summary>
    /// MobileNetV3-style: stem conv s2 + BN + HardSwish; inverted residuals with depthwise 3x3 and 5x5 (one with stride
    /// 2 in H only), squeeze-excite (GlobalAveragePool, 1x1 convs, ReLU, HardSigmoid, Mul), ReLU6 as Clip with min/max
    /// inputs, residual adds; head conv + HardSwish, PyTorch flatten, FC. Opset 14 uses HardSwish; opset 13 spells it
    /// x·HardSigmoid(x).
    /// </summary>
    public static OnnxTestNet MobileNetV3(int opset = 17, string name = "mobilenetv3")
    {
        var b = new OnnxModelBuilder(seed: 3, opset: opset);
        string x = b.Input("input", 1, 3, 48, 40);
        string y = b.HardSwish(b.BatchNorm(b.Conv(x, 3, 16, 3, 3, 2, 2, bias: false), 16));
        y = Bneck(b, y, 16, 16, 16, 3, 1, 1, se: true, hswish: false);
        y = Bneck(b, y, 16, 48, 24, 3, 2, 2, se: false, hswish: false);
        y = Bneck(b, y, 24, 72, 24, 5, 1, 1, se: true, hswish: true);
        y = Bneck(b, y, 24, 72, 40, 5, 2, 1, se: true, hswish: true); // stride in H only
        y = Bneck(b, y, 40, 96, 40, 3, 1, 1, se: false, hswish: true);
        y = b.HardSwish(b.BatchNorm(b.Conv(y, 40, 96, 1, 1, bias: false), 96));
        y = b.Op("GlobalAveragePool", [y]);
        y = b.HardSwish(b.Conv(y, 96, 128, 1, 1));
        y = b.TorchFlatten(y);
        y = b.Linear(y, 128, 10);
        b.Output(y);
        return new(name, b.ToBytes(), x, [1, 3, 48, 40]);

        static string Bneck(OnnxModelBuilder b, string x, int c, int exp, int k, int r, int strideH, int strideW, bool se, bool hswish)
        {
            string Act(string v) => hswish ? b.HardSwish(v) : b.Clip(v, 0f, 6f);
            string y = exp != c ? Act(b.BatchNorm(b.Conv(x, c, exp, 1, 1, bias: false), exp)) : x;
            y = Act(b.BatchNorm(b.Conv(y, exp, exp, r, r, strideH, strideW, group: exp, bias: false), exp));
            if (se)
            {
                int squeeze = Math.Max(8, exp / 4);
                string s = b.Op("GlobalAveragePool", [y]);
                s = b.Relu(b.Conv(s, exp, squeeze, 1, 1));
                s = b.Op("HardSigmoid", [b.Conv(s, squeeze, exp, 1, 1)], OnnxModelBuilder.Attr("alpha", 1f / 6), OnnxModelBuilder.Attr("beta", 0.5f));
                y = b.Op("Mul", [y, s]);
            }
            y = b.BatchNorm(b.Conv(y, exp, k, 1, 1, bias: false), k);
            return strideH == 1 && strideW == 1 && c == k ? b.Op("Add", [y, x]) : y;
        }
    }

    /// <summary>FPN-style head (opset 13): three strided stages, 1x1 laterals, top-down nearest Resize ×2 and a
    /// stride-2 ConvTranspose, a linear Resize, Concat on channels, 3x3 smoothing; two outputs.</summary>
    public static OnnxTestNet Fpn()
    {
        var b = new OnnxModelBuilder(seed: 7, opset: 13);
        string x = b.Input("input", 1, 3, 32, 32);
        string c2 = b.Relu(b.Conv(x, 3, 16, 3, 3, 2, 2));
        string c3 = b.Relu(b.Conv(c2, 16, 32, 3, 3, 2, 2));
        string c4 = b.Relu(b.Conv(c3, 32, 64, 3, 3, 2, 2));
        string p4 = b.Conv(c4, 64, 24, 1, 1);
        string up4 = b.Op("Resize", [p4, "", b.Float("scales", [1f, 1f, 2f, 2f], 4)], OnnxModelBuilder.Attr("mode", "nearest"),
            OnnxModelBuilder.Attr("coordinate_transformation_mode", "asymmetric"), OnnxModelBuilder.Attr("nearest_mode", "floor"));
        string p3 = b.Op("Add", [b.Conv(c3, 32, 24, 1, 1), up4]);
        string w = b.Float("deconv_w", b.HeUniform(24 * 24 * 2 * 2, 24 * 4), 24, 24, 2, 2);
        string up3 = b.Op("ConvTranspose", [p3, w, b.Float("deconv_b", b.Uniform(24, -0.1f, 0.1f), 24)],
            OnnxModelBuilder.Attr("kernel_shape", 2L, 2L), OnnxModelBuilder.Attr("strides", 2L, 2L));
        string p2 = b.Op("Add", [b.Conv(c2, 16, 24, 1, 1), up3]);
        string up3Linear = b.Op("Resize", [p3, "", b.Float("scales", [1f, 1f, 2f, 2f], 4)], OnnxModelBuilder.Attr("mode", "linear"));
        string cat = b.Op("Concat", [p2, up3Linear], OnnxModelBuilder.Attr("axis", 1L));
        string outP2 = b.Conv(cat, 48, 24, 3, 3);
        b.Output(outP2);
        b.Output(p4);
        return new("fpn", b.ToBytes(), x, [1, 3, 32, 32]);
    }

    /// <summary>
    /// The old forms (opset 9): Clip with min/max attributes, Unsqueeze with an axes attribute, Upsample with a scales
    /// input, Softmax on a 4-D tensor at axis 1 (which opsets before 13 define on the input flattened to 2-D), Pad
    /// with a pads attribute, and Constant nodes holding value_ints-style shapes.
    /// </summary>
    public static OnnxTestNet OldOpsets()
    {
        var b = new OnnxModelBuilder(seed: 9, opset: 9);
        string x = b.Input("input", 1, 4, 8, 8);
        string y = b.Clip(b.Conv(x, 4, 8, 3, 3), 0f, 6f);
        y = b.Op("Pad", [y], OnnxModelBuilder.Attr("pads", 0L, 0L, 1L, 1L, 0L, 0L, 1L, 1L), OnnxModelBuilder.Attr("mode", "constant"), OnnxModelBuilder.Attr("value", 0.5f));
        y = b.Op("Upsample", [y, b.Float("scales", [1f, 1f, 2f, 2f], 4)], OnnxModelBuilder.Attr("mode", "nearest"));
        y = b.Conv(y, 8, 4, 3, 3, 2, 2);
        y = b.Softmax(y); // axis 1 of 1x4x10x10: softmax over 400 values
        string pooled = b.Op("GlobalAveragePool", [y]);
        string flat = b.Op("Squeeze", [pooled], OnnxModelBuilder.Attr("axes", 2L, 3L));
        string z = b.Op("Unsqueeze", [flat], OnnxModelBuilder.Attr("axes", [2L]));
        b.Output(y);
        b.Output(z);
        return new("old-opsets", b.ToBytes(), x, [1, 4, 8, 8]);
    }
}
