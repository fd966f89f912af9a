using FastConv.Graphs;
using FastConv.Graphs.Ops;
using FastConv.Onnx;

namespace FastConv.Compilation;

/// <summary>
/// The infer pass, the one place shapes are inferred, for every front end (ONNX import, builders, builtins):
/// <list type="number">
/// <item>structure: names, edges, cycles, a topological order (<see cref="GraphInfo.SortTopologically"/>), a node cap;</item>
/// <item>shape propagation with folding (<see cref="ShapeFolder"/>): shape sub-graphs (Shape → Gather → Concat →
/// Reshape, Cast, Range, …) become constants, every other node gets its output shapes from its op definition; the
/// rewrites of old opset forms that need shapes run here too;</item>
/// <item>support: one <see cref="UnsupportedModelException"/> listing every node FastConv cannot run;</item>
/// <item>the shapes are kept in <see cref="Graph.Values"/>.</item>
/// </list>
/// A graph whose values are all recorded already (inferred at import, or by the builder) is only checked, not inferred
/// again; a graph whose input shapes changed is inferred anew. A graph with dynamic input dimensions is inferred for the
/// sizes its inputs hold (<see cref="Bind"/> sets them); one without sizes yet is refused with the inputs to give.
/// </summary>
public static class InferPass
{
    public const string Name = "infer";

    /// <summary>Most nodes a graph may have (a hostile or runaway model is refused before any work, not planned for minutes).</summary>
    public const int DefaultMaxNodes = 1_000_000;

    /// <summary>Most elements a graph input or an inferred value may have (2^28 floats = 1 GiB).</summary>
    public const long MaxValueElements = 1L << 28;

    public static void Run(Graph graph, int maxNodes = DefaultMaxNodes, CancellationToken cancellation = default) =>
        Run(graph, [], new HashSet<Node>(ReferenceEqualityComparer.Instance), graph?.Name ?? "graph", maxNodes, cancellation);

    /// <summary>
    /// The pass with problems already found by a front end (<paramref name="problems"/>; nodes already reported in
    /// <paramref name="listed"/>): every problem, old and new, goes into one error at the end.
    /// </summary>
    internal static void Run(Graph graph, List<string> problems, HashSet<Node> listed, string source, int maxNodes = DefaultMaxNodes, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(graph);
        if (graph.Nodes.Count > maxNodes)
        {
            throw new InvalidModelException($"graph '{graph.Name}' has {graph.Nodes.Count:N0} nodes, more than the limit of {maxNodes:N0}; raise the limit (FastConvSessionOptions.MaxNodes) if the model is genuine.");
        }
        RequireBound(graph);
        GraphInfo.SortTopologically(graph);
        CheckKnown(graph, listed, problems);
        IDictionary<string, ValueInfo> values = graph.Values;
        foreach (GraphValue input in graph.Inputs)
        {
            if (!values.TryGetValue(input.Name, out ValueInfo? known) || known.Shape != input.Shape)
            {
                values.Clear(); // new or changed inputs: every kept shape may be stale
                break;
            }
        }
        if (problems.Count == 0 && graph.Nodes.All(n => n.Outputs.All(o => o.Length == 0 || values.ContainsKey(o))))
        {
            // Inferred before (at import, by a builder, or by an earlier run): check, do not infer again.
            OpRegistry.ThrowIfUnsupported(graph);
            return;
        }
        foreach (GraphValue input in graph.Inputs)
        {
            OnnxTensors.CheckedElementCount([.. input.Shape.Dims.ToArray().Select(d => (long)d)], $"{source}: input '{input.Name}'", MaxValueElements);
        }
        var names = new NameScope(graph.Inputs.Select(i => i.Name).Concat(graph.Constants.Keys).Concat(graph.Nodes.SelectMany(n => n.Outputs)));
        Dictionary<string, TensorShape> shapes = ShapeFolder.Run(graph, Infer, names, listed, problems, MaxValueElements, source, cancellation);
        OpsetNormalizer.NormalizeAfterShapes(graph, shapes, names, problems);
        Prune(graph);
        CheckWithShapes(graph, listed, problems);
        if (problems.Count > 0)
        {
            throw new UnsupportedModelException([.. problems.Distinct(StringComparer.Ordinal)]);
        }
        values.Clear();
        foreach (GraphValue input in graph.Inputs)
        {
            values[input.Name] = new ValueInfo(input.Name, input.Shape);
        }
        foreach (Node n in graph.Nodes)
        {
            foreach (string o in n.Outputs)
            {
                if (o.Length > 0 && !graph.Constants.ContainsKey(o))
                {
                    // A node the Softmax rewrite added has no recorded shape yet: its definition gives it.
                    values[o] = new ValueInfo(o, shapes.TryGetValue(o, out TensorShape? shape) ? shape : InferOne(graph, n, o));
                }
            }
        }
    }

