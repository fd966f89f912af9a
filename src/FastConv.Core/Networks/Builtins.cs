using FastConv.Graphs;

namespace FastConv.Networks;

/// <summary>
/// The built-in networks, <c>builtin:NAME</c>, with seeded He-uniform weights (seed 0 unless given), so a fresh
/// clone can run a real CNN with no file: <c>lenet5</c>, <c>mnist</c>, <c>vgg16</c>, <c>resnet18</c>, <c>mobilenetv1</c>,
/// <c>mobilenetv2</c>.
/// Layer names follow torchvision's <c>state_dict</c> where there is one.
/// </summary>
public static class Builtins
{
    public static IReadOnlyList<string> Names { get; } = ["lenet5", "mnist", "vgg16", "resnet18", "mobilenetv1", "mobilenetv2"];

    /// <summary>The name of every builtin's one input.</summary>
    public const string InputName = "input";

    /// <summary>The shape of one sample (C, H, W) of <paramref name="name"/>'s input; the batch comes first.</summary>
    public static TensorShape SampleShape(string name) => name switch
    {
        "lenet5" => TensorShape.Of(1, 32, 32),
        "mnist" => TensorShape.Of(1, 28, 28),
        "vgg16" or "resnet18" or "mobilenetv1" or "mobilenetv2" => TensorShape.Of(3, 224, 224),
        _ => throw new ModelNotFoundException($"unknown builtin network '{name}'; known: {string.Join(", ", Names.Select(n => ModelLoader.BuiltinPrefix + n))}."),
    };

    /// <summary>
    /// The batch for <paramref name="name"/> from the input shapes a caller gave (none: 1). The shapes must name the
    /// builtin's one input, <see cref="InputName"/>, with its full dimensions [N, C, H, W], N ≥ 1; anything else
    /// throws <see cref="InvalidShapeException"/> saying what the input is.
    /// </summary>
    public static int BatchFor(string name, IReadOnlyDictionary<string, TensorShape>? inputShapes)
    {
        TensorShape sample = SampleShape(name);
        if (inputShapes is null || inputShapes.Count == 0)
        {
            return 1;
        }
        string expected = $"builtin:{name} has one input '{InputName}' of shape [N,{string.Join(",", sample)}] with N >= 1";
        string[] unknown = [.. inputShapes.Keys.Where(k => k != InputName)];
        if (unknown.Length > 0)
        {
            throw new InvalidShapeException($"{string.Join(", ", unknown.Select(k => $"'{k}'"))} {(unknown.Length == 1 ? "is not an input" : "are not inputs")} of builtin:{name}; {expected}.");
        }
        TensorShape given = inputShapes[InputName];
        bool matches = given.Rank == sample.Rank + 1 && given[0] >= 1;
        for (int i = 0; matches && i < sample.Rank; i++)
        {
            matches = given[i + 1] == sample[i];
        }
        return matches ? given[0] : throw new InvalidShapeException($"{expected}; got {given}.");
    }

    /// <summary>Builds the network called <paramref name="name"/> for batch <paramref name="batch"/>.</summary>
    public static Graph Create(string name, int batch = 1, int seed = 0) => Build(name, batch, seed).Graph;

    public static Network Build(string name, int batch = 1, int seed = 0)
    {
        if (batch < 1)
        {
            throw new InvalidShapeException($"builtin:{name}: batch must be >= 1, got {batch}.");
        }
        return name switch
        {
            "lenet5" => LeNet5(batch, seed),
            "mnist" => Mnist(batch, seed),
            "vgg16" => Vgg16(batch, seed),
            "resnet18" => ResNet18(batch, seed),
            "mobilenetv1" => MobileNetV1(batch, seed),
            "mobilenetv2" => MobileNetV2(batch, seed),
            _ => throw new ModelNotFoundException($"unknown builtin network '{name}'; known: {string.Join(", ", Names.Select(n => ModelLoader.BuiltinPrefix + n))}."),
        };
    }

    /// <summary>
    /// LeNet-5 on 1×32×32: conv5×5-6, avg-pool 2, conv5×5-16, avg-pool 2, FC 120, FC 84, FC 10, with ReLU after every
    /// layer but the last (61,706 parameters).
    /// </summary>
    public static Network LeNet5(int batch = 1, int seed = 0) =>
        new Sequential("lenet5", WithBatch(batch, "lenet5"), seed)
            .Conv2d(6, 5, name: "conv1").Relu("relu1").AvgPool(2, 2, name: "pool1")
            .Conv2d(16, 5, name: "conv2").Relu("relu2").AvgPool(2, 2, name: "pool2")
            .Flatten("flatten")
            .Linear(120, name: "fc1").Relu("relu3")
            .Linear(84, name: "fc2").Relu("relu4")
            .Linear(10, name: "fc3")
            .Build();

