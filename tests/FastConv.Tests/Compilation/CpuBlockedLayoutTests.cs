using FastConv.Backends;
using FastConv.Compilation;
using FastConv.Cpu;
using FastConv.Cpu.Conv2d;
using FastConv.Graphs;
using FastConv.Graphs.Ops;
using FastConv.Networks;
using FastConv.Ops;
using FastConv.Tests.Kernels;
using FastConv.Tests.Sessions;
using FastConv.Tests.Support;

namespace FastConv.Tests.Compilation;

/// <summary>
/// The cpu backend's blocked layout (NCHW16c on AVX-512, NCHW8c on AVX2): whole networks compiled with the policy on
/// against the reference backend, where the reorders go, the Auto decision per graph, and the blocked kernels alone
/// (depthwise, pooling, reorders) on edge shapes against the reference through NCHW ↔ NCHWc.
/// </summary>
public sealed class CpuBlockedLayoutTests
{
    private static readonly SimdLevel[] Levels = [SimdLevel.Avx512, SimdLevel.Avx2];

    private static readonly Dictionary<string, float[]> ReferenceOutputs = [];

    private static Network Net(string name) => name switch
    {
        "concat" => ConcatNet(),
        "odd" => OddChannelsNet(),
        "mini-resnet" => TestNetworks.MiniResNet(batch: 2),
        _ => Builtins.Build(name),
    };

    /// <summary>
    /// Inception-style branches joined twice: 16 + 16 + 32 channels (whole blocks at both widths), then 24 + 8
    /// (whole 8-blocks, not 16-blocks: NCHW on AVX-512), a count_include_pad average pool in ceil mode, GlobalMaxPool.
    /// </summary>
    internal static Network ConcatNet()
    {
        var b = new NetworkBuilder("concat-net", 5);
        GraphValue x = b.Input("input", TensorShape.Of(1, 3, 33, 31));
        x = b.Relu(b.Conv2d(x, 32, 3, 1, 1, name: "stem"), "stem.relu");
        GraphValue a = b.Relu(b.Conv2d(x, 16, 1, name: "a"), "a.relu");
        GraphValue c = b.Relu(b.Conv2d(x, 16, 3, 1, 1, name: "c"), "c.relu");
        GraphValue d = b.Conv2d(b.MaxPool(x, 3, 1, 1, name: "d.pool"), 32, 1, name: "d");
        x = b.Concat(1, [a, c, d], "cat1");
        x = b.Conv2d(x, 40, 3, 2, 1, name: "down");
        GraphValue e = b.Conv2d(x, 24, 1, name: "e"), f = b.Conv2d(x, 8, 3, 1, 1, name: "f");
        x = b.Concat(1, [e, f], "cat2");
        x = b.Node("AveragePool", [x.Name], new Dictionary<string, AttributeValue>
        {
            ["kernel_shape"] = AttributeValue.Of(3, 3L),
            ["strides"] = AttributeValue.Of(2, 2L),
            ["pads"] = AttributeValue.Of(1, 1, 1, 1L),
            ["ceil_mode"] = AttributeValue.Of(1),
            ["count_include_pad"] = AttributeValue.Of(1),
        }, "avg");
        x = b.Flatten(b.GlobalMaxPool(x, "gmp"), name: "flatten");
        return b.Build(b.Linear(x, 10, name: "fc"));
    }

    /// <summary>
    /// Channel counts off the blocks (3, 24, 20, 40), batch 2, a depthwise 5×5 stride-2 conv with asymmetric
    /// padding, a grouped (not depthwise) conv with no blocked kernel, a dilated conv, a residual Add, a plain average
    /// pool in ceil mode and leaky ReLU / HardSwish / sigmoid epilogues.
    /// </summary>
    internal static Network OddChannelsNet()
    {
        var b = new NetworkBuilder("odd-channels", 6);
        GraphValue x = b.Input("input", TensorShape.Of(2, 3, 30, 29));
        x = b.LeakyRelu(b.Conv2d(x, 24, 3, 1, 1, name: "stem"), 0.1f, "stem.act");
        x = b.HardSwish(b.Conv2d(x, 24, 5, 2, 2, groups: 24, name: "dw"), "dw.act");
        GraphValue y = b.Relu(b.Conv2d(x, 20, 1, name: "pw"), "pw.relu");
        y = b.Conv2d(y, 20, 3, 1, 1, groups: 4, name: "grouped");
        y = b.Sigmoid(b.Conv2d(y, 24, 3, 1, 2, dilation: 2, name: "dilated"), "dilated.act");
        x = b.Add(y, x, "residual");
        x = b.AvgPool(x, 3, 2, 1, ceilMode: true, name: "avg");
        x = b.Relu(b.Conv2d(x, 40, 3, 1, 0, name: "tail"), "tail.relu");
        x = b.Flatten(b.GlobalAvgPool(x, "gap"), name: "flatten");
        return b.Build(b.Linear(x, 10, name: "fc"));
    }