    /// <summary>
    /// A copy of <paramref name="generic"/> (a graph with dynamic input dimensions, as imported) with its inputs set to
    /// <paramref name="shapes"/> and inferred: shape sub-graphs folded for these sizes. Fixed dimensions must match, and
    /// a symbol shared by several inputs must get one size. The copy keeps <paramref name="generic"/> as its
    /// <see cref="Graph.Generic"/>, so it can be bound again.
    /// </summary>
    public static Graph Bind(Graph generic, IReadOnlyDictionary<string, TensorShape> shapes, int maxNodes = DefaultMaxNodes, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(generic);
        ArgumentNullException.ThrowIfNull(shapes);
        foreach (string name in shapes.Keys)
        {
            if (!generic.Inputs.Any(i => i.Name == name))
            {
                throw new InvalidShapeException($"graph '{generic.Name}': a shape was given for '{name}', which is not an input; inputs: {string.Join(", ", generic.Inputs.Select(i => $"{i.Name}{i.Declared}"))}.");
            }
        }
        Graph g = GraphCompiler.Clone(generic);
        g.Values.Clear();
        g.Passes.Clear();
        foreach (PassRecord p in generic.Passes.Where(p => p.Name != Name))
        {
            g.Passes.Add(p);
        }
        var symbols = new Dictionary<string, (int Size, string Input)>(StringComparer.Ordinal);
        for (int k = 0; k < g.Inputs.Count; k++)
        {
            GraphValue input = g.Inputs[k];
            if (!shapes.TryGetValue(input.Name, out TensorShape? given))
            {
                continue;
            }
            if (given.Rank != input.Shape.Rank)
            {
                throw new InvalidShapeException($"input '{input.Name}' has rank {input.Shape.Rank} ({input.Declared}); the shape given, {given}, has rank {given.Rank}.");
            }
            for (int d = 0; d < given.Rank; d++)
            {
                string? symbol = input.Symbols?[d];
                if (given[d] < 1)
                {
                    throw new InvalidShapeException($"input '{input.Name}': dimension {d} of the shape given, {given}, is {given[d]}; sizes must be >= 1.");
                }
                if (symbol is null && given[d] != input.Shape[d])
                {
                    throw new InvalidShapeException($"input '{input.Name}': the shape given, {given}, differs from the model's fixed dimension {d} = {input.Shape[d]} ({input.Declared}).");
                }
                if (symbol is not null && symbols.TryGetValue(symbol, out var seen) && seen.Size != given[d])
                {
                    throw new InvalidShapeException($"dimension '{symbol}' is {seen.Size} in input '{seen.Input}' but {given[d]} in input '{input.Name}' ({given}); inputs sharing a symbol must agree.");
                }
                if (symbol is not null)
                {
                    symbols[symbol] = (given[d], input.Name);
                }
            }
            g.Inputs[k] = input with { Shape = given };
        }
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        Run(g, maxNodes, cancellation);
        g.Passes.Add(new PassRecord(Name, g.Nodes.Count, "bound to " + string.Join(", ", g.Inputs.Select(i => $"{i.Name}{i.Shape}")),
            System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds));
        g.Generic = generic;
        return g;
    }