    /// <summary>
    /// The TensorFlow MNIST tutorial net on 1×28×28: conv5×5-32 "same" + ReLU, max-pool 2, conv5×5-64 "same" + ReLU,
    /// max-pool 2, FC 1024 + ReLU, FC 10, softmax (3,274,634 parameters).
    /// </summary>
    public static Network Mnist(int batch = 1, int seed = 0) =>
        new Sequential("mnist", WithBatch(batch, "mnist"), seed)
            .Conv2d(32, 5, pad: 2, name: "conv1").Relu("relu1").MaxPool(2, 2, name: "pool1")
            .Conv2d(64, 5, pad: 2, name: "conv2").Relu("relu2").MaxPool(2, 2, name: "pool2")
            .Flatten("flatten")
            .Linear(1024, name: "fc1").Relu("relu3")
            .Linear(10, name: "fc2")
            .Softmax(name: "softmax")
            .Build();

    /// <summary>
    /// VGG-16, configuration D, on 3×224×224: 13 conv3×3 (pad 1) + ReLU in five stages with max-pool 2 after each,
    /// then FC 4096 + ReLU + dropout, FC 4096 + ReLU + dropout, FC 1000, softmax (138,357,544 parameters,
    /// torchvision's names: features.N, classifier.N).
    /// </summary>
    public static Network Vgg16(int batch = 1, int seed = 0)
    {
        var s = new Sequential("vgg16", WithBatch(batch, "vgg16"), seed);
        int[][] stages = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]];
        int index = 0;
        foreach (int[] stage in stages)
        {
            foreach (int k in stage)
            {
                s.Conv2d(k, 3, pad: 1, name: $"features.{index}").Relu($"features.{index + 1}");
                index += 2;
            }
            s.MaxPool(2, 2, name: $"features.{index++}");
        }
        return s.Flatten("flatten")
            .Linear(4096, name: "classifier.0").Relu("classifier.1").Dropout("classifier.2")
            .Linear(4096, name: "classifier.3").Relu("classifier.4").Dropout("classifier.5")
            .Linear(1000, name: "classifier.6")
            .Softmax(name: "softmax")
            .Build();
    }

    /// <summary>
    /// ResNet-18 in torchvision's layout on 3×224×224: conv7×7/2-64 (no bias) + BN + ReLU, max-pool 3×3/2 pad 1,
    /// four stages of two BasicBlocks (64, 128, 256, 512 channels; the first block of stages 2-4 has stride 2 and a
    /// 1×1/2 conv + BN downsample on the shortcut), global average pool, FC 1000 (11,689,512 parameters).
    /// </summary>
    public static Network ResNet18(int batch = 1, int seed = 0)
    {
        var b = new NetworkBuilder("resnet18", seed);
        GraphValue x = b.Input(InputName, WithBatch(batch, "resnet18"));
        x = b.Conv2d(x, 64, 7, stride: 2, pad: 3, bias: false, name: "conv1");
        x = b.BatchNorm(x, name: "bn1");
        x = b.Relu(x, "relu");
        x = b.MaxPool(x, 3, 2, pad: 1, name: "maxpool");
        int[] widths = [64, 128, 256, 512];
        for (int stage = 0; stage < 4; stage++)
        {
            for (int block = 0; block < 2; block++)
            {
                string p = $"layer{stage + 1}.{block}";
                int stride = stage > 0 && block == 0 ? 2 : 1;
                GraphValue shortcut = x;
                GraphValue y = b.Conv2d(x, widths[stage], 3, stride, pad: 1, bias: false, name: $"{p}.conv1");
                y = b.BatchNorm(y, name: $"{p}.bn1");
                y = b.Relu(y, $"{p}.relu1");
                y = b.Conv2d(y, widths[stage], 3, 1, pad: 1, bias: false, name: $"{p}.conv2");
                y = b.BatchNorm(y, name: $"{p}.bn2");
                if (stride != 1 || x.Shape[1] != widths[stage])
                {
                    shortcut = b.Conv2d(x, widths[stage], 1, stride, bias: false, name: $"{p}.downsample.0");
                    shortcut = b.BatchNorm(shortcut, name: $"{p}.downsample.1");
                }
                y = b.Add(y, shortcut, $"{p}.add");
                x = b.Relu(y, $"{p}.relu2");
            }
        }
        x = b.GlobalAvgPool(x, "avgpool");
        x = b.Flatten(x, name: "flatten");
        x = b.Linear(x, 1000, name: "fc");
        return b.Build(x);
    }

    /// <summary>
    /// MobileNet-v1 (1.0, 224) on 3×224×224: conv3×3/2-32 + BN + ReLU, thirteen depthwise-separable blocks (depthwise
    /// 3×3 + BN + ReLU, pointwise 1×1 + BN + ReLU; 64 to 1024 channels, stride 2 at 128, 256, 512 and 1024), global
    /// average pool, FC 1000 (4,231,976 parameters).
    /// </summary>
    public static Network MobileNetV1(int batch = 1, int seed = 0)
    {
        var b = new NetworkBuilder("mobilenetv1", seed);
        GraphValue x = b.Input(InputName, WithBatch(batch, "mobilenetv1"));
        x = b.Relu(b.BatchNorm(b.Conv2d(x, 32, 3, stride: 2, pad: 1, bias: false, name: "conv0"), name: "bn0"), "relu0");
        (int Width, int Stride)[] blocks = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)];
        for (int i = 0; i < blocks.Length; i++)
        {
            int c = x.Shape[1];
            x = b.Conv2d(x, c, 3, blocks[i].Stride, pad: 1, groups: c, bias: false, name: $"block{i + 1}.dw");
            x = b.Relu(b.BatchNorm(x, name: $"block{i + 1}.dw_bn"), $"block{i + 1}.dw_relu");
            x = b.Conv2d(x, blocks[i].Width, 1, bias: false, name: $"block{i + 1}.pw");
            x = b.Relu(b.BatchNorm(x, name: $"block{i + 1}.pw_bn"), $"block{i + 1}.pw_relu");
        }
        x = b.GlobalAvgPool(x, "avgpool");
        x = b.Flatten(x, name: "flatten");
        x = b.Linear(x, 1000, name: "fc");
        return b.Build(x);
    }

    /// <summary>
    /// MobileNet-v2 (1.0, 224) in torchvision's layout on 3×224×224: conv3×3/2-32 + BN + ReLU6, seventeen inverted
    /// residual blocks (1×1 expansion ×6 but the first, depthwise 3×3, linear 1×1 projection, the input added back
    /// where stride is 1 and widths match; widths 16, 24, 32, 64, 96, 160, 320), conv1×1-1280 + BN + ReLU6, global
    /// average pool, FC 1000 (3,504,872 parameters). Its 24- and 144-channel layers are not whole 16-channel blocks.
    /// </summary>
    public static Network MobileNetV2(int batch = 1, int seed = 0)
    {
        var b = new NetworkBuilder("mobilenetv2", seed);
        GraphValue Relu6(GraphValue v, string name) => b.Clip(v, 0f, 6f, name);
        GraphValue x = b.Input(InputName, WithBatch(batch, "mobilenetv2"));
        x = Relu6(b.BatchNorm(b.Conv2d(x, 32, 3, stride: 2, pad: 1, bias: false, name: "features.0.0"), name: "features.0.1"), "features.0.2");
        (int Expand, int Width, int Repeat, int Stride)[] settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)];
        int index = 1;
        foreach ((int t, int width, int repeat, int stride) in settings)
        {
            for (int i = 0; i < repeat; i++, index++)
            {
                string p = $"features.{index}";
                int c = x.Shape[1], s = i == 0 ? stride : 1;
                GraphValue y = x;
                if (t != 1)
                {
                    y = Relu6(b.BatchNorm(b.Conv2d(y, c * t, 1, bias: false, name: $"{p}.expand"), name: $"{p}.expand_bn"), $"{p}.expand_relu");
                }
                int hidden = y.Shape[1];
                y = b.Conv2d(y, hidden, 3, s, pad: 1, groups: hidden, bias: false, name: $"{p}.dw");
                y = Relu6(b.BatchNorm(y, name: $"{p}.dw_bn"), $"{p}.dw_relu");
                y = b.BatchNorm(b.Conv2d(y, width, 1, bias: false, name: $"{p}.project"), name: $"{p}.project_bn");
                x = s == 1 && c == width ? b.Add(y, x, $"{p}.add") : y;
            }
        }
        x = Relu6(b.BatchNorm(b.Conv2d(x, 1280, 1, bias: false, name: "features.18.0"), name: "features.18.1"), "features.18.2");
        x = b.GlobalAvgPool(x, "avgpool");
        x = b.Flatten(x, name: "flatten");
        x = b.Linear(x, 1000, name: "classifier.1");
        return b.Build(x);
    }

    private static TensorShape WithBatch(int batch, string name) => new([batch, .. SampleShape(name)]);
}
