using FastConv.Ops;

namespace FastConv.Tests.Support;

/// <summary>One convolution problem for the oracle tests: input N×C×H×W, weights K×(C/groups)×R×S.</summary>
public sealed record ConvCase(int N, int C, int H, int W, int K, int R, int S, Conv2dParams P, bool Bias)
{
    public TensorShape X => TensorShape.Of(N, C, H, W);
    public TensorShape Wt => TensorShape.Of(K, C / P.Groups, R, S);
    public TensorShape B => TensorShape.Of(K);
    public override string ToString() => $"N={N} C={C} H={H} W={W} K={K} R={R} S={S} {P} bias={Bias}";
}

/// <summary>One transposed-convolution problem: input N×C×H×W, weights C×(K/groups)×R×S.</summary>
public sealed record ConvTransposeCase(int N, int C, int H, int W, int K, int R, int S, ConvTranspose2dParams P, bool Bias)
{
    public TensorShape X => TensorShape.Of(N, C, H, W);
    public TensorShape Wt => TensorShape.Of(C, K / P.Groups, R, S);
    public TensorShape B => TensorShape.Of(K);
    public override string ToString() => $"N={N} C={C} H={H} W={W} K={K} R={R} S={S} {P} bias={Bias}";
}

/// <summary>One pooling problem: input N×C×H×W and the window hyperparameters.</summary>
public sealed record PoolCase(int N, int C, int H, int W, Pool2dParams P)
{
    public TensorShape X => TensorShape.Of(N, C, H, W);
    public override string ToString() => $"N={N} C={C} H={H} W={W} {P}";
}

/// <summary>
/// Seeded random problems for the conv and pooling oracle tests: 60 per op, hand-picked edges first
/// (odd sizes, R ≠ S up to 7, strides 1–3 with strideH ≠ strideW, dilation 2, pads larger than the
/// kernel, asymmetric pads, batch 1 and &gt; 1, channels not multiples of 8, groups 2 and depthwise,
/// ceil mode and count_include_pad both ways), then random ones. Shapes stay small so the suite is fast.
/// </summary>
internal static class ConvShapes
{
    public const int CasesPerOp = OracleShapes.CasesPerOp;

    private static Conv2dParams CP(int sh, int sw, Padding2d pad, int dh = 1, int dw = 1, int g = 1)
        => new() { StrideH = sh, StrideW = sw, Padding = pad, DilationH = dh, DilationW = dw, Groups = g };

    private static Padding2d Pad(int t, int l, int b, int r) => new(t, l, b, r);

    public static IEnumerable<ConvCase> Conv(int seed, int count = CasesPerOp)
    {
        ConvCase[] edges =
        [
            new(1, 1, 3, 3, 1, 2, 2, CP(1, 1, default), false),
            new(2, 3, 7, 9, 5, 3, 5, CP(2, 3, Pad(0, 1, 2, 1)), true),
            new(1, 5, 11, 13, 7, 3, 3, CP(1, 1, Pad(2, 2, 2, 2), 2, 2), true),
            new(2, 3, 5, 6, 4, 2, 3, CP(1, 2, Pad(4, 5, 3, 6)), true),          // pads larger than the kernel
            new(1, 6, 9, 8, 10, 3, 2, CP(2, 1, Pad(1, 0, 0, 1), 1, 1, 2), true), // groups 2
            new(3, 7, 10, 11, 7, 3, 3, CP(2, 2, Pad(1, 1, 1, 1), 1, 1, 7), true), // depthwise
            new(1, 9, 15, 6, 9, 7, 1, CP(3, 1, Pad(3, 0, 3, 0), 1, 1, 9), false), // depthwise, R ≠ S
            new(2, 2, 13, 19, 3, 1, 7, CP(3, 3, Pad(0, 3, 0, 3)), true),
            new(1, 17, 5, 5, 24, 1, 1, CP(1, 1, default), true),                // 1x1
            new(2, 4, 12, 17, 6, 5, 4, CP(2, 3, Pad(2, 1, 0, 3), 2, 1, 2), true),
            new(1, 12, 20, 20, 12, 7, 7, CP(1, 1, Pad(3, 3, 3, 3), 1, 1, 12), true),
            new(2, 6, 1, 9, 3, 1, 3, CP(1, 2, Pad(0, 1, 0, 0), 1, 2, 3), false),  // H = 1
        ];
        int n = 0;
        foreach (var e in edges)
        {
            if (n++ < count)
            {
                yield return e;
            }
        }
        var rng = new Random(seed);
        while (n < count)
        {
            int groups = rng.Next(4) switch { 0 => 2, 1 => 3, 2 => 1, _ => 0 };
            int cg, kg;
            if (groups == 0)
            {
                groups = rng.Next(1, 13); // depthwise: C = K = groups
                cg = kg = 1;
            }
            else
            {
                cg = rng.Next(1, 8);
                kg = rng.Next(1, 8);
            }
            int h = rng.Next(1, 21), w = rng.Next(1, 21), r = rng.Next(1, 8), s = rng.Next(1, 8);
            int dh = rng.Next(1, 3), dw = rng.Next(1, 3);
            var pad = Pad(rng.Next(0, 9), rng.Next(0, 9), rng.Next(0, 9), rng.Next(0, 9));
            var p = CP(rng.Next(1, 4), rng.Next(1, 4), pad, dh, dw, groups);
            var c = new ConvCase(rng.Next(1, 4), cg * groups, h, w, kg * groups, r, s, p, rng.Next(3) > 0);
            if (OutputSize.Dilated(r, dh) > h + pad.Top + pad.Bottom || OutputSize.Dilated(s, dw) > w + pad.Left + pad.Right)
            {
                continue;
            }
            n++;
            yield return c;
        }
    }

