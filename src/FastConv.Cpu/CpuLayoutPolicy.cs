using FastConv.Cpu.Conv2d;
using FastConv.Graphs;
using FastConv.Graphs.Ops;

namespace FastConv.Cpu;

/// <summary>When the <c>cpu</c> backend runs conv chains in the channel-blocked layout (<see cref="CpuLayoutPolicy"/>).</summary>
public enum CpuBlockedLayout
{
    /// <summary>Per graph: blocked unless Winograd layers carry most of its conv FLOPs (see <see cref="CpuLayoutPolicy"/>).</summary>
    Auto,
    /// <summary>Every graph blocked where a blocked kernel exists (tests, A/B runs).</summary>
    On,
    /// <summary>Every node NCHW.</summary>
    Off,
}

/// <summary>
/// Which nodes the <c>cpu</c> backend runs in a channel-blocked layout (the layout pass asks it through
/// <see cref="Backends.ILayoutPolicy"/>): NCHW16c on AVX-512, NCHW8c on AVX2, as ONNX Runtime's NCHWc transformer does.
/// Convs start or continue a blocked chain: dense ones (every R, S, stride, dilation, padding; 1×1 included) and
/// depthwise ones. Max/average pooling, global pooling and channel concats of whole blocks have kernels for both
/// layouts and follow their input (<see cref="Follows"/>).
/// Element-wise ops (Add, Relu, the fused binaries) follow their first input's layout (the pass does that), so a
/// ResNet or MobileNet body is one blocked chain with a reorder after the stem and one before the classifier.
/// A conv with fewer input channels than a block (an RGB stem) stays NCHW and its output is reordered: blocking its
/// input would pad 3 channels to 16 and copy that 16-lane image into the padded scratch (MobileNet-v2's stem, 1
/// thread: 0.28 ms reorder + 0.66 ms blocked conv, against 0.37 ms NCHW conv and a reorder of its 32 channels).
/// <para>
/// What stays NCHW, and why it does not ping-pong: grouped convs that are not depthwise (no blocked kernel) and every
/// op without a blocked kernel (Resize, BatchNormalization left unfused, Softmax, Gemm); each is one chain end.
/// Winograd has no blocked form yet, so a 3×3 stride-1 conv in a blocked chain runs the blocked direct kernel; where
/// such convs carry most of a graph's conv FLOPs (ResNet-18, VGG) that loses more than the chain saves (measured:
/// ResNet-18 at 1 thread 53–58 ms blocked against 32–49 ms NCHW with Winograd, ONNX Runtime 36–56 ms in the same
/// runs), so
/// <see cref="CpuBlockedLayout.Auto"/> keeps those graphs NCHW whole instead of leaving Winograd islands that would
/// cost two reorders each.
/// </para>
/// Off: <see cref="CpuBackendOptions.BlockedLayout"/> = <see cref="CpuBlockedLayout.Off"/>, <c>FASTCONV_NCHWC=0</c>, a
/// forced conv algorithm (the caller asked for one NCHW kernel), or a SIMD level below AVX2 (not measured there: the
/// blocked kernels were built and timed for 8- and 16-lane blocks).
/// </summary>
internal sealed class CpuLayoutPolicy
{
    /// <summary>Environment switch for the default: <c>auto</c> (unset), <c>1</c>/<c>on</c> or <c>0</c>/<c>off</c>.</summary>
    public const string EnvironmentVariable = "FASTCONV_NCHWC";

    /// <summary>The share of a graph's conv FLOPs in Winograd-shaped layers above which Auto keeps the graph NCHW.</summary>
    internal const double MaxWinogradShare = 0.5;

    /// <summary>
    /// Blocked convs per chain end (a reader of a blocked value with no blocked kernel: Resize, ConvTranspose, a
    /// broadcasting Mul, a Transpose) below which Auto keeps the graph NCHW: each end costs a reorder. Measured in one run,
    /// 1 thread, against ONNX Runtime: a DBNet head (18 blocked convs, 13 reorders) 1.38 blocked against 0.97 NCHW,
    /// MobileNetV3-Large (79 blocked nodes, 26 reorders, its squeeze-excite Muls) 1.11 against 1.00; MobileNet-v1/v2
    /// (one end, at the classifier) are faster blocked.
    /// </summary>
    internal const int MinConvsPerBreak = 8;

    private readonly TensorLayout _layout;
    private readonly CpuBlockedLayout _mode;
    private readonly CpuContext _context;

    public CpuLayoutPolicy(CpuContext context)
    {
        _context = context;
        _mode = context.Options.BlockedLayout ?? DefaultMode();
        _layout = _mode != CpuBlockedLayout.Off && context.Options.ConvAlgorithm is null && context.Simd >= SimdLevel.Avx2
            ? TensorLayout.Blocked(NchwcLayout.Lanes(context.Simd))
            : TensorLayout.Nchw;
    }

    /// <summary>The blocked layout this backend uses, or NCHW when the policy is off.</summary>
    public TensorLayout Layout => _layout;

    /// <summary>Reads <see cref="EnvironmentVariable"/>; unset means Auto. A bad value is an error naming the accepted ones.</summary>
    public static CpuBlockedLayout DefaultMode() => Parse(Environment.GetEnvironmentVariable(EnvironmentVariable));

    /// <summary>A value of <see cref="EnvironmentVariable"/>: unset or <c>auto</c>, <c>1</c>/<c>on</c>/<c>true</c>, <c>0</c>/<c>off</c>/<c>false</c>.</summary>
    public static CpuBlockedLayout Parse(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "auto" => CpuBlockedLayout.Auto,
        "1" or "on" or "true" => CpuBlockedLayout.On,
        "0" or "off" or "false" => CpuBlockedLayout.Off,
        _ => throw new InvalidSettingException(EnvironmentVariable, $"{EnvironmentVariable}='{value}' is not a setting; use auto (or unset it), 1/on/true or 0/off/false."),
    };

