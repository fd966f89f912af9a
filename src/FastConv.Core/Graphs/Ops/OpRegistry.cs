using System.Collections.Frozen;

namespace FastConv.Graphs.Ops;

/// <summary>
/// The ops FastConv runs, by ONNX op type (plus FastConv's own: the fused conv, Copy and Reorder that the compile
/// passes insert): one <see cref="OpDefinition"/> each. <see cref="IsSupported(Node, out string?)"/> gives the reason
/// for a node it cannot run; <see cref="InferShapes"/> validates with errors naming the node.
/// </summary>
public static class OpRegistry
{
    private static readonly FrozenDictionary<string, OpDefinition> s_ops = Definitions().ToFrozenDictionary(d => d.OpType, StringComparer.Ordinal);

    /// <summary>Every op type with a definition.</summary>
    public static IReadOnlyCollection<string> OpTypes => s_ops.Keys;

    public static bool TryGet(string opType, out OpDefinition? definition) => s_ops.TryGetValue(opType, out definition);

    public static OpDefinition Get(Node node)
    {
        ArgumentNullException.ThrowIfNull(node);
        return s_ops.TryGetValue(node.OpType, out OpDefinition? d)
            ? d
            : throw new UnsupportedModelException([Problem(node, $"op type '{node.OpType}' is not supported")]);
    }

    /// <inheritdoc cref="IsSupported(Node, Graph?, out string?)"/>
    public static bool IsSupported(Node node, out string? problem) => IsSupported(node, null, out problem);

    /// <summary>
    /// Whether FastConv runs <paramref name="node"/>. When not, <paramref name="problem"/> is one line naming
    /// the node, its op type, opset and the attribute or input at fault, e.g.
    /// <c>Resize 'up1' (opset 13): attribute 'mode' = "cubic" is not supported (nearest, linear)</c>.
    /// Constant inputs are looked up in <paramref name="graph"/> when given.
    /// </summary>
    public static bool IsSupported(Node node, Graph? graph, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (!s_ops.TryGetValue(node.OpType, out OpDefinition? d))
        {
            problem = Problem(node, $"op type '{node.OpType}' is not supported");
            return false;
        }
        if (node.Domain is { Length: > 0 } domain && domain != "ai.onnx" && !node.OpType.StartsWith(FastConvOps.Prefix, StringComparison.Ordinal))
        {
            problem = Problem(node, $"domain '{domain}' is not supported (only the default ONNX domain)");
            return false;
        }
        try
        {
            if (d.IsSupported(node, name => graph is not null && graph.Constants.TryGetValue(name, out var c) ? c : null, out string? why))
            {
                problem = null;
                return true;
            }
            problem = Problem(node, why ?? "not supported");
            return false;
        }
        catch (FastConvException e)
        {
            problem = Problem(node, e.Message);
            return false;
        }
    }

    /// <summary>Every node of <paramref name="graph"/> FastConv cannot run, as one line each (empty when all are fine).</summary>
    public static IReadOnlyList<string> UnsupportedNodes(Graph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var problems = new List<string>();
        foreach (Node node in graph.Nodes)
        {
            if (!IsSupported(node, graph, out string? problem))
            {
                problems.Add(problem!);
            }
        }
        return problems;
    }

    /// <summary>Throws one <see cref="UnsupportedModelException"/> listing every unsupported node, or returns.</summary>
    public static void ThrowIfUnsupported(Graph graph)
    {
        IReadOnlyList<string> problems = UnsupportedNodes(graph);
        if (problems.Count > 0)
        {
            throw new UnsupportedModelException(problems);
        }
    }

    /// <summary>Validates the node and infers its output shapes; errors keep their type and start with the node's name.</summary>
    public static TensorShape[] InferShapes(OpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        Node node = context.Node;
        OpDefinition d = Get(node);
        TensorShape[] shapes;
        try
        {
            shapes = d.InferShapes(context);
        }
        catch (FastConvException e) when (e is not UnsupportedModelException && !e.Message.StartsWith(node.Describe(), StringComparison.Ordinal))
        {
            throw NodeError(node, e);
        }
        int declared = node.Outputs.Length;
        if (declared == 0)
        {
            throw new InvalidModelException($"{node.Describe()}: has no outputs.");
        }
        if (declared > shapes.Length)
        {
            // Optional outputs FastConv does not produce (MaxPool's Indices, Dropout's mask, BN's training stats).
            for (int i = shapes.Length; i < declared; i++)
            {
                if (node.Outputs[i].Length > 0)
                {
                    throw new UnsupportedModelException([Problem(node, $"output {i} ('{node.Outputs[i]}') is not produced by FastConv")]);
                }
            }
        }
        return shapes.Length > declared ? shapes[..declared] : shapes;
    }

