using FastConv.Graphs;
using FastConv.Graphs.Ops;

namespace FastConv.Onnx;

/// <summary>
/// The importer's link to the op registry (<see cref="OpRegistry"/>): which op types exist at all, shape
/// inference for the nodes that stay, and the final per-node support check with constants known.
/// </summary>
internal static class OnnxOpSupport
{
    /// <summary>Op types the importer itself rewrites away when their data input is a run-time value (into Reshape).</summary>
    private static readonly HashSet<string> Rewritten = new(StringComparer.Ordinal) { "Squeeze", "Unsqueeze" };

    /// <summary>First pass, op types only: every node whose type neither the registry, the folder nor the importer knows.</summary>
    /// <param name="graph">The graph after opset normalization.</param>
    /// <param name="listed">Nodes already listed (foreign domains); the ones listed here join them, so no node is listed twice.</param>
    /// <param name="problems">Where each problem line goes.</param>
    public static void CheckKnown(Graph graph, HashSet<Node> listed, List<string> problems)
    {
        foreach (var n in graph.Nodes)
        {
            if (listed.Contains(n)) continue;
            if (!OpRegistry.TryGet(n.OpType, out _) && !ConstantEvaluator.Knows(n.OpType) && !Rewritten.Contains(n.OpType))
            {
                problems.Add($"{n.Describe()} (opset {n.Opset}): op type '{n.OpType}' is not supported");
                listed.Add(n);
            }
        }
    }

    /// <summary>Shape inference of a node that stays: the registry's, or null when the registry does not know the op.</summary>
    public static TensorShape[]? Infer(Node node, IReadOnlyList<TensorShape?> inputs, Func<string, GraphConstant?> constant)
    {
        if (!OpRegistry.TryGet(node.OpType, out _)) return null;
        var constants = node.Inputs.Select(s => s.Length > 0 ? constant(s) : null).ToArray();
        return OpRegistry.InferShapes(new OpContext(node, inputs, constants));
    }

    /// <summary>Last pass: what the registry says of every remaining node, with folded constants in place.</summary>
    public static void CheckWithShapes(Graph graph, HashSet<Node> listed, List<string> problems)
    {
        foreach (var n in graph.Nodes)
        {
            if (listed.Contains(n)) continue;
            if (!OpRegistry.TryGet(n.OpType, out _))
                problems.Add($"{n.Describe()} (opset {n.Opset}): op type '{n.OpType}' is only supported when FastConv can compute it at load (its inputs are constants or shapes)");
            else if (!OpRegistry.IsSupported(n, graph, out string? problem))
                problems.Add(problem!);
        }
    }
}