    private static ConvTranspose2dParams TP(int sh, int sw, Padding2d pad, int dh = 1, int dw = 1, int g = 1, int oh = 0, int ow = 0)
        => new() { StrideH = sh, StrideW = sw, Padding = pad, DilationH = dh, DilationW = dw, Groups = g, OutputPaddingH = oh, OutputPaddingW = ow };

    public static IEnumerable<ConvTransposeCase> ConvTranspose(int seed, int count = CasesPerOp)
    {
        ConvTransposeCase[] edges =
        [
            new(1, 1, 3, 3, 1, 2, 2, TP(1, 1, default), false),
            new(2, 3, 7, 9, 5, 3, 5, TP(2, 3, Pad(0, 1, 2, 1), oh: 1, ow: 2), true),  // output padding
            new(1, 5, 6, 5, 7, 3, 3, TP(2, 1, Pad(2, 2, 2, 2), 2, 2, oh: 1), true),    // dilation 2
            new(1, 6, 9, 8, 10, 3, 2, TP(2, 1, Pad(1, 0, 0, 1), 1, 1, 2), true),       // groups 2
            new(3, 7, 5, 6, 7, 3, 3, TP(2, 2, Pad(1, 1, 1, 1), 1, 1, 7, 1, 1), true),  // depthwise
            new(1, 9, 4, 6, 9, 7, 1, TP(3, 1, Pad(3, 0, 3, 0), 2, 1, 9, 2), false),    // depthwise, R ≠ S, stride 3
            new(2, 2, 5, 3, 3, 1, 7, TP(3, 3, Pad(0, 3, 0, 3)), true),
            new(1, 17, 5, 5, 24, 1, 1, TP(1, 1, default), true),                      // 1x1
            new(2, 4, 6, 7, 6, 5, 4, TP(2, 3, Pad(2, 1, 0, 3), 2, 1, 2, 1, 2), true),
            new(2, 6, 1, 9, 3, 1, 3, TP(1, 2, Pad(0, 1, 0, 0), 1, 2, 3), false),       // H = 1
            new(1, 3, 4, 4, 2, 2, 3, TP(2, 2, Pad(3, 4, 2, 4)), true),                 // pads larger than the kernel
        ];
        int n = 0;
        foreach (var e in edges)
        {
            if (n++ < count)
            {
                yield return e;
            }
        }
        var rng = new Random(seed);
        while (n < count)
        {
            int groups = rng.Next(4) switch { 0 => 2, 1 => 3, 2 => 1, _ => 0 };
            int cg, kg;
            if (groups == 0)
            {
                groups = rng.Next(1, 13);
                cg = kg = 1;
            }
            else
            {
                cg = rng.Next(1, 8);
                kg = rng.Next(1, 8);
            }
            int h = rng.Next(1, 10), w = rng.Next(1, 10), r = rng.Next(1, 8), s = rng.Next(1, 8);
            int sh = rng.Next(1, 4), sw = rng.Next(1, 4), dh = rng.Next(1, 3), dw = rng.Next(1, 3);
            int oh = rng.Next(0, sh), ow = rng.Next(0, sw); // ORT: output padding < stride
            var pad = Pad(rng.Next(0, 6), rng.Next(0, 6), rng.Next(0, 6), rng.Next(0, 6));
            var p = TP(sh, sw, pad, dh, dw, groups, oh, ow);
            if (OutputSize.ConvTranspose(h, r, sh, pad.Top, pad.Bottom, dh, oh) < 1 || OutputSize.ConvTranspose(w, s, sw, pad.Left, pad.Right, dw, ow) < 1)
            {
                continue;
            }
            n++;
            yield return new ConvTransposeCase(rng.Next(1, 4), cg * groups, h, w, kg * groups, r, s, p, rng.Next(3) > 0);
        }
    }

