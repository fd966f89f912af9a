using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Ops;
using FastConv.Cpu.Conv2d;
using FastConv.Tests.Backends;
using ConvCase = FastConv.Tests.Backends.ConvCase;

namespace FastConv.Tests.Kernels;

/// <summary>
/// The channel-blocked conv paths — <c>direct-nchwc</c> (output channels in the vector lanes, one broadcast input per
/// pixel) and depthwise's channel-block strips — on shapes large enough to reach what the edges set's small planes
/// do not: several pixel runs and input-channel ranges per task (the accumulate path), several row strips per plane,
/// rows of 16 pixels and more (in-register transposes and their overlapping tail), the 3-tap row kernels at stride
/// 1 and 2 with an overlapping last group, K off the 64/32-channel blocks, groups, dilation, stride 3, padding wider
/// than the kernel and asymmetric, batch 2 — and <c>direct</c>'s in-place pointwise runs, at every SIMD level, 1 and 2 threads, with the epilogues cycled (bias,
/// scale/shift, residual, activations), against the reference.
/// </summary>
public sealed class Conv2dChannelBlockedTests
{
    private static readonly SimdLevel[] Levels = Enum.GetValues<SimdLevel>().Where(l => l <= CpuFeatures.Detected).ToArray();

    private static Conv2dShape Dw(int n, int c, int h, int w, int r, int s, Conv2dParams p) => new(n, c, h, w, c, r, s, p with { Groups = c });

    /// <summary>Depthwise shapes (m = 1) for the channel-block strips.</summary>
    public static IEnumerable<Conv2dShape> DepthwiseShapes()
    {
        yield return Dw(1, 20, 37, 41, 3, 3, Conv2dParams.Create(stride: 1, pad: 1));          // row kernel, 16-wide transposes, overlapping tails
        yield return Dw(1, 33, 70, 64, 3, 3, Conv2dParams.Create(stride: 1, pad: 1));          // several strips per plane
        yield return Dw(2, 17, 29, 35, 3, 3, Conv2dParams.Create(stride: 2, pad: 1));          // stride-2 row kernel, batch 2
        yield return Dw(1, 24, 31, 23, 5, 5, Conv2dParams.Create(stride: 2, pad: 2));          // 5×5 (MobileNetV3), flat kernel
        yield return Dw(1, 16, 19, 18, 3, 3, Conv2dParams.Create(stride: 1, pad: 2, dilation: 2));
        yield return Dw(1, 9, 9, 40, 3, 3, new Conv2dParams { StrideH = 2, StrideW = 1, Padding = new Padding2d(0, 1, 2, 3) });
        yield return Dw(1, 8, 5, 7, 3, 3, Conv2dParams.Create(stride: 1, pad: 4));             // padding wider than the kernel
        yield return Dw(1, 40, 14, 14, 3, 3, Conv2dParams.Create(stride: 1, pad: 1));          // rows narrower than a block
        yield return Dw(1, 48, 7, 7, 3, 3, Conv2dParams.Create(stride: 2, pad: 1));         // rows of 4: a short row kernel
        yield return Dw(1, 32, 7, 7, 3, 3, Conv2dParams.Create(stride: 1, pad: 1));         // rows of 7
        yield return Dw(2, 21, 14, 13, 3, 3, Conv2dParams.Create(stride: 2, pad: 1));
        yield return Dw(1, 19, 26, 27, 3, 3, Conv2dParams.Create(stride: 3, pad: 1));
    }

    /// <summary>Dense and grouped shapes for <c>direct-nchwc</c>.</summary>
    public static IEnumerable<Conv2dShape> DenseShapes()
    {
        yield return new Conv2dShape(1, 70, 7, 7, 100, 1, 1, Conv2dParams.Create());            // 7×7 pointwise, K off the blocks
        yield return new Conv2dShape(1, 300, 14, 14, 64, 1, 1, Conv2dParams.Create());          // 3 channel ranges, 3 pixel runs
        yield return new Conv2dShape(1, 40, 23, 29, 96, 3, 3, Conv2dParams.Create(stride: 2, pad: 1));
        yield return new Conv2dShape(1, 3, 45, 47, 64, 7, 7, Conv2dParams.Create(stride: 2, pad: 3)); // stem-like
        yield return new Conv2dShape(1, 24, 17, 19, 48, 3, 3, new Conv2dParams { StrideH = 3, StrideW = 3, Padding = new Padding2d(0, 2, 1, 3), DilationH = 2, DilationW = 2 });
        yield return new Conv2dShape(2, 16, 13, 15, 40, 3, 3, Conv2dParams.Create(pad: 1, groups: 2));
        yield return new Conv2dShape(1, 64, 10, 11, 200, 1, 1, Conv2dParams.Create(stride: 2));  // downsample, read in place
        yield return new Conv2dShape(1, 520, 9, 9, 130, 3, 3, Conv2dParams.Create(pad: 1));      // 38 channel ranges
        yield return new Conv2dShape(1, 5, 4, 6, 33, 3, 3, Conv2dParams.Create(pad: 4));
        yield return new Conv2dShape(2, 36, 12, 9, 17, 2, 3, new Conv2dParams { StrideH = 1, StrideW = 2, Padding = new Padding2d(1, 0, 0, 2) });
        yield return new Conv2dShape(1, 1, 28, 27, 32, 5, 5, Conv2dParams.Create(pad: 2));       // one input channel (MNIST's conv1, Q odd)
    }