    /// <summary>
    /// Whether <paramref name="graph"/> is blocked at all (Auto: unless Winograd-shaped convs carry most of its conv FLOPs,
    /// or its chains end often, <see cref="MinConvsPerBreak"/>).
    /// </summary>
    public bool Applies(Graph graph, string backend)
    {
        ArgumentNullException.ThrowIfNull(graph);
        if (!_layout.IsBlocked)
        {
            return false;
        }
        if (_mode == CpuBlockedLayout.On)
        {
            return true;
        }
        double all = 0, winograd = 0;
        int blockable = 0, breaks = 0;
        var blockedValues = new HashSet<string>(StringComparer.Ordinal);
        foreach (Node node in graph.Nodes)
        {
            if (node.Backend == backend && node.Inputs.Length > 0 && node.Outputs.Length > 0)
            {
                OpContext context = OpContext.For(node, graph);
                bool reads = node.Inputs.Any(blockedValues.Contains);
                if (node.OpType is "Conv" or FastConvOps.FusedConv && Preferred(node.OpType, context).IsBlocked)
                {
                    blockable++;
                    blockedValues.Add(node.Outputs[0]);
                }
                else if (reads && (Follows(node.OpType, context) || OpRegistry.Get(node).IsLayoutAgnostic(context)))
                {
                    blockedValues.Add(node.Outputs[0]);
                }
                else if (reads)
                {
                    breaks++; // a reader with no blocked kernel: the chain ends in a reorder here
                }
            }
        }
        breaks += graph.Outputs.Count(blockedValues.Contains); // a blocked graph output leaves through a reorder too
        if (breaks * MinConvsPerBreak > blockable)
        {
            return false;
        }
        foreach (Node node in graph.Nodes)
        {
            if (node.Backend != backend || node.OpType is not ("Conv" or FastConvOps.FusedConv) || node.Outputs.Length == 0
                || !graph.Values.TryGetValue(node.Outputs[0], out ValueInfo? y) || y.Shape.Rank != 4
                || node.Inputs.Length < 2 || !graph.Constants.TryGetValue(node.Inputs[1], out GraphConstant? w) || w.Shape.Rank != 4)
            {
                continue;
            }
            double flops = 2.0 * y.Shape.ElementCount * w.Shape[1] * w.Shape[2] * w.Shape[3];
            all += flops;
            winograd += IsWinogradShaped(node, y.Shape, w.Shape) ? flops : 0;
        }
        return all == 0 || winograd <= MaxWinogradShare * all;
    }

    /// <summary>Whether the NCHW selection would run this conv as Winograd F(4×4): what <see cref="Conv2d.WinogradConv2d"/> takes.</summary>
    private bool IsWinogradShaped(Node node, TensorShape y, TensorShape w)
    {
        static bool Ones(long[]? v) => v is null || v.All(x => x == 1);
        return _context.Options.Precision == CpuPrecision.Fast && w[2] == 3 && w[3] == 3 && node.GetInt("group", 1) == 1
            && Ones(node.GetInts("strides")) && Ones(node.GetInts("dilations"))
            && w[0] >= Conv2d.WinogradConv2d.MinChannels && w[1] >= Conv2d.WinogradConv2d.MinChannels
            && (long)y[0] * ((y[2] + 3) / 4) * ((y[3] + 3) / 4) >= 16;
    }

    public TensorLayout Preferred(string opType, OpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!_layout.IsBlocked || !context.Has(0) || context.InputShapes[0]!.Rank != 4)
        {
            return TensorLayout.Nchw;
        }
        return opType is "Conv" or FastConvOps.FusedConv && Conv(context) && context.InputShapes[0]![1] >= _layout.Block ? _layout : TensorLayout.Nchw;
    }

    /// <summary>
    /// Pooling, global pooling and whole-block channel concats have kernels for both layouts: they take their input's,
    /// so a pool right after an NCHW stem stays NCHW and one inside a blocked chain stays blocked.
    /// </summary>
    public bool Follows(string opType, OpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!_layout.IsBlocked || !context.Has(0) || context.InputShapes[0]!.Rank != 4)
        {
            return false;
        }
        return opType switch
        {
            "MaxPool" or "AveragePool" or "GlobalAveragePool" or "GlobalMaxPool" => true,
            "Concat" => Concat(context),
            _ => false,
        };
    }

    private static bool Conv(OpContext context)
    {
        if (!context.Has(1) || context.InputShapes[1]!.Rank != 4)
        {
            return false;
        }
        int c = context.InputShapes[0]![1], k = context.InputShapes[1]![0];
        long groups = context.Node.GetInt("group", 1);
        return groups is > 0 and <= int.MaxValue && Conv2dNchwcChain.HasBlockedKernel((int)groups, c, k);
    }

    /// <summary>Channel concats of run-time values whose channel counts are whole blocks (no padding lanes in the middle).</summary>
    private bool Concat(OpContext context)
    {
        long axis = context.Node.GetInt("axis", 0);
        if (axis is not (1 or -3))
        {
            return false;
        }
        for (int i = 0; i < context.InputShapes.Count; i++)
        {
            if (context.InputShapes[i] is not { } s)
            {
                continue;
            }
            if (context.Constant(i) is not null || s.Rank != 4 || s[1] % _layout.Block != 0)
            {
                return false;
            }
        }
        return true;
    }
}