    private static float[] Run(Graph graph, IReadOnlyList<IBackend> backends, Tensor[] inputs, out CompiledGraph compiled)
    {
        compiled = GraphCompiler.Compile(graph, new CompileOptions { Backends = backends });
        using ExecutionPlan plan = ExecutionPlan.Create(compiled, backends);
        for (int i = 0; i < inputs.Length; i++)
        {
            inputs[i].Span.CopyTo(plan.Input(i).Span);
        }
        plan.Execute();
        return plan.Output(0).ToArray();
    }

    private static Tensor[] Inputs(Graph graph) =>
        [.. graph.Inputs.Select((v, i) => TestData.Floats(new Random(100 + i), v.Shape))];

    private static SimdLevel RequireLevel(SimdLevel level)
    {
        if (level > CpuFeatures.Detected)
        {
            Assert.Ignore($"this CPU has no {level} (detected {CpuFeatures.Detected}).");
        }
        return level;
    }

    private static CpuBackend Cpu(SimdLevel level, CpuBlockedLayout mode, int threads = 2) =>
        new(new CpuBackendOptions { Simd = level, BlockedLayout = mode, Threads = threads });

    private static int Block(SimdLevel level) => level == SimdLevel.Avx512 ? 16 : 8;

    /// <summary>
    /// How many reorders each net needs with the policy on: one after the RGB stem (it stays NCHW), one before the
    /// classifier, and one per crossing of an op with no blocked kernel.
    /// </summary>
    private static int ExpectedReorders(string net, SimdLevel level) => net switch
    {
        // The stem's output into a and c; d's pool follows the NCHW stem, so d reads a second reorder. 24 + 8 channels
        // are whole 8-blocks but not 16-blocks: on AVX-512 cat2 reads two NCHW inputs and the pools after it stay NCHW.
        "concat" => level == SimdLevel.Avx512 ? 4 : 3,
        // The grouped conv is NCHW: out before it, in after it.
        "odd" => 4,
        // 8-channel convs are below one 16-block: on AVX-512 only block2.conv2 starts the chain, and the Add reads
        // the NCHW shortcut reordered.
        "mini-resnet" => level == SimdLevel.Avx512 ? 3 : 2,
        _ => 2,
    };

