using FastConv.Graphs;

namespace FastConv.Networks;

/// <summary>
/// The built-in networks, <c>builtin:NAME</c>, with seeded He-uniform weights (seed 0 unless given), so a fresh
/// clone can run a real CNN with no file: <c>lenet5</c>, <c>mnist</c>, <c>vgg16</c>, <c>resnet18</c>.
/// Layer names follow torchvision's <c>state_dict</c> where there is one.
/// </summary>
public static class Builtins
{
    public static IReadOnlyList<string> Names { get; } = ["lenet5", "mnist", "vgg16", "resnet18"];

    /// <summary>The name of every builtin's one input.</summary>
    public const string InputName = "input";

    /// <summary>The shape of one sample (C, H, W) of <paramref name="name"/>'s input; the batch comes first.</summary>
    public static TensorShape SampleShape(string name) => name switch
    {
        "lenet5" => TensorShape.Of(1, 32, 32),
        "mnist" => TensorShape.Of(1, 28, 28),
        "vgg16" or "resnet18" => TensorShape.Of(3, 224, 224),
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

    private static TensorShape WithBatch(int batch, string name) => new([batch, .. SampleShape(name)]);
}
