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
        yield return MobileNetV3Large(96);
        yield return MobileNetV3(opset: 11, name: "mobilenetv3-torch-opset11", spelling: HardSwishSpelling.Torch);
        yield return MobileNetV3(opset: 11, name: "mobilenetv3-paddle", spelling: HardSwishSpelling.Paddle);
        yield return DbNetHead();
        yield return SvtrAttention();
        yield return UNetDecoder();
        yield return YoloHead();
        yield return OldOpsetOps();
    }

    /// <summary>Conv, folded BN, then HardSwish written out as PyTorch's exporter does before opset 14 (Add, Clip, Mul, Div).</summary>
    private static string ConvBnHardSwish(OnnxModelBuilder b, string x, int c, int k, int r, int stride) =>
        b.HardSwish(b.BatchNorm(b.Conv(x, c, k, r, r, stride, stride, bias: false), k));

    /// <summary>
    /// DBNet-style text-detection head, as PaddleOCR's and the PyTorch ports' exporters write it (opset 11, weights as
    /// Constant nodes, HardSwish decomposed into Add/Clip/Mul/Div): a small MobileNetV3-like backbone (strides 4 to
    /// 32), FPN laterals with nearest Resize ×2 (asymmetric, floor: PyTorch's F.interpolate) and adds, each level
    /// smoothed and upsampled to 1/4 by nearest Resize ×2/×4/×8, concatenated, then the DB head: 3×3 conv + BN + ReLU,
    /// ConvTranspose 2×2 stride 2 + BN + ReLU, ConvTranspose 2×2 stride 2, Sigmoid (the probability map).
    /// </summary>
    public static OnnxTestNet DbNetHead(int height = 96, int width = 128, int inner = 32)
    {
        var b = new OnnxModelBuilder(seed: 21, opset: 11) { WeightsAsConstantNodes = true, HardSwishAs = HardSwishSpelling.Torch };
        string x = b.Input("x", 1, 3, height, width);
        string c1 = ConvBnHardSwish(b, ConvBnHardSwish(b, x, 3, 16, 3, 2), 16, 24, 3, 2); // 1/4
        string c2 = ConvBnHardSwish(b, c1, 24, 40, 3, 2);                               // 1/8
        string c3 = ConvBnHardSwish(b, c2, 40, 64, 3, 2);                               // 1/16
        string c4 = ConvBnHardSwish(b, c3, 64, 96, 3, 2);                               // 1/32
        string Up(string v, float f) => b.Op("Resize", [v, b.Float("roi", [], 0), b.Float("scales", [1f, 1f, f, f], 4)],
            OnnxModelBuilder.Attr("mode", "nearest"), OnnxModelBuilder.Attr("coordinate_transformation_mode", "asymmetric"), OnnxModelBuilder.Attr("nearest_mode", "floor"));
        string in5 = b.Conv(c4, 96, inner, 1, 1, bias: false), in4 = b.Conv(c3, 64, inner, 1, 1, bias: false);
        string in3 = b.Conv(c2, 40, inner, 1, 1, bias: false), in2 = b.Conv(c1, 24, inner, 1, 1, bias: false);
        string out4 = b.Op("Add", [in4, Up(in5, 2)]);
        string out3 = b.Op("Add", [in3, Up(out4, 2)]);
        string out2 = b.Op("Add", [in2, Up(out3, 2)]);
        string p5 = Up(b.Conv(in5, inner, inner / 4, 3, 3, bias: false), 8);
        string p4 = Up(b.Conv(out4, inner, inner / 4, 3, 3, bias: false), 4);
        string p3 = Up(b.Conv(out3, inner, inner / 4, 3, 3, bias: false), 2);
        string p2 = b.Conv(out2, inner, inner / 4, 3, 3, bias: false);
        string fuse = b.Op("Concat", [p5, p4, p3, p2], OnnxModelBuilder.Attr("axis", 1L));
        string h = b.Relu(b.BatchNorm(b.Conv(fuse, inner, inner / 4, 3, 3, bias: false), inner / 4));
        int q = inner / 4;
        string w1 = b.Float("deconv1_w", b.HeUniform(q * q * 4, q * 4), q, q, 2, 2);
        h = b.Relu(b.BatchNorm(b.Op("ConvTranspose", [h, w1, b.Float("deconv1_b", b.Uniform(q, -0.1f, 0.1f), q)],
            OnnxModelBuilder.Attr("kernel_shape", 2L, 2L), OnnxModelBuilder.Attr("strides", 2L, 2L)), q));
        string w2 = b.Float("deconv2_w", b.HeUniform(q * 4, q * 4), q, 1, 2, 2);
        h = b.Op("ConvTranspose", [h, w2, b.Float("deconv2_b", b.Uniform(1, -0.1f, 0.1f), 1)], OnnxModelBuilder.Attr("kernel_shape", 2L, 2L), OnnxModelBuilder.Attr("strides", 2L, 2L));
        b.Output(b.Op("Sigmoid", [h]));
        return new(height == 96 && width == 128 && inner == 32 ? "dbnet-head" : $"dbnet-head-{height}x{width}-c{inner}", b.ToBytes(), x, [1, 3, height, width]);
    }

    /// <summary>
    /// SVTR/ViT-style attention block (opset 17): a strided conv patch embedding, Reshape and Transpose to tokens, then
    /// a pre-norm transformer block — LayerNormalization, a fused QKV MatMul, Reshape/Transpose into heads, Gather of q,
    /// k and v, q·kᵀ (MatMul of two activations, batched over heads), scale, Softmax, ·v, merge heads, projection,
    /// residual; LayerNormalization, an MLP with Gelu written as x·½·(1 + Erf(x/√2)) (before opset 20), residual — and
    /// back to a feature map. Every Reshape has a constant shape.
    /// </summary>
    public static OnnxTestNet SvtrAttention()
    {
        var b = new OnnxModelBuilder(seed: 27, opset: 17);
        const int c = 32, heads = 4, d = c / heads, h = 8, w = 16, n = h * w;
        string x = b.Input("x", 1, 3, 32, 64);
        string e = b.Conv(x, 3, c, 4, 4, 4, 4, padH: 0, padW: 0);                                  // 1×32×8×16
        string t = b.Op("Transpose", [b.Op("Reshape", [e, b.Int64("tokens", 1, c, n)])], OnnxModelBuilder.Attr("perm", 0L, 2L, 1L)); // 1×128×32
        string LayerNorm(string v) => b.Op("LayerNormalization", [v, b.Float("ln_g", b.Uniform(c, 0.8f, 1.2f), c), b.Float("ln_b", b.Uniform(c, -0.1f, 0.1f), c)],
            OnnxModelBuilder.Attr("axis", -1L), OnnxModelBuilder.Attr("epsilon", 1e-6f));
        string Dense(string v, int inF, int outF) => b.Op("Add", [b.Op("MatMul", [v, b.Float("w", b.HeUniform(inF * outF, inF), inF, outF)]), b.Float("b", b.Uniform(outF, -0.1f, 0.1f), outF)]);
        string qkv = Dense(LayerNorm(t), c, 3 * c);                                                   // 1×128×96
        qkv = b.Op("Transpose", [b.Op("Reshape", [qkv, b.Int64("qkv_shape", 1, n, 3, heads, d)])], OnnxModelBuilder.Attr("perm", 2L, 0L, 3L, 1L, 4L)); // 3×1×4×128×8
        string Take(long i) => b.Op("Gather", [qkv, b.Int64Scalar("index", i)], OnnxModelBuilder.Attr("axis", 0L));
        string q = Take(0), k = Take(1), v = Take(2);
        string kt = b.Op("Transpose", [k], OnnxModelBuilder.Attr("perm", 0L, 1L, 3L, 2L));
        string attn = b.Op("Softmax", [b.Op("Mul", [b.Op("MatMul", [q, kt]), b.Scalar("scale", 1f / MathF.Sqrt(d))])], OnnxModelBuilder.Attr("axis", -1L));
        string o = b.Op("Transpose", [b.Op("MatMul", [attn, v])], OnnxModelBuilder.Attr("perm", 0L, 2L, 1L, 3L)); // 1×128×4×8
        o = Dense(b.Op("Reshape", [o, b.Int64("merge", 1, n, c)]), c, c);
        string r1 = b.Op("Add", [t, o]);
        string m = Dense(LayerNorm(r1), c, 2 * c);
        string erf = b.Op("Erf", [b.Op("Div", [m, b.Scalar("sqrt2", MathF.Sqrt(2f))])]);
        string gelu = b.Op("Mul", [b.Op("Mul", [m, b.Op("Add", [erf, b.Scalar("one", 1f)])]), b.Scalar("half", 0.5f)]);
        string r2 = b.Op("Add", [r1, Dense(gelu, 2 * c, c)]);
        string fmap = b.Op("Reshape", [b.Op("Transpose", [r2], OnnxModelBuilder.Attr("perm", 0L, 2L, 1L)), b.Int64("fmap", 1, c, h, w)]);
        b.Output(b.Relu(b.Conv(fmap, c, c, 3, 3)));
        return new("svtr-attention", b.ToBytes(), x, [1, 3, 32, 64]);
    }

    /// <summary>
    /// UNet-style encoder-decoder (opset 13): conv blocks with max-pool down, then per level a ConvTranspose 2×2 stride 2
    /// up, Concat with the encoder's skip, two 3×3 conv + BN + ReLU; a 1×1 conv and Sigmoid.
    /// </summary>
    public static OnnxTestNet UNetDecoder()
    {
        var b = new OnnxModelBuilder(seed: 31, opset: 13);
        string x = b.Input("x", 1, 3, 64, 64);
        string Block(string v, int cin, int cout) => b.Relu(b.BatchNorm(b.Conv(b.Relu(b.BatchNorm(b.Conv(v, cin, cout, 3, 3, bias: false), cout)), cout, cout, 3, 3, bias: false), cout));
        string e1 = Block(x, 3, 16), e2 = Block(b.MaxPool(e1, 2, 2), 16, 32), e3 = Block(b.MaxPool(e2, 2, 2), 32, 64);
        string bottom = Block(b.MaxPool(e3, 2, 2), 64, 96);
        string Up(string v, string skip, int cin, int cout)
        {
            string u = b.Op("ConvTranspose", [v, b.Float("up_w", b.HeUniform(cin * cout * 4, cin * 4), cin, cout, 2, 2), b.Float("up_b", b.Uniform(cout, -0.1f, 0.1f), cout)],
                OnnxModelBuilder.Attr("kernel_shape", 2L, 2L), OnnxModelBuilder.Attr("strides", 2L, 2L));
            return Block(b.Op("Concat", [u, skip], OnnxModelBuilder.Attr("axis", 1L)), 2 * cout, cout);
        }
        string d3 = Up(bottom, e3, 96, 64), d2 = Up(d3, e2, 64, 32), d1 = Up(d2, e1, 32, 16);
        b.Output(b.Op("Sigmoid", [b.Conv(d1, 16, 2, 1, 1)]));
        return new("unet-decoder", b.ToBytes(), x, [1, 3, 64, 64]);
    }

    /// <summary>
    /// YOLO-style detection head (opset 13): a SiLU (x·Sigmoid(x)) backbone, two output scales; per scale a 1×1 conv to
    /// 3·(5 + classes) channels, Reshape to [1, 3, 5 + classes, H, W], Transpose to [1, 3, H, W, 5 + classes], Sigmoid,
    /// the box terms taken by Split (one scale) or Slice (the other), decoded with Mul/Add/Pow (xy·2 − 0.5 + grid,
    /// (wh·2)²·anchor), re-joined by Concat and Reshape to [1, −1, 5 + classes]; the scales concatenated.
    /// </summary>
    public static OnnxTestNet YoloHead()
    {
        var b = new OnnxModelBuilder(seed: 37, opset: 13);
        const int classes = 3, no = 5 + classes;
        string x = b.Input("x", 1, 3, 64, 64);
        string Silu(string v) => b.Op("Mul", [v, b.Op("Sigmoid", [v])]);
        string s1 = Silu(b.BatchNorm(b.Conv(Silu(b.BatchNorm(b.Conv(x, 3, 16, 3, 3, 2, 2, bias: false), 16)), 16, 32, 3, 3, 2, 2, bias: false), 32)); // 1/4
        string s2 = Silu(b.BatchNorm(b.Conv(s1, 32, 48, 3, 3, 2, 2, bias: false), 48));                                                                   // 1/8
        string Detect(string f, int cin, int size, bool useSplit)
        {
            string p = b.Conv(f, cin, 3 * no, 1, 1);
            p = b.Op("Transpose", [b.Op("Reshape", [p, b.Int64("det_shape", 1, 3, no, size, size)])], OnnxModelBuilder.Attr("perm", 0L, 1L, 3L, 4L, 2L));
            p = b.Op("Sigmoid", [p]);
            string xy, wh, rest;
            if (useSplit)
            {
                xy = b.Fresh("xy");
                wh = b.Fresh("wh");
                rest = b.Fresh("conf");
                b.Node("Split", [p, b.Int64("split", 2, 2, 1 + classes)], [xy, wh, rest], OnnxModelBuilder.Attr("axis", 4L));
            }
            else
            {
                string Slice(long s, long e) => b.Op("Slice", [p, b.Int64("starts", s), b.Int64("ends", e), b.Int64("axes", 4), b.Int64("steps", 1)]);
                (xy, wh, rest) = (Slice(0, 2), Slice(2, 4), Slice(4, long.MaxValue));
            }
            string grid = b.Float("grid", b.Uniform(size * size * 2, 0, size), 1, 1, size, size, 2);
            xy = b.Op("Add", [b.Op("Sub", [b.Op("Mul", [xy, b.Scalar("two", 2f)]), b.Scalar("half", 0.5f)]), grid]);
            wh = b.Op("Mul", [b.Op("Pow", [b.Op("Mul", [wh, b.Scalar("two", 2f)]), b.Scalar("two", 2f)]), b.Float("anchors", b.Uniform(6, 4, 32), 1, 3, 1, 1, 2)]);
            string joined = b.Op("Concat", [xy, wh, rest], OnnxModelBuilder.Attr("axis", -1L));
            return b.Op("Reshape", [joined, b.Int64("flat", 1, -1, no)]);
        }
        b.Output(b.Op("Concat", [Detect(s1, 32, 16, useSplit: true), Detect(s2, 48, 8, useSplit: false)], OnnxModelBuilder.Attr("axis", 1L)));
        return new("yolo-head", b.ToBytes(), x, [1, 3, 64, 64]);
    }

    /// <summary>
    /// The opset-11 forms of the newer ops (rewritten by the importer into the latest): Split with a split attribute,
    /// ReduceMean and ReduceSum with an axes attribute, Squeeze/Unsqueeze with axes attributes, Resize with an empty
    /// roi, Slice with an INT64_MAX end; and InstanceNormalization, PRelu, DepthToSpace (CRD).
    /// </summary>
    public static OnnxTestNet OldOpsetOps()
    {
        var b = new OnnxModelBuilder(seed: 41, opset: 11);
        string x = b.Input("x", 1, 4, 12, 12);
        string y = b.Conv(x, 4, 16, 3, 3);
        y = b.Op("PRelu", [y, b.Float("slope", b.Uniform(16, 0.05f, 0.3f), 16, 1, 1)]);
        y = b.Op("InstanceNormalization", [y, b.Float("in_s", b.Uniform(16, 0.5f, 1.5f), 16), b.Float("in_b", b.Uniform(16, -0.2f, 0.2f), 16)]);
        string a = b.Fresh("a"), c = b.Fresh("c");
        b.Node("Split", [y], [a, c], OnnxModelBuilder.Attr("axis", 1L), OnnxModelBuilder.Attr("split", 8L, 8L));
        string s = b.Op("Slice", [a, b.Int64("starts", 1, 0), b.Int64("ends", 11, long.MaxValue), b.Int64("axes", 2, 3)]);   // 1×8×10×12
        string mean = b.Op("ReduceMean", [s], OnnxModelBuilder.Attr("axes", [1L]), OnnxModelBuilder.Attr("keepdims", 1L));
        string sum = b.Op("ReduceSum", [c], OnnxModelBuilder.Attr("axes", [1L]), OnnxModelBuilder.Attr("keepdims", 1L));   // 1×1×12×12
        string d2s = b.Op("DepthToSpace", [c], OnnxModelBuilder.Attr("blocksize", 2L), OnnxModelBuilder.Attr("mode", "CRD")); // 1×2×24×24
        string up = b.Op("Resize", [sum, b.Float("roi", [], 0), b.Float("scales", [1f, 1f, 2f, 2f], 4)], OnnxModelBuilder.Attr("mode", "linear"));
        string joined = b.Op("Concat", [d2s, up], OnnxModelBuilder.Attr("axis", 1L));                                  // 1×3×24×24
        string z = b.Op("Mul", [joined, b.Op("Unsqueeze", [b.Op("Squeeze", [b.Op("ReduceMean", [mean], OnnxModelBuilder.Attr("axes", 2L, 3L))], OnnxModelBuilder.Attr("axes", 2L, 3L))], OnnxModelBuilder.Attr("axes", 2L, 3L))]);
        b.Output(z);
        return new("old-opset-ops", b.ToBytes(), x, [1, 4, 12, 12]);
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
    /// x·HardSigmoid(x); PyTorch's exporter before opset 14 as x·Clip(x + 3, 0, 6)/6 and Paddle2ONNX as
    /// x·Clip(x + 3, 0, 6)·(1/6) (see <see cref="HardSwishSpelling"/>).
    /// </summary>
    public static OnnxTestNet MobileNetV3(int opset = 17, string name = "mobilenetv3", HardSwishSpelling spelling = HardSwishSpelling.Auto)
    {
        var b = new OnnxModelBuilder(seed: 3, opset: opset) { HardSwishAs = spelling };
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

    /// <summary>
    /// MobileNetV3-Large's layout (torchvision's table of 15 inverted residuals: depthwise 3x3 and 5x5, squeeze-excite,
    /// ReLU or HardSwish), 3x<paramref name="size"/>x<paramref name="size"/> in, 1000 classes; seeded weights. The
    /// benchmark network (same file on FastConv and ONNX Runtime).
    /// </summary>
    public static OnnxTestNet MobileNetV3Large(int size = 224)
    {
        var b = new OnnxModelBuilder(seed: 33, opset: 17);
        string x = b.Input("input", 1, 3, size, size);
        string y = b.HardSwish(b.BatchNorm(b.Conv(x, 3, 16, 3, 3, 2, 2, bias: false), 16));
        int c = 16;
        (int R, int Exp, int K, bool Se, bool Hs, int S)[] table =
        [
            (3, 16, 16, false, false, 1), (3, 64, 24, false, false, 2), (3, 72, 24, false, false, 1),
            (5, 72, 40, true, false, 2), (5, 120, 40, true, false, 1), (5, 120, 40, true, false, 1),
            (3, 240, 80, false, true, 2), (3, 200, 80, false, true, 1), (3, 184, 80, false, true, 1), (3, 184, 80, false, true, 1),
            (3, 480, 112, true, true, 1), (3, 672, 112, true, true, 1),
            (5, 672, 160, true, true, 2), (5, 960, 160, true, true, 1), (5, 960, 160, true, true, 1),
        ];
        foreach (var (r, exp, k, se, hs, stride) in table)
        {
            string Act(string v) => hs ? b.HardSwish(v) : b.Relu(v);
            string h = exp != c ? Act(b.BatchNorm(b.Conv(y, c, exp, 1, 1, bias: false), exp)) : y;
            h = Act(b.BatchNorm(b.Conv(h, exp, exp, r, r, stride, stride, group: exp, bias: false), exp));
            if (se)
            {
                int squeeze = (exp / 4 + 4) / 8 * 8;
                string s = b.Op("GlobalAveragePool", [h]);
                s = b.Relu(b.Conv(s, exp, squeeze, 1, 1));
                s = b.Op("HardSigmoid", [b.Conv(s, squeeze, exp, 1, 1)], OnnxModelBuilder.Attr("alpha", 1f / 6), OnnxModelBuilder.Attr("beta", 0.5f));
                h = b.Op("Mul", [h, s]);
            }
            h = b.BatchNorm(b.Conv(h, exp, k, 1, 1, bias: false), k);
            y = stride == 1 && c == k ? b.Op("Add", [h, y]) : h;
            c = k;
        }
        y = b.HardSwish(b.BatchNorm(b.Conv(y, 160, 960, 1, 1, bias: false), 960));
        y = b.Op("GlobalAveragePool", [y]);
        y = b.TorchFlatten(y);
        y = b.HardSwish(b.Linear(y, 960, 1280));
        y = b.Linear(y, 1280, 1000);
        b.Output(y);
        return new("mobilenetv3-large", b.ToBytes(), x, [1, 3, size, size]);
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