    private static Pool2dParams PP(int r, int s, int sh, int sw, Padding2d pad, bool ceil, bool cip = false, int dh = 1, int dw = 1)
        => new() { KernelH = r, KernelW = s, StrideH = sh, StrideW = sw, Padding = pad, CeilMode = ceil, CountIncludePad = cip, DilationH = dh, DilationW = dw };

    /// <summary>Pooling problems; <paramref name="dilation"/> false keeps dilation 1 (AvgPool, opset 17).</summary>
    public static IEnumerable<PoolCase> Pool(int seed, bool dilation, int count = CasesPerOp)
    {
        int d2 = dilation ? 2 : 1;
        PoolCase[] edges =
        [
            new(1, 1, 3, 3, PP(2, 2, 1, 1, default, false)),
            new(2, 3, 7, 9, PP(3, 2, 2, 3, Pad(1, 0, 2, 1), true, true)),
            new(2, 3, 7, 9, PP(3, 2, 2, 3, Pad(1, 0, 2, 1), true, false)),
            new(1, 5, 8, 8, PP(3, 3, 2, 2, Pad(1, 1, 1, 1), true, true)),        // ceil window runs past the end pad
            new(1, 5, 8, 8, PP(3, 3, 2, 2, Pad(1, 1, 1, 1), false, true)),
            new(3, 7, 11, 10, PP(3, 3, 2, 2, Pad(1, 1, 1, 1), true, false, d2, d2)),
            new(1, 9, 15, 6, PP(7, 1, 3, 1, Pad(3, 0, 3, 0), false, true)),
            new(2, 2, 13, 19, PP(1, 7, 3, 3, Pad(0, 3, 0, 3), true, true)),
            new(1, 17, 6, 6, PP(2, 2, 2, 2, default, true)),
            new(2, 4, 12, 17, PP(5, 4, 2, 3, Pad(2, 1, 0, 3), true, true, d2, 1)),
            new(2, 6, 1, 9, PP(1, 3, 1, 2, Pad(0, 1, 0, 0), true, false, 1, d2)),   // H = 1
            new(1, 3, 5, 5, PP(5, 5, 3, 3, Pad(4, 4, 4, 4), true, true)),           // ceil, pads just below the window
            new(1, 3, 5, 5, PP(4, 4, 3, 3, Pad(3, 3, 3, 3), true, false)),
        ];
        int n = 0;
        foreach (var e in edges)
        {
            if (n++ < count)
            {
                yield return e;
            }
        }
        var rng = new Random(seed);
        while (n < count)
        {
            int h = rng.Next(1, 21), w = rng.Next(1, 21), r = rng.Next(1, 8), s = rng.Next(1, 8);
            int dh = dilation ? rng.Next(1, 3) : 1, dw = dilation ? rng.Next(1, 3) : 1;
            int er = OutputSize.Dilated(r, dh), es = OutputSize.Dilated(s, dw);
            // ONNX Runtime requires every pad < kernel (the undilated one), stricter than our pad < dilated window.
            var pad = Pad(rng.Next(0, r), rng.Next(0, s), rng.Next(0, r), rng.Next(0, s));
            var p = PP(r, s, rng.Next(1, 4), rng.Next(1, 4), pad, rng.Next(2) == 0, rng.Next(2) == 0, dh, dw);
            if (er > h + pad.Top + pad.Bottom || es > w + pad.Left + pad.Right)
            {
                continue;
            }
            n++;
            yield return new PoolCase(rng.Next(1, 4), rng.Next(1, 25), h, w, p);
        }
    }

    /// <summary>N×C×H×W shapes for the global pools.</summary>
    public static IEnumerable<int[]> Global(int seed, int count = CasesPerOp)
    {
        int[][] edges = [[1, 1, 1, 1], [1, 3, 5, 7], [2, 16, 8, 8], [3, 13, 1, 9], [2, 1, 20, 1], [1, 24, 7, 7]];
        int n = 0;
        foreach (var e in edges)
        {
            if (n++ < count)
            {
                yield return e;
            }
        }
        var rng = new Random(seed);
        while (n++ < count)
        {
            yield return [rng.Next(1, 4), rng.Next(1, 25), rng.Next(1, 21), rng.Next(1, 21)];
        }
    }

    /// <summary>Wraps cases as NUnit test cases named after the whole problem.</summary>
    public static IEnumerable<TestCaseData> AsTestCases<T>(string op, IEnumerable<T> cases) where T : notnull
        => cases.Select((c, i) => new TestCaseData(c).SetName($"{op}({c}) #{i}"));
}
