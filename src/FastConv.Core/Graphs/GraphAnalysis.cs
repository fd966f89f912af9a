using FastConv.Graphs.Ops;

namespace FastConv.Graphs;

/// <summary>One node with its inferred output shapes, learnable parameters and FLOPs.</summary>
public sealed record NodeInfo(Node Node, IReadOnlyList<TensorShape> OutputShapes, long Parameters, long Flops);

/// <summary>
/// A validated graph: nodes in topological order, the shape of every value, per-node parameter and FLOP counts.
/// <see cref="Analyze"/> checks the structure (empty or duplicate names, values produced twice, dangling inputs,
/// cycles, outputs nobody produces), that every node is supported, and infers shapes node by node with errors
/// naming the node.
/// </summary>
public sealed class GraphInfo
{
    private GraphInfo(Graph graph, IReadOnlyList<NodeInfo> nodes, IReadOnlyDictionary<string, TensorShape> shapes)
    {
        Graph = graph;
        Nodes = nodes;
        Shapes = shapes;
        TotalParameters = nodes.Sum(n => n.Parameters);
        TotalFlops = nodes.Sum(n => n.Flops);
    }

    public Graph Graph { get; }

    /// <summary>Nodes in execution order.</summary>
    public IReadOnlyList<NodeInfo> Nodes { get; }

    /// <summary>The shape of every value: graph inputs, constants and node outputs.</summary>
    public IReadOnlyDictionary<string, TensorShape> Shapes { get; }

    public long TotalParameters { get; }
    public long TotalFlops { get; }

    /// <summary>
    /// Validates <paramref name="graph"/>, sorts its nodes topologically and records every value's shape (in place: the
    /// infer pass, <see cref="Compilation.InferPass"/>; shapes the graph already keeps are not inferred again), then
    /// counts each node's parameters and FLOPs. Throws <see cref="InvalidModelException"/> for structural faults,
    /// <see cref="UnsupportedModelException"/> listing every unsupported node, and the shape errors of the first node
    /// whose shapes do not work.
    /// </summary>
    public static GraphInfo Analyze(Graph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        Compilation.InferPass.Run(graph);
        var shapes = new Dictionary<string, TensorShape>(graph.Values.Count + graph.Constants.Count, StringComparer.Ordinal);
        foreach (var (name, c) in graph.Constants)
        {
            shapes[name] = c.Shape;
        }
        foreach (var (name, v) in graph.Values)
        {
            shapes[name] = v.Shape;
        }
        var infos = new List<NodeInfo>(graph.Nodes.Count);
        foreach (Node node in graph.Nodes)
        {
            var context = OpContext.For(node, graph);
            TensorShape[] outs = [.. node.Outputs.Where(o => o.Length > 0).Select(o => graph.Values[o].Shape)];
            OpDefinition d = OpRegistry.Get(node);
            infos.Add(new NodeInfo(node, outs, d.Parameters(context), d.Flops(context, outs)));
        }
        return new GraphInfo(graph, infos, shapes);
    }

    /// <summary>
    /// Checks names and edges and puts the nodes in a topological order (stable: ties keep the given order).
    /// Throws <see cref="InvalidModelException"/> naming the offending value or node.
    /// </summary>
    public static void SortTopologically(Graph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var producer = new Dictionary<string, int>(StringComparer.Ordinal);
        var defined = new HashSet<string>(StringComparer.Ordinal);
        foreach (GraphValue input in graph.Inputs)
        {
            if (string.IsNullOrEmpty(input.Name))
            {
                throw new InvalidModelException($"graph '{graph.Name}': a graph input has an empty name.");
            }
            if (!defined.Add(input.Name))
            {
                throw new InvalidModelException($"graph '{graph.Name}': input '{input.Name}' is declared twice.");
            }
        }
        foreach (string name in graph.Constants.Keys)
        {
            if (!defined.Add(name))
            {
                throw new InvalidModelException($"graph '{graph.Name}': '{name}' is both a graph input and a constant.");
            }
        }
        IList<Node> nodes = graph.Nodes;
        for (int i = 0; i < nodes.Count; i++)
        {
            foreach (string o in nodes[i].Outputs)
            {
                if (o.Length == 0)
                {
                    continue;
                }
                if (defined.Contains(o) || producer.ContainsKey(o))
                {
                    throw new InvalidModelException($"{nodes[i].Describe()}: output '{o}' is already defined (a graph input, a constant, or another node's output); every value has one producer.");
                }
                producer[o] = i;
            }
        }
        var indegree = new int[nodes.Count];
        var consumers = new List<int>[nodes.Count];
        for (int i = 0; i < nodes.Count; i++)
        {
            consumers[i] = [];
        }
        for (int i = 0; i < nodes.Count; i++)
        {
            foreach (string name in nodes[i].Inputs)
            {
                if (name.Length == 0 || defined.Contains(name))
                {
                    continue;
                }
                if (!producer.TryGetValue(name, out int p))
                {
                    throw new InvalidModelException($"{nodes[i].Describe()}: input '{name}' is dangling: it is not a graph input, a constant, or any node's output.");
                }
                indegree[i]++;
                consumers[p].Add(i);
            }
        }
        foreach (string o in graph.Outputs)
        {
            if (!defined.Contains(o) && !producer.ContainsKey(o))
            {
                throw new InvalidModelException($"graph '{graph.Name}': output '{o}' is not produced by any node, nor a graph input or constant.");
            }
        }
        // Kahn's algorithm with a min-heap on the original index, so an already sorted graph keeps its order.
        var ready = new PriorityQueue<int, int>();
        for (int i = 0; i < nodes.Count; i++)
        {
            if (indegree[i] == 0)
            {
                ready.Enqueue(i, i);
            }
        }
        var order = new List<Node>(nodes.Count);
        while (ready.TryDequeue(out int i, out _))
        {
            order.Add(nodes[i]);
            foreach (int c in consumers[i])
            {
                if (--indegree[c] == 0)
                {
                    ready.Enqueue(c, c);
                }
            }
        }
        if (order.Count != nodes.Count)
        {
            string stuck = string.Join(", ", Enumerable.Range(0, nodes.Count).Where(i => indegree[i] > 0).Take(5).Select(i => nodes[i].Describe()));
            throw new InvalidModelException($"graph '{graph.Name}' has a cycle; nodes on or behind it: {stuck}.");
        }
        nodes.Clear();
        foreach (Node n in order)
        {
            nodes.Add(n);
        }
    }
}