    /// <summary>
    /// Unpadded stride-1 1×1 convs that <c>direct</c> reads in place as one flat run of H·W pixels, the last vector
    /// overlapping: H·W a multiple of the lanes and not, just one vector, several chunks, groups, batch 2.
    /// </summary>
    public static IEnumerable<Conv2dShape> PointwiseShapes()
    {
        yield return new Conv2dShape(1, 32, 13, 17, 16, 1, 1, Conv2dParams.Create());
        yield return new Conv2dShape(2, 16, 9, 9, 96, 1, 1, Conv2dParams.Create());
        yield return new Conv2dShape(1, 12, 8, 8, 20, 1, 1, Conv2dParams.Create());
        yield return new Conv2dShape(1, 7, 4, 4, 9, 1, 1, Conv2dParams.Create());
        yield return new Conv2dShape(1, 10, 37, 41, 24, 1, 1, Conv2dParams.Create(groups: 2));
        yield return new Conv2dShape(1, 5, 3, 3, 6, 1, 1, Conv2dParams.Create());
    }

    public static IEnumerable<TestCaseData> Cases()
    {
        var dw = ConvCaseSource.Cases(DepthwiseShapes(), 41).ToList();
        var dense = ConvCaseSource.Cases(DenseShapes(), 43).ToList();
        var pointwise = ConvCaseSource.Cases(PointwiseShapes(), 47).ToList();
        foreach (SimdLevel level in Levels)
        {
            foreach (int threads in new[] { 1, 2 })
            {
                int i = 0;
                foreach (ConvCase c in dw)
                {
                    yield return new TestCaseData("depthwise", level, threads, c).SetName($"depthwise/{level}/{threads}t: Conv2d({c}) #{i++}");
                }
                i = 0;
                foreach (ConvCase c in dense)
                {
                    yield return new TestCaseData("direct-nchwc", level, threads, c).SetName($"direct-nchwc/{level}/{threads}t: Conv2d({c}) #{i++}");
                }
                i = 0;
                foreach (ConvCase c in pointwise)
                {
                    yield return new TestCaseData("direct", level, threads, c).SetName($"direct/{level}/{threads}t: Conv2d({c}) #{i++}");
                }
            }
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesReference(string algorithm, SimdLevel level, int threads, ConvCase c)
    {
        using var backend = new CpuBackend(new CpuBackendOptions { Simd = level, Threads = threads, ConvAlgorithm = algorithm });
        BackendConformanceTests.CheckConv(backend, c, _ => 1.0);
    }

    public static IEnumerable<TestCaseData> BlockedCases()
    {
        var dense = ConvCaseSource.Cases(DenseShapes().Where(s => s.Groups == 1), 53).ToList();
        foreach (SimdLevel level in Levels)
        {
            int i = 0;
            foreach (ConvCase c in dense)
            {
                yield return new TestCaseData(level, c).SetName($"Conv2dNchwc/{level}: Conv2d({c}) #{i++}");
            }
        }
    }

    /// <summary>
    /// The blocked-layout entry point (NCHWc in and out, for the layout pass): the input reordered to NCHWc, the conv
    /// run, the output reordered back, against the reference; the residual is given blocked too.
    /// </summary>
    [TestCaseSource(nameof(BlockedCases))]
    public void BlockedLayoutMatchesReference(SimdLevel level, ConvCase c)
    {
        using var backend = new CpuBackend(new CpuBackendOptions { Simd = level, Threads = 2 });
        BackendConformanceTests.CheckConv(backend, c, _ => 1.0,
            (s, w, bias, epilogue) => new BlockedAsNchw(Conv2dNchwcBlocked.Create(s, w, bias, epilogue, backend.Context)));
    }

    /// <summary>The blocked conv behind the NCHW plan interface: reorders in, runs, reorders out (tests only).</summary>
    private sealed class BlockedAsNchw(INchwcConv2d conv) : IConv2dPlan
    {
        public Conv2dShape Shape => conv.Shape;
        public string Algorithm => "Conv2dNchwc";
        public long WorkspaceBytes => 0;
        public TensorShape OutputShape => conv.Shape.OutputShape;

        public void Execute(Tensor x, Tensor y, Tensor? residual = null)
        {
            Conv2dShape s = conv.Shape;
            int lanes = conv.Lanes;
            float[] xb = new float[NchwcLayout.Length(s.N, s.C, s.H, s.W, lanes)];
            NchwcLayout.FromNchw(x.Span, s.N, s.C, s.H, s.W, lanes, xb);
            float[] rb = residual is null ? [] : new float[NchwcLayout.Length(s.N, s.K, s.P, s.Q, lanes)];
            if (residual is not null)
            {
                NchwcLayout.FromNchw(residual.Span, s.N, s.K, s.P, s.Q, lanes, rb);
            }
            float[] yb = Enumerable.Repeat(float.NaN, (int)NchwcLayout.Length(s.N, s.K, s.P, s.Q, lanes)).ToArray();
            conv.Execute(xb, yb, rb);
            NchwcLayout.ToNchw(yb, s.N, s.K, s.P, s.Q, lanes, y.Span);
        }

        public void Dispose()
        {
        }
    }

    [Test]
    public void NchwcReordersRoundTripAndZeroThePaddingLanes()
    {
        foreach (int lanes in new[] { 1, 4, 8, 16 })
        {
            var rng = new Random(lanes);
            int n = 2, c = 19, h = 5, w = 7;
            float[] x = Enumerable.Range(0, n * c * h * w).Select(_ => (float)rng.NextDouble()).ToArray();
            float[] blocked = Enumerable.Repeat(float.NaN, (int)NchwcLayout.Length(n, c, h, w, lanes)).ToArray();
            NchwcLayout.FromNchw(x, n, c, h, w, lanes, blocked);
            float[] back = new float[x.Length];
            NchwcLayout.ToNchw(blocked, n, c, h, w, lanes, back);
            Assert.That(back, Is.EqualTo(x), $"{lanes} lanes");
            // Element (n=1, c=18, h=4, w=6) sits in block 18/lanes, lane 18%lanes; lanes past C are zero.
            int blocks = (c + lanes - 1) / lanes;
            Assert.That(blocked[(((1 * blocks + 18 / lanes) * h + 4) * w + 6) * lanes + 18 % lanes], Is.EqualTo(x[((1 * c + 18) * h + 4) * w + 6]));
            Assert.That(blocked.All(float.IsFinite), Is.True);
        }
        Assert.Throws<InvalidShapeException>(() => NchwcLayout.FromNchw(new float[10], 1, 3, 2, 2, 16, new float[64]));
    }

    [Test]
    public void BlockedConvRejectsGroupsAndShortBuffers()
    {
        using var backend = new CpuBackend(new CpuBackendOptions { Threads = 1 });
        var grouped = new Conv2dShape(1, 8, 5, 5, 8, 3, 3, Conv2dParams.Create(pad: 1, groups: 2));
        Assert.Throws<InvalidHyperparameterException>(() => Conv2dNchwcBlocked.Create(grouped, Tensor.Allocate(grouped.WeightShape), null, ConvEpilogue.None, backend.Context));
        var s = new Conv2dShape(1, 8, 5, 5, 8, 3, 3, Conv2dParams.Create(pad: 1));
        INchwcConv2d conv = Conv2dNchwcBlocked.Create(s, Tensor.Allocate(s.WeightShape), null, ConvEpilogue.None, backend.Context);
        var e = Assert.Throws<InvalidShapeException>(() => conv.Execute(new float[10], new float[1000], default));
        Assert.That(e!.Message, Does.Contain("Conv2dNchwc"));
    }

    [Test]
    public void BelowAvx512OnlyReducingPointwiseLayersLeaveTheGemm()
    {
        using var backend = new CpuBackend(new CpuBackendOptions { Threads = 1, Simd = SimdLevel.Avx2 });
        string Pick(Conv2dShape s) => backend.PlanConv2d(s, Tensor.Allocate(s.WeightShape), null, ConvEpilogue.None).Algorithm;
        Assert.Multiple(() =>
        {
            Assert.That(Pick(new Conv2dShape(1, 2048, 7, 7, 512, 1, 1, Conv2dParams.Create())), Is.EqualTo("direct-nchwc"));
            Assert.That(Pick(new Conv2dShape(1, 64, 56, 56, 256, 1, 1, Conv2dParams.Create())), Is.EqualTo("gemm-1x1"));
            Assert.That(Pick(new Conv2dShape(1, 512, 7, 7, 2048, 1, 1, Conv2dParams.Create())), Is.EqualTo("gemm-1x1"));
            Assert.That(Pick(new Conv2dShape(1, 16, 112, 112, 96, 1, 1, Conv2dParams.Create())), Is.EqualTo("gemm-1x1"));
            Assert.That(Pick(new Conv2dShape(1, 32, 112, 112, 16, 1, 1, Conv2dParams.Create())), Is.EqualTo("direct"));
            Assert.That(Pick(new Conv2dShape(1, 1024, 14, 14, 2048, 1, 1, Conv2dParams.Create(stride: 2))), Is.EqualTo("direct-nchwc"));
        });
    }

    [Test]
    public void ChoosesTheChannelBlockedPathsForTheirLayers()
    {
        using var backend = new CpuBackend(new CpuBackendOptions { Threads = 1 });
        string Pick(Conv2dShape s) => backend.PlanConv2d(s, Tensor.Allocate(s.WeightShape), null, ConvEpilogue.None).Algorithm;
        Assert.Multiple(() =>
        {
            // ResNet-50's strided, 7×7-plane and stem layers; MobileNet's thinnest pointwise reads in place, a thin one stays a GEMM.
            Assert.That(Pick(new Conv2dShape(1, 1024, 14, 14, 2048, 1, 1, Conv2dParams.Create(stride: 2))), Is.EqualTo("direct-nchwc"));
            Assert.That(Pick(new Conv2dShape(1, 512, 14, 14, 512, 3, 3, Conv2dParams.Create(stride: 2, pad: 1))), Is.EqualTo("direct-nchwc"));
            Assert.That(Pick(new Conv2dShape(1, 2048, 7, 7, 512, 1, 1, Conv2dParams.Create())), Is.EqualTo("direct-nchwc"));
            Assert.That(Pick(new Conv2dShape(1, 3, 224, 224, 64, 7, 7, Conv2dParams.Create(stride: 2, pad: 3))), Is.EqualTo("direct-nchwc"));
            Assert.That(Pick(new Conv2dShape(1, 32, 112, 112, 16, 1, 1, Conv2dParams.Create())), Is.EqualTo("direct"));
            Assert.That(Pick(new Conv2dShape(1, 24, 56, 56, 144, 1, 1, Conv2dParams.Create())), Is.EqualTo("gemm-1x1"));
            Assert.That(Pick(new Conv2dShape(8, 144, 56, 56, 24, 1, 1, Conv2dParams.Create())),
                Is.EqualTo(backend.Context.Simd >= SimdLevel.Avx512 ? "direct" : "direct-nchwc"));
        });
    }

    [Test]
    public void OneChannelImagesWithManyOutputsTakeTheChannelBlockedPath()
    {
        // MNIST's conv1 is "depthwise" with a channel multiplier of 32, but the output channels belong in the lanes;
        // LeNet's 6 outputs would fill few lanes, and without vectors the depthwise loop stays faster.
        var mnist = new Conv2dShape(1, 1, 28, 28, 32, 5, 5, Conv2dParams.Create(pad: 2));
        var lenet = new Conv2dShape(1, 1, 32, 32, 6, 5, 5, Conv2dParams.Create());
        var sixteen = new Conv2dShape(1, 1, 20, 20, 16, 3, 3, Conv2dParams.Create(pad: 1)); // the boundary: 16 outputs
        string Pick(SimdLevel level, Conv2dShape s)
        {
            using var backend = new CpuBackend(new CpuBackendOptions { Threads = 1, Simd = level });
            return backend.PlanConv2d(s, Tensor.Allocate(s.WeightShape), null, ConvEpilogue.None).Algorithm;
        }
        // FASTCONV_SIMD=scalar caps every backend at the scalar level, where depthwise is kept.
        string vectorPath = CpuFeatures.Current >= SimdLevel.Vector128 ? "direct-nchwc" : "depthwise";
        Assert.Multiple(() =>
        {
            Assert.That(Pick(SimdLevel.Vector128, mnist), Is.EqualTo(vectorPath));
            Assert.That(Pick(SimdLevel.Scalar, mnist), Is.EqualTo("depthwise"));
            Assert.That(Pick(SimdLevel.Vector128, lenet), Is.EqualTo("depthwise"));
            Assert.That(Pick(SimdLevel.Vector128, sixteen), Is.EqualTo(vectorPath));
        });
    }
}
