using FastConv.Backends;

namespace FastConv.Ops;

/// <summary>A named convolution layer of a real network; the batch N is chosen by the caller.</summary>
public sealed record NamedConv2d(string Set, string Name, int C, int K, int H, int W, int R, int S, Conv2dParams Params)
{
    public Conv2dShape WithBatch(int n) => new(n, C, H, W, K, R, S, Params);

    public override string ToString() => $"{Set}/{Name}";
}

/// <summary>
/// The named shape sets — the conv layers of VGG-16, ResNet-50 and MobileNet, the pool/ReLU input, and the seeded
/// <c>edges</c> set of odd shapes — in one place, so tests, <c>fastconv check</c> and the benchmarks all name the same
/// layer the same way.
/// </summary>
public static class ShapeSets
{
    private static NamedConv2d Conv(string set, string name, int c, int k, int hw, int rs, int stride, int pad, int groups = 1)
        => new(set, name, c, k, hw, hw, rs, rs, Conv2dParams.Create(stride, pad, 1, groups));

    /// <summary>The 13 convolutions of VGG-16 (configuration D): 3×3, stride 1, pad 1.</summary>
    public static IReadOnlyList<NamedConv2d> Vgg16 { get; } =
    [
        Conv("vgg16", "conv1_1", 3, 64, 224, 3, 1, 1),
        Conv("vgg16", "conv1_2", 64, 64, 224, 3, 1, 1),
        Conv("vgg16", "conv2_1", 64, 128, 112, 3, 1, 1),
        Conv("vgg16", "conv2_2", 128, 128, 112, 3, 1, 1),
        Conv("vgg16", "conv3_1", 128, 256, 56, 3, 1, 1),
        Conv("vgg16", "conv3_2", 256, 256, 56, 3, 1, 1),
        Conv("vgg16", "conv3_3", 256, 256, 56, 3, 1, 1),
        Conv("vgg16", "conv4_1", 256, 512, 28, 3, 1, 1),
        Conv("vgg16", "conv4_2", 512, 512, 28, 3, 1, 1),
        Conv("vgg16", "conv4_3", 512, 512, 28, 3, 1, 1),
        Conv("vgg16", "conv5_1", 512, 512, 14, 3, 1, 1),
        Conv("vgg16", "conv5_2", 512, 512, 14, 3, 1, 1),
        Conv("vgg16", "conv5_3", 512, 512, 14, 3, 1, 1),
    ];

    /// <summary>The distinct convolutions of ResNet-50 (torchvision layout: stride on the 3×3).</summary>
    public static IReadOnlyList<NamedConv2d> ResNet50 { get; } =
    [
        Conv("resnet50", "stem", 3, 64, 224, 7, 2, 3),
        Conv("resnet50", "l1_1x1_reduce_first", 64, 64, 56, 1, 1, 0),
        Conv("resnet50", "l1_3x3", 64, 64, 56, 3, 1, 1),
        Conv("resnet50", "l1_1x1_expand", 64, 256, 56, 1, 1, 0),
        Conv("resnet50", "l1_downsample", 64, 256, 56, 1, 1, 0),
        Conv("resnet50", "l1_1x1_reduce", 256, 64, 56, 1, 1, 0),
        Conv("resnet50", "l2_1x1_reduce_first", 256, 128, 56, 1, 1, 0),
        Conv("resnet50", "l2_3x3_s2", 128, 128, 56, 3, 2, 1),
        Conv("resnet50", "l2_3x3", 128, 128, 28, 3, 1, 1),
        Conv("resnet50", "l2_1x1_expand", 128, 512, 28, 1, 1, 0),
        Conv("resnet50", "l2_downsample_s2", 256, 512, 56, 1, 2, 0),
        Conv("resnet50", "l2_1x1_reduce", 512, 128, 28, 1, 1, 0),
        Conv("resnet50", "l3_1x1_reduce_first", 512, 256, 28, 1, 1, 0),
        Conv("resnet50", "l3_3x3_s2", 256, 256, 28, 3, 2, 1),
        Conv("resnet50", "l3_3x3", 256, 256, 14, 3, 1, 1),
        Conv("resnet50", "l3_1x1_expand", 256, 1024, 14, 1, 1, 0),
        Conv("resnet50", "l3_downsample_s2", 512, 1024, 28, 1, 2, 0),
        Conv("resnet50", "l3_1x1_reduce", 1024, 256, 14, 1, 1, 0),
        Conv("resnet50", "l4_1x1_reduce_first", 1024, 512, 14, 1, 1, 0),
        Conv("resnet50", "l4_3x3_s2", 512, 512, 14, 3, 2, 1),
        Conv("resnet50", "l4_3x3", 512, 512, 7, 3, 1, 1),
        Conv("resnet50", "l4_1x1_expand", 512, 2048, 7, 1, 1, 0),
        Conv("resnet50", "l4_downsample_s2", 1024, 2048, 14, 1, 2, 0),
        Conv("resnet50", "l4_1x1_reduce", 2048, 512, 7, 1, 1, 0),
    ];