    public static long Parameters(OpContext context) => Get(context.Node).Parameters(context);

    public static long Flops(OpContext context, TensorShape[] outputs) => Get(context.Node).Flops(context, outputs);

    internal static string Problem(Node node, string what)
    {
        string opset = node.Opset > 0 ? $" (opset {node.Opset})" : "";
        return $"{node.Describe()}{opset}: {what}";
    }

    private static FastConvException NodeError(Node node, FastConvException e)
    {
        string message = $"{node.Describe()}: {e.Message}";
        return e switch
        {
            InvalidShapeException => new InvalidShapeException(message),
            InvalidHyperparameterException => new InvalidHyperparameterException(message),
            _ => new InvalidModelException(message, e),
        };
    }

    private static IEnumerable<OpDefinition> Definitions()
    {
        yield return new ConvOp("Conv");
        yield return new ConvOp(FastConvOps.FusedConv);
        yield return new ConvTransposeOp();
        yield return new PoolOp("MaxPool");
        yield return new PoolOp("AveragePool");
        yield return new GlobalPoolOp("GlobalAveragePool");
        yield return new GlobalPoolOp("GlobalMaxPool");
        foreach (string op in ActivationOp.OpTypes)
        {
            yield return new ActivationOp(op);
        }
        yield return new SqrtOp();
        yield return new IdentityOp("Identity");
        yield return new IdentityOp("Dropout");
        yield return new GeluOp();
        yield return new PReluOp();
        yield return new BatchNormOp();
        yield return new GemmOp();
        yield return new MatMulOp();
        yield return new SoftmaxOp();
        foreach (BinaryOpKind op in Enum.GetValues<BinaryOpKind>())
        {
            yield return new BinaryOp(op);
        }
        yield return new BinaryOp();
        yield return new ConcatOp();
        yield return new FlattenOp();
        yield return new ReshapeOp();
        yield return new TransposeOp();
        yield return new PadOp();
        yield return new ResizeOp();
        yield return new ReduceMeanOp();
        yield return new LayerNormalizationOp();
        yield return new InstanceNormalizationOp();
        yield return new GroupNormalizationOp();
        yield return new ErfOp();
        yield return new MishOp();
        yield return new SoftplusOp();
        yield return new ReduceOp("ReduceSum", ReduceKind.Sum);
        yield return new ReduceOp("ReduceMax", ReduceKind.Max);
        yield return new ReduceOp("ReduceMin", ReduceKind.Min);
        yield return new SliceOp();
        yield return new SplitOp();
        yield return new GatherOp();
        yield return new ExpandOp();
        yield return new TileOp();
        yield return new DepthToSpaceOp();
        yield return new SpaceToDepthOp();
        yield return new SqueezeOp("Squeeze");
        yield return new SqueezeOp("Unsqueeze");
        yield return new CopyOp();
        yield return new ReorderOp();
    }
}

/// <summary>The names of FastConv's own ops (the <c>FastConv.</c> prefix keeps them apart from ONNX's).</summary>
public static class FastConvOps
{
    public const string Prefix = "FastConv.";

    /// <summary>Conv + folded epilogue (+ residual input 3) + activation (attributes activation, activation_alpha, activation_beta).</summary>
    public const string FusedConv = "FastConv.FusedConv";

    /// <summary>An element-wise binary op (attribute op) followed by an activation (activation attributes), made by the fuse pass.</summary>
    public const string FusedBinary = "FastConv.FusedBinary";

    /// <summary>A copy between memory spaces (host ↔ device), inserted by the place pass.</summary>
    public const string Copy = "FastConv.Copy";

    /// <summary>A change of layout (NCHW ↔ NCHWc), inserted by the layout pass.</summary>
    public const string Reorder = "FastConv.Reorder";
}