    [Test]
    public void NetworksMatchTheReferenceWithTheBlockedLayout(
        [Values("mini-resnet", "concat", "odd", "mobilenetv1", "mobilenetv2", "resnet18")] string name,
        [ValueSource(nameof(Levels))] SimdLevel level)
    {
        RequireLevel(level);
        Network net = Net(name);
        Tensor[] inputs = Inputs(net.Graph);
        using var reference = new ReferenceBackend();
        float[] expected;
        lock (ReferenceOutputs)
        {
            if (!ReferenceOutputs.TryGetValue(name, out expected!))
            {
                expected = ReferenceOutputs[name] = Run(net.Graph, [reference], inputs, out _);
            }
        }
        using CpuBackend cpu = Cpu(level, CpuBlockedLayout.On);
        float[] actual = Run(net.Graph, [cpu, reference], inputs, out CompiledGraph compiled);

        Graph g = compiled.Graph;
        Node[] reorders = [.. g.Nodes.Where(n => n.OpType == FastConvOps.Reorder)];
        Assert.That(reorders, Has.Length.EqualTo(ExpectedReorders(name, level)),
            $"{name} at {level}: reorders {string.Join(", ", reorders.Select(r => r.Name))}");
        string blocked = $"NCHW{Block(level)}c";
        Node[] convs = [.. g.Nodes.Where(n => n.OpType is "Conv" or FastConvOps.FusedConv && n.GetInt("group", 1) is var gr && (gr == 1 || gr == g.Values[n.Inputs[0]].Shape[1]))];
        Assert.That(convs, Is.Not.Empty);
        Assert.That(convs.Select(n => (n.Name, g.Values[n.Outputs[0]].Layout.ToString())),
            Is.EqualTo(convs.Select(n => (n.Name, g.Values[n.Inputs[0]].Shape[1] >= Block(level) ? blocked : "NCHW"))),
            $"{name}: every dense or depthwise conv of at least one block of input channels runs blocked, the others NCHW");
        Assert.That(g.Nodes.Where(n => n.Backend != BackendNames.Cpu), Is.Empty, "no node falls back to the reference");

        // Blocking moves values, it does not change which products are summed (direct-nchwc instead of Winograd
        // only tightens them): relative L2 well inside fp32's accumulation error, and the worst element likewise.
        double diff = 0, norm = 0, worst = 0, scale = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.That(float.IsFinite(actual[i]), $"{name}: output {i} is {actual[i]}");
            double d = actual[i] - expected[i];
            diff += d * d;
            norm += (double)expected[i] * expected[i];
            worst = Math.Max(worst, Math.Abs(d));
            scale = Math.Max(scale, Math.Abs(expected[i]));
        }
        Assert.That(Math.Sqrt(diff / norm), Is.LessThan(1e-4), $"{name} at {level}: relative L2 error");
        Assert.That(worst, Is.LessThanOrEqualTo(1e-3 * scale), $"{name} at {level}: worst element");
    }

    [Test]
    public void AutoKeepsWinogradNetsNchwAndBlocksTheOthers([ValueSource(nameof(Levels))] SimdLevel level)
    {
        RequireLevel(level);
        using CpuBackend cpu = Cpu(level, CpuBlockedLayout.Auto);
        using var reference = new ReferenceBackend();
        int Reorders(Network net) => GraphCompiler.Compile(net.Graph, new CompileOptions { Backends = [cpu, reference] }).Graph.Nodes.Count(n => n.OpType == FastConvOps.Reorder);
        // ResNet-18's 3×3 stride-1 convs (Winograd in NCHW) carry most of its FLOPs; MobileNet has none.
        Assert.That(Reorders(Builtins.Build("resnet18")), Is.Zero);
        Assert.That(Reorders(Builtins.Build("vgg16")), Is.Zero);
        Assert.That(Reorders(Builtins.Build("mobilenetv1")), Is.EqualTo(2));
        Assert.That(Reorders(Builtins.Build("mobilenetv2")), Is.EqualTo(2));
        // Chains that end often stay NCHW: the DBNet head's Resize and ConvTranspose readers, MobileNetV3's
        // squeeze-excite Muls and a conv whose output is the graph's (forced on, each end is a reorder).
        int Ends(string name, CpuBlockedLayout mode)
        {
            using CpuBackend c = Cpu(level, mode);
            Graph g = FastConv.Onnx.OnnxModel.Load(OnnxTestNets.Get(name).Model);
            return GraphCompiler.Compile(g, new CompileOptions { Backends = [c, reference] }).Graph.Nodes.Count(n => n.OpType == FastConvOps.Reorder);
        }
        foreach (string name in (string[])["dbnet-head", "mobilenetv3", "svtr-attention"])
        {
            Assert.That(Ends(name, CpuBlockedLayout.On), Is.GreaterThan(0), $"{name} has blocked chains when forced");
            Assert.That(Ends(name, CpuBlockedLayout.Auto), Is.Zero, $"{name} stays NCHW under Auto");
        }
    }

    [Test]
    public void OffAForcedAlgorithmOrANarrowLevelKeepsEveryNodeNchw()
    {
        Graph g = Builtins.Create("mobilenetv1");
        using var reference = new ReferenceBackend();
        foreach (CpuBackendOptions o in new[]
        {
            new CpuBackendOptions { BlockedLayout = CpuBlockedLayout.Off },
            new CpuBackendOptions { BlockedLayout = CpuBlockedLayout.On, ConvAlgorithm = "im2col+sgemm" },
            new CpuBackendOptions { BlockedLayout = CpuBlockedLayout.On, Simd = SimdLevel.Vector128 },
        })
        {
            using var cpu = new CpuBackend(o);
            CompiledGraph c = GraphCompiler.Compile(g, new CompileOptions { Backends = [cpu, reference] });
            Assert.That(c.Graph.Nodes.Count(n => n.OpType == FastConvOps.Reorder), Is.Zero, o.ToString());
            Assert.That(c.Graph.Values.Values.Select(v => v.Layout), Is.All.EqualTo(TensorLayout.Nchw), o.ToString());
        }
    }

    [TestCase(null, CpuBlockedLayout.Auto)]
    [TestCase(" Auto ", CpuBlockedLayout.Auto)]
    [TestCase("1", CpuBlockedLayout.On)]
    [TestCase("on", CpuBlockedLayout.On)]
    [TestCase("0", CpuBlockedLayout.Off)]
    [TestCase("FALSE", CpuBlockedLayout.Off)]
    public void TheSwitchReadsItsValues(string? value, CpuBlockedLayout mode) => Assert.That(CpuLayoutPolicy.Parse(value), Is.EqualTo(mode));

    [Test]
    public void ABadSwitchValueIsASettingError()
    {
        var e = Assert.Throws<InvalidSettingException>(() => CpuLayoutPolicy.Parse("maybe"));
        Assert.That(e!.Setting, Is.EqualTo("FASTCONV_NCHWC"));
        Assert.That(e.Message, Does.Contain("'maybe'").And.Contain("auto"));
    }

    public static IEnumerable<TestCaseData> DepthwiseCases()
    {
        foreach (SimdLevel level in Levels)
        {
            int i = 0;
            foreach (Conv2dShape s in Conv2dChannelBlockedTests.DepthwiseShapes())
            {
                yield return new TestCaseData(level, s, i++ % 3).SetArgDisplayNames(level.ToString(), s.ToString(), $"epilogue{i % 3}");
            }
        }
    }

    /// <summary>The blocked depthwise kernel on the channel-block edge shapes (borders, dilation, stride 3, padding wider than the kernel), with bias, residual and activations.</summary>
    [TestCaseSource(nameof(DepthwiseCases))]
    public void BlockedDepthwiseMatchesTheReference(SimdLevel level, Conv2dShape s, int epilogueKind)
    {
        RequireLevel(level);
        var rng = new Random(s.GetHashCode());
        Tensor x = TestData.Floats(rng, s.InputShape), w = TestData.Floats(rng, TensorShape.Of(s.K, 1, s.R, s.S)), bias = TestData.Floats(rng, TensorShape.Of(s.K));
        Tensor? residual = epilogueKind == 1 ? TestData.Floats(rng, s.OutputShape) : null;
        var epilogue = new ConvEpilogue
        {
            AddResidual = residual is not null,
            Activation = epilogueKind switch { 0 => Activation.Relu, 1 => Activation.None, _ => Activation.Clip(0f, 0.5f) },
        };
        using var reference = new ReferenceBackend();
        using CpuBackend cpu = Cpu(level, CpuBlockedLayout.On);
        TensorLayout layout = TensorLayout.Blocked(Block(level));
        using IConv2dPlan slow = reference.PlanConv2d(s, w, bias, epilogue), fast = cpu.PlanConv2d(s, w, bias, epilogue, layout);
        Assert.That(fast.Algorithm, Does.StartWith("depthwise-nchwc"));
        Tensor expected = TestData.Poisoned(s.OutputShape);
        slow.Execute(x, expected, residual);
        Tensor actual = RunBlocked(cpu, layout, s.InputShape, s.OutputShape, x, residual, (bx, by, br) => fast.Execute(bx, by, br));
        Compare.Close(expected, actual, $"{level} {s} epilogue {epilogueKind}", 1e-5f, 1e-5f);
    }

    /// <summary>
    /// A conv with no blocked kernel (grouped, not depthwise) planned for a blocked chain runs its NCHW plan between
    /// reorders inside the plan: still the reference's result, residual included.
    /// </summary>
    [Test]
    public void GroupedConvInABlockedChainRunsItsNchwPlanBetweenReorders([ValueSource(nameof(Levels))] SimdLevel level, [Values] bool residual)
    {
        RequireLevel(level);
        var s = new Conv2dShape(2, 24, 9, 11, 40, 3, 3, Conv2dParams.Create(pad: 1, groups: 4));
        var rng = new Random(residual ? 7 : 8);
        Tensor x = TestData.Floats(rng, s.InputShape), w = TestData.Floats(rng, TensorShape.Of(s.K, s.C / 4, s.R, s.S)), bias = TestData.Floats(rng, TensorShape.Of(s.K));
        Tensor? r = residual ? TestData.Floats(rng, s.OutputShape) : null;
        var epilogue = new ConvEpilogue { AddResidual = residual, Activation = Activation.Relu };
        using var reference = new ReferenceBackend();
        using CpuBackend cpu = Cpu(level, CpuBlockedLayout.On);
        TensorLayout layout = TensorLayout.Blocked(Block(level));
        using IConv2dPlan slow = reference.PlanConv2d(s, w, bias, epilogue), fast = cpu.PlanConv2d(s, w, bias, epilogue, layout);
        Assert.That(fast.Algorithm, Does.EndWith($"+reorders/{layout}"));
        Tensor expected = TestData.Poisoned(s.OutputShape);
        slow.Execute(x, expected, r);
        Tensor actual = RunBlocked(cpu, layout, s.InputShape, s.OutputShape, x, r, (bx, by, br) => fast.Execute(bx, by, br));
        Compare.Close(expected, actual, $"{level} {s} residual {residual}", 1e-5f, 1e-5f);
        Assert.Throws<InvalidShapeException>(() => fast.Execute(x, Tensor.Allocate(layout.PhysicalShape(s.OutputShape)), r), "an NCHW input to a blocked plan is refused");
    }

    public static IEnumerable<TestCaseData> PoolCases()
    {
        Pool2dParams[] ps =
        [
            Pool2dParams.Create(3, 2, 1),
            Pool2dParams.Create(3, 2, 1, ceilMode: true),
            Pool2dParams.Create(3, 2, 1, ceilMode: true, countIncludePad: true),
            Pool2dParams.Create(2, 2),
            Pool2dParams.Create(3, 1, 1),
            new Pool2dParams { KernelH = 2, KernelW = 3, StrideH = 1, StrideW = 2, Padding = new Padding2d(1, 0, 0, 2) },
        ];
        foreach (SimdLevel level in Levels)
        {
            foreach (bool max in new[] { true, false })
            {
                foreach (Pool2dParams p in ps)
                {
                    yield return new TestCaseData(level, max, new Pool2dShape(2, 21, 13, 14, p));
                }
            }
            yield return new TestCaseData(level, true, new Pool2dShape(1, 17, 19, 18, Pool2dParams.Create(3, 2, 1, dilation: 2)));
        }
    }

    [TestCaseSource(nameof(PoolCases))]
    public void BlockedPoolingMatchesTheReferenceExactly(SimdLevel level, bool max, Pool2dShape s)
    {
        RequireLevel(level);
        var rng = new Random(s.GetHashCode());
        Tensor x = TestData.Ints(rng, s.InputShape, -20, 20);
        using var reference = new ReferenceBackend();
        using CpuBackend cpu = Cpu(level, CpuBlockedLayout.On);
        TensorLayout layout = TensorLayout.Blocked(Block(level));
        using IUnaryPlan slow = reference.PlanPool2d(s, max), fast = cpu.PlanPool2d(s, max, layout);
        Tensor expected = TestData.Poisoned(s.OutputShape);
        slow.Execute(x, expected);
        Tensor actual = RunBlocked(cpu, layout, s.InputShape, s.OutputShape, x, null, (bx, by, _) => fast.Execute(bx, by));
        // Integers: max is exact; the averages divide an exact integer sum once, as the reference does.
        Compare.Close(expected, actual, $"{(max ? "max" : "avg")} {level} {s}", 0f, 1e-6f);

        foreach (bool gmax in new[] { true, false })
        {
            using IUnaryPlan gslow = reference.PlanGlobalPool(s.InputShape, gmax), gfast = cpu.PlanGlobalPool(s.InputShape, gmax, layout);
            Tensor ge = TestData.Poisoned(gslow.OutputShape);
            gslow.Execute(x, ge);
            Tensor ga = RunBlocked(cpu, layout, s.InputShape, gslow.OutputShape, x, null, (bx, by, _) => gfast.Execute(bx, by));
            Compare.Close(ge, ga, $"global {(gmax ? "max" : "avg")} {level} {s.InputShape}", 0f, 1e-6f);
        }
    }

    [Test]
    public void BlockedConcatAndReordersRoundTripExactly([ValueSource(nameof(Levels))] SimdLevel level, [Values(1, 3, 16, 24, 35)] int channels)
    {
        RequireLevel(level);
        using CpuBackend cpu = Cpu(level, CpuBlockedLayout.On);
        TensorLayout layout = TensorLayout.Blocked(Block(level));
        var shape = TensorShape.Of(2, channels, 7, 300);
        Tensor x = TestData.Floats(new Random(channels), shape);
        using IUnaryPlan to = cpu.PlanReorder(shape, TensorLayout.Nchw, layout), back = cpu.PlanReorder(shape, layout, TensorLayout.Nchw);
        Tensor blocked = TestData.Poisoned(layout.PhysicalShape(shape)), round = TestData.Poisoned(shape);
        to.Execute(x, blocked);
        back.Execute(blocked, round);
        Compare.Exact(x, round, $"reorder round trip {shape} {layout}");
        // Padding lanes are zero (a blocked conv never reads them, but the reorder promises it).
        int lanes = layout.Block;
        for (int i = 0; i < blocked.Length; i++)
        {
            int c = (i / (7 * 300 * lanes) % ((channels + lanes - 1) / lanes)) * lanes + i % lanes;
            if (c >= channels)
            {
                Assert.That(blocked.Span[i], Is.Zero, $"padding lane at {i}");
            }
        }

        TensorShape[] parts = [TensorShape.Of(2, lanes, 5, 6), TensorShape.Of(2, 3 * lanes, 5, 6)];
        Tensor[] ins = [.. parts.Select((p, i) => TestData.Floats(new Random(i), p))];
        using INaryPlan concat = cpu.PlanConcat(parts, 1, layout);
        Tensor expected = TestData.Poisoned(concat.OutputShape);
        Reference.Concat(ins, 1, expected);
        Tensor[] bins = [.. ins.Select(t => Blocked(cpu, layout, t))];
        Tensor by = TestData.Poisoned(layout.PhysicalShape(concat.OutputShape));
        concat.Execute(bins, by);
        Compare.Exact(expected, Nchw(cpu, layout, by, concat.OutputShape), $"blocked concat {layout}");
        Assert.Throws<UnsupportedModelException>(() => cpu.PlanConcat([TensorShape.Of(1, lanes + 1, 2, 2), TensorShape.Of(1, lanes - 1, 2, 2)], 1, layout));
    }

    private static Tensor Blocked(CpuBackend cpu, TensorLayout layout, Tensor x)
    {
        using IUnaryPlan to = cpu.PlanReorder(x.Shape, TensorLayout.Nchw, layout);
        Tensor y = TestData.Poisoned(layout.PhysicalShape(x.Shape));
        to.Execute(x, y);
        return y;
    }

    private static Tensor Nchw(CpuBackend cpu, TensorLayout layout, Tensor blocked, TensorShape shape)
    {
        using IUnaryPlan back = cpu.PlanReorder(shape, layout, TensorLayout.Nchw);
        Tensor y = TestData.Poisoned(shape);
        back.Execute(blocked, y);
        return y;
    }

    private static Tensor RunBlocked(CpuBackend cpu, TensorLayout layout, TensorShape inShape, TensorShape outShape, Tensor x, Tensor? residual, Action<Tensor, Tensor, Tensor?> run)
    {
        Tensor bx = Blocked(cpu, layout, x);
        Tensor? br = residual is null ? null : Blocked(cpu, layout, residual);
        Tensor by = TestData.Poisoned(layout.PhysicalShape(outShape));
        run(bx, by, br);
        return Nchw(cpu, layout, by, outShape);
    }
}