    /// <summary>MobileNetV2 depthwise 3×3 (groups = C = K, pad 1) and pointwise 1×1 layers.</summary>
    public static IReadOnlyList<NamedConv2d> MobileNet { get; } =
    [
        Conv("mobilenet", "dw32_112", 32, 32, 112, 3, 1, 1, 32),
        Conv("mobilenet", "dw96_112_s2", 96, 96, 112, 3, 2, 1, 96),
        Conv("mobilenet", "dw144_56", 144, 144, 56, 3, 1, 1, 144),
        Conv("mobilenet", "dw144_56_s2", 144, 144, 56, 3, 2, 1, 144),
        Conv("mobilenet", "dw192_28", 192, 192, 28, 3, 1, 1, 192),
        Conv("mobilenet", "dw192_28_s2", 192, 192, 28, 3, 2, 1, 192),
        Conv("mobilenet", "dw384_14", 384, 384, 14, 3, 1, 1, 384),
        Conv("mobilenet", "dw576_14", 576, 576, 14, 3, 1, 1, 576),
        Conv("mobilenet", "dw576_14_s2", 576, 576, 14, 3, 2, 1, 576),
        Conv("mobilenet", "dw960_7", 960, 960, 7, 3, 1, 1, 960),
        Conv("mobilenet", "pw32_16", 32, 16, 112, 1, 1, 0),
        Conv("mobilenet", "pw16_96", 16, 96, 112, 1, 1, 0),
        Conv("mobilenet", "pw144_24", 144, 24, 56, 1, 1, 0),
        Conv("mobilenet", "pw24_144", 24, 144, 56, 1, 1, 0),
        Conv("mobilenet", "pw192_64", 192, 64, 14, 1, 1, 0),
        Conv("mobilenet", "pw384_96", 384, 96, 14, 1, 1, 0),
        Conv("mobilenet", "pw960_320", 960, 320, 7, 1, 1, 0),
        Conv("mobilenet", "pw320_1280", 320, 1280, 7, 1, 1, 0),
    ];

    /// <summary>The memory-bound references: max-pool 2×2/2 and ReLU on the 64×224×224 tensor after VGG's conv1_2.</summary>
    public static TensorShape PoolReluInput(int n) => TensorShape.Of(n, 64, 224, 224);

    /// <summary>Max-pool 2×2 stride 2 of the <c>pool</c> set.</summary>
    public static Pool2dParams Pool2x2 { get; } = Pool2dParams.Create(kernel: 2, stride: 2);