    private static void RequireBound(Graph graph)
    {
        var unbound = graph.Inputs.Where(i => !i.IsBound).ToList();
        if (unbound.Count > 0)
        {
            throw new InvalidShapeException($"graph '{graph.Name}': input(s) {string.Join(", ", unbound.Select(i => $"'{i.Name}' {i.Declared}"))} have dynamic dimensions with no size yet; " +
                "give the full input shapes (a run's tensors, FastConvSessionOptions.InputShapes, ModelLoader.Load's inputShapes, or --shape NAME=1x3x640x640).");
        }
    }

    /// <summary>Op types the infer pass folds or rewrites away when it can (into constants, or Squeeze/Unsqueeze into Reshape).</summary>
    private static readonly HashSet<string> Rewritten = new(StringComparer.Ordinal) { "Squeeze", "Unsqueeze" };

    /// <summary>The op-type check alone, for a graph whose shapes are not known yet (a dynamic model before its first run).</summary>
    internal static void CheckKnownOnly(Graph graph, HashSet<Node> listed, List<string> problems)
    {
        GraphInfo.SortTopologically(graph);
        CheckKnown(graph, listed, problems);
    }

    /// <summary>Op types only: every node whose type neither the registry, the folder nor the rewrites know.</summary>
    private static void CheckKnown(Graph graph, HashSet<Node> listed, List<string> problems)
    {
        foreach (Node n in graph.Nodes)
        {
            if (!listed.Contains(n) && !OpRegistry.TryGet(n.OpType, out _) && !ConstantEvaluator.Knows(n.OpType) && !Rewritten.Contains(n.OpType))
            {
                problems.Add($"{n.Describe()} (opset {n.Opset}): op type '{n.OpType}' is not supported");
                listed.Add(n);
            }
        }
    }

    /// <summary>Shape inference of a node that stays: the registry's, or null when the registry does not know the op.</summary>
    private static TensorShape[]? Infer(Node node, IReadOnlyList<TensorShape?> inputs, Func<string, GraphConstant?> constant)
    {
        if (!OpRegistry.TryGet(node.OpType, out _))
        {
            return null;
        }
        var constants = node.Inputs.Select(s => s.Length > 0 ? constant(s) : null).ToArray();
        return OpRegistry.InferShapes(new OpContext(node, inputs, constants));
    }

    private static TensorShape InferOne(Graph graph, Node node, string output)
    {
        TensorShape[] shapes = OpRegistry.InferShapes(OpContext.For(node, graph));
        return shapes[Array.IndexOf(node.Outputs, output)];
    }

    /// <summary>What the registry says of every remaining node, with folded constants in place.</summary>
    private static void CheckWithShapes(Graph graph, HashSet<Node> listed, List<string> problems)
    {
        foreach (Node n in graph.Nodes)
        {
            if (listed.Contains(n))
            {
                continue;
            }
            if (!OpRegistry.TryGet(n.OpType, out _))
            {
                problems.Add($"{n.Describe()} (opset {n.Opset}): op type '{n.OpType}' is only supported when FastConv can compute it before a run (its inputs are constants or shapes)");
            }
            else if (!OpRegistry.IsSupported(n, graph, out string? problem))
            {
                problems.Add(problem!);
            }
        }
    }

    /// <summary>Drops nodes none of whose outputs reach a graph output, then constants nobody reads.</summary>
    private static void Prune(Graph graph)
    {
        var live = new HashSet<string>(graph.Outputs, StringComparer.Ordinal);
        var keep = new bool[graph.Nodes.Count];
        for (int i = graph.Nodes.Count - 1; i >= 0; i--)
        {
            Node n = graph.Nodes[i];
            if (!n.Outputs.Any(o => o.Length > 0 && live.Contains(o)))
            {
                continue;
            }
            keep[i] = true;
            foreach (string s in n.Inputs)
            {
                if (s.Length > 0)
                {
                    live.Add(s);
                }
            }
        }
        if (keep.Contains(false))
        {
            var kept = graph.Nodes.Where((_, i) => keep[i]).ToList();
            graph.Nodes.Clear();
            foreach (Node n in kept)
            {
                graph.Nodes.Add(n);
            }
        }
        foreach (string c in graph.Constants.Keys.Where(c => !live.Contains(c)).ToList())
        {
            graph.Constants.Remove(c);
        }
    }
}
