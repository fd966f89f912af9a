using FastConv.Backends;
using FastConv.Graphs;
using FastConv.Graphs.Ops;

namespace FastConv.Compilation;

/// <summary>
/// The layout pass: chooses NCHW or a channel-blocked NCHWc for every 4-D value, as ONNX Runtime's NCHWc transformer
/// does. A node takes the layout its backend asks for (<see cref="ILayoutPolicy"/>; NCHW when it has none); a node that
/// works element by element (<see cref="OpDefinition.IsLayoutAgnostic"/>), or that its backend runs in either layout
/// (<see cref="ILayoutPolicy.Follows"/>: pooling), keeps the layout of its first input, so a
/// chain conv → add → relu → conv stays blocked. Where a reader needs another layout than its input has, a
/// <see cref="FastConvOps.Reorder"/> node is inserted (one per value and layout, shared by its readers); graph
/// outputs leave in NCHW. A policy may decline a whole graph (<see cref="ILayoutPolicy.Applies"/>). The values'
/// <see cref="ValueInfo.Layout"/> records the result for the memory pass.
/// </summary>
public static class LayoutPass
{
    public const string Name = "layout";

    public static void Run(Graph graph, IReadOnlyList<IBackend> backends, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(backends);
        var byName = backends.ToDictionary(b => b.Name, StringComparer.Ordinal);
        var blocking = new HashSet<string>(backends.Where(b => b is ILayoutPolicy p && p.Applies(graph)).Select(b => b.Name), StringComparer.Ordinal);
        if (blocking.Count == 0)
        {
            return; // no backend of this session blocks this graph: everything stays NCHW
        }
        var names = new HashSet<string>(graph.Values.Keys.Concat(graph.Constants.Keys), StringComparer.Ordinal);
        var reorders = new Dictionary<(string, TensorLayout), string>();
        var result = new List<Node>(graph.Nodes.Count + 4);
        foreach (Node node in graph.Nodes)
        {
            cancellation.ThrowIfCancellationRequested();
            OpContext context = OpContext.For(node, graph);
            OpDefinition definition = OpRegistry.Get(node);
            IBackend backend = byName[node.Backend ?? throw new InvalidModelException($"{node.Describe()}: not placed; run the place pass before the layout pass.")];
            ILayoutPolicy? policy = backend is ILayoutPolicy p && blocking.Contains(backend.Name) && node.OpType != FastConvOps.Reorder ? p : null;
            TensorLayout preferred = policy?.Preferred(node.OpType, context) ?? TensorLayout.Nchw;
            bool follows = definition.IsLayoutAgnostic(context) || policy is not null && policy.Follows(node.OpType, context);
            TensorLayout want = preferred.IsBlocked ? preferred
                : follows && FirstActivation(node, graph) is { } first ? graph.Values[first].Layout
                : TensorLayout.Nchw;
            for (int i = 0; i < node.Inputs.Length; i++)
            {
                string input = node.Inputs[i];
                if (input.Length == 0 || !graph.Values.TryGetValue(input, out ValueInfo? v))
                {
                    continue; // omitted, or a constant (read by the plan in its own layout)
                }
                TensorLayout need = v.Shape.Rank == 4 ? want : TensorLayout.Nchw;
                if (v.Layout == need)
                {
                    continue;
                }
                if (!reorders.TryGetValue((input, need), out string? reordered))
                {
                    reordered = PlacePass.Fresh(names, $"{input}@{need}");
                    reorders[(input, need)] = reordered;
                    result.Add(ReorderNode(input, reordered, need, node.Backend!, byName));
                    graph.Values[reordered] = v with { Name = reordered, Layout = need };
                }
                node.Inputs[i] = reordered;
            }
            foreach (string o in node.Outputs)
            {
                if (o.Length > 0 && graph.Values.TryGetValue(o, out ValueInfo? v))
                {
                    graph.Values[o] = v with { Layout = v.Shape.Rank == 4 ? want : TensorLayout.Nchw };
                }
            }
            result.Add(node);
        }
        // Graph outputs leave in NCHW: a blocked one is written under a twin name and reordered into the output.
        var outputs = new HashSet<string>(graph.Outputs, StringComparer.Ordinal);
        for (int k = 0; k < result.Count; k++)
        {
            Node node = result[k];
            for (int i = 0; i < node.Outputs.Length; i++)
            {
                string o = node.Outputs[i];
                if (o.Length == 0 || !outputs.Contains(o) || graph.Values[o].Layout == TensorLayout.Nchw)
                {
                    continue;
                }
                ValueInfo v = graph.Values[o];
                string twin = PlacePass.Fresh(names, $"{o}@{v.Layout}");
                node.Outputs[i] = twin;
                graph.Values[twin] = v with { Name = twin };
                graph.Values[o] = v with { Layout = TensorLayout.Nchw };
                foreach (Node reader in result.Skip(k + 1))
                {
                    for (int j = 0; j < reader.Inputs.Length; j++)
                    {
                        if (reader.Inputs[j] == o)
                        {
                            reader.Inputs[j] = twin;
                        }
                    }
                }
                result.Insert(++k, ReorderNode(twin, o, TensorLayout.Nchw, node.Backend!, byName));
            }
        }
        graph.Nodes.Clear();
        foreach (Node n in result)
        {
            graph.Nodes.Add(n);
        }
    }

    /// <summary>The first input of <paramref name="node"/> that is a 4-D run-time value, or null.</summary>
    private static string? FirstActivation(Node node, Graph graph) =>
        node.Inputs.FirstOrDefault(i => i.Length > 0 && graph.Values.TryGetValue(i, out ValueInfo? v) && v.Shape.Rank == 4);

    private static Node ReorderNode(string from, string to, TensorLayout layout, string readerBackend, Dictionary<string, IBackend> byName)
    {
        // The reorder runs beside its reader when that backend can reorder, else on the first backend that can.
        string backend = byName[readerBackend] is IReorderPlanner ? readerBackend
            : byName.Values.FirstOrDefault(b => b is IReorderPlanner && b.Memory == byName[readerBackend].Memory)?.Name
            ?? throw new UnsupportedModelException([$"no backend of this session can reorder '{from}' to {layout}."]);
        return new Node(FastConvOps.Reorder, $"reorder {from} to {layout}", [from], [to],
            new Dictionary<string, AttributeValue> { ["block"] = AttributeValue.Of((long)layout.Block) }) { Backend = backend };
    }
}