    /// <summary>
    /// The <c>edges</c> set: seeded random small problems covering R,S ∈ 1..7 (R ≠ S too), stride 1..3
    /// (H ≠ W strides too), dilation 1..2, padding 0..3 (asymmetric, and larger than the kernel),
    /// groups 1, 2 and depthwise, odd and even H, W from 1 to 19, C and K off the vector widths, batch 1 and 3.
    /// Every problem is valid (the dilated kernel fits the padded input).
    /// </summary>
    public static IEnumerable<Conv2dShape> Edges(int count, int seed)
    {
        var rng = new Random(seed);
        int made = 0;
        while (made < count)
        {
            int r = rng.Next(1, 8), s = rng.Next(4) == 0 ? rng.Next(1, 8) : r;
            int dil = rng.Next(3) == 0 ? 2 : 1;
            int strideH = rng.Next(1, 4), strideW = rng.Next(4) == 0 ? rng.Next(1, 4) : strideH;
            var pad = rng.Next(3) == 0
                ? new Padding2d(rng.Next(0, 4), rng.Next(0, 4), rng.Next(0, 4), rng.Next(0, 4))
                : Padding2d.Symmetric(rng.Next(0, 4));
            int groupsKind = rng.Next(4); // 0,1: dense; 2: two groups; 3: depthwise
            int groups = groupsKind == 2 ? 2 : 1;
            int c = rng.Next(1, 20), k = rng.Next(1, 20);
            if (groupsKind == 2)
            {
                c = 2 * rng.Next(1, 10);
                k = 2 * rng.Next(1, 10);
            }
            else if (groupsKind == 3)
            {
                c = k = groups = rng.Next(1, 20);
            }
            int h = rng.Next(1, 20), w = rng.Next(1, 20);
            int n = rng.Next(2) == 0 ? 1 : 3;
            var p = new Conv2dParams { StrideH = strideH, StrideW = strideW, Padding = pad, DilationH = dil, DilationW = dil, Groups = groups };
            var shape = new Conv2dShape(n, c, h, w, k, r, s, p);
            if (OutputSize.Dilated(r, dil) > h + pad.Top + pad.Bottom || OutputSize.Dilated(s, dil) > w + pad.Left + pad.Right)
            {
                continue;
            }
            made++;
            yield return shape;
        }
    }

    /// <summary>
    /// The pooling part of the <c>edges</c> set: seeded random small pools with kernel 1..4 (H ≠ W too), stride 1..3
    /// (H ≠ W too), ceil mode on and off, padding below the kernel (asymmetric), count_include_pad on and off,
    /// batch 1 and 2, odd and even H, W from 1 to 17, C from 1 to 19. Every problem is valid for max pooling.
    /// </summary>
    public static IEnumerable<Pool2dShape> Pool2dEdges(int count, int seed)
    {
        var rng = new Random(seed);
        int made = 0;
        while (made < count)
        {
            int k = rng.Next(1, 5), stride = rng.Next(1, 4);
            var p = new Pool2dParams
            {
                KernelH = k, KernelW = rng.Next(3) == 0 ? rng.Next(1, 5) : k, StrideH = stride, StrideW = rng.Next(3) == 0 ? rng.Next(1, 4) : stride,
                CeilMode = rng.Next(2) == 0, CountIncludePad = rng.Next(2) == 0,
            };
            p = p with { Padding = new Padding2d(rng.Next(0, p.KernelH), rng.Next(0, p.KernelW), rng.Next(0, p.KernelH), rng.Next(0, p.KernelW)) };
            var shape = new Pool2dShape(rng.Next(2) == 0 ? 1 : 2, rng.Next(1, 20), rng.Next(1, 18), rng.Next(1, 18), p);
            try
            {
                shape.Validate("MaxPool2d");
            }
            catch (FastConvException)
            {
                continue;
            }
            made++;
            yield return shape;
        }
    }

    /// <summary>
    /// The epilogues a fused conv must support, in turn by <paramref name="i"/>: none, Relu, folded BN + Relu6,
    /// residual + Relu, BN + residual + HardSwish, LeakyRelu; BN scale and shift of length <paramref name="k"/> from <paramref name="rng"/>.
    /// </summary>
    public static ConvEpilogue EdgeEpilogue(int i, int k, Random rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        float[] Values(float lo, float hi) => [.. Enumerable.Range(0, k).Select(_ => lo + (hi - lo) * rng.NextSingle())];
        return (i % 6) switch
        {
            0 => ConvEpilogue.None,
            1 => new ConvEpilogue { Activation = Activation.Relu },
            2 => new ConvEpilogue { Scale = Values(0.5f, 2f), Shift = Values(-1f, 1f), Activation = Activation.Relu6 },
            3 => new ConvEpilogue { AddResidual = true, Activation = Activation.Relu },
            4 => new ConvEpilogue { Scale = Values(0.5f, 2f), Shift = Values(-1f, 1f), AddResidual = true, Activation = Activation.HardSwish },
            _ => new ConvEpilogue { Activation = Activation.LeakyRelu(0.1f) },
        };
    }
}
