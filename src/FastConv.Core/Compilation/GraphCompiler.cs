using FastConv.Backends;
using FastConv.Graphs;

namespace FastConv.Compilation;

/// <summary>What <see cref="GraphCompiler.Compile"/> needs: the backends to place nodes on, and the rewrites to make.</summary>
public sealed record CompileOptions
{
    /// <summary>The backends nodes may run on, in order of preference (the session's choice, then its fallbacks).</summary>
    public required IReadOnlyList<IBackend> Backends { get; init; }

    /// <summary>The backend the fold pass evaluates constant nodes on (the reference); null skips constant folding.</summary>
    public IBackend? Evaluator { get; init; }

    public OptimizerOptions Optimizer { get; init; } = OptimizerOptions.All;

    /// <summary>Most nodes a graph may have before compiling is refused (<see cref="InferPass.DefaultMaxNodes"/>).</summary>
    public int MaxNodes { get; init; } = InferPass.DefaultMaxNodes;

    /// <summary>Cancels a long compilation between nodes (an <see cref="OperationCanceledException"/>).</summary>
    public CancellationToken Cancellation { get; init; }
}

/// <summary>A graph after every compile pass: nodes placed and in layout, Copy and Reorder nodes in, values in arenas.</summary>
public sealed class CompiledGraph
{
    internal CompiledGraph(Graph graph, MemoryPlan memory)
    {
        Graph = graph;
        Memory = memory;
    }

    /// <summary>The compiled graph (a copy: the caller's graph is not modified); <see cref="Graph.Passes"/> lists the passes run.</summary>
    public Graph Graph { get; }

    public MemoryPlan Memory { get; }

    /// <summary>What the plans of this graph share across execution contexts (packed weights): see <see cref="PlanSharing"/>.</summary>
    public PlanSharing Sharing { get; } = new();
}

/// <summary>
/// Runs the compile passes over one graph IR, shapes inferred once and kept:
/// <c>infer → fold → fuse → place → layout → memory</c> (the front end's <c>import</c> and <c>normalize</c> ran before;
/// <see cref="ExecutionPlan"/> makes the plans). Each pass is a static class of this namespace that changes the graph and
/// nothing else, so each can be run and tested alone; each appends a <see cref="PassRecord"/> to <see cref="Graph.Passes"/>.
/// </summary>
public static class GraphCompiler
{
    public static CompiledGraph Compile(Graph graph, CompileOptions options)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(options);
        CancellationToken cancel = options.Cancellation;
        Graph g = Clone(graph);
        Record(g, InferPass.Name, () => InferPass.Run(g, options.MaxNodes, cancel));
        if (options.Optimizer.FoldConstants && options.Evaluator is { } evaluator)
        {
            Record(g, FoldPass.Name, () => FoldPass.Run(g, evaluator, cancel));
        }
        Record(g, FusePass.Name, () => FusePass.Run(g, options.Optimizer, cancel));
        Record(g, PlacePass.Name, () => PlacePass.Run(g, options.Backends, cancel));
        Record(g, LayoutPass.Name, () => LayoutPass.Run(g, options.Backends, cancel));
        MemoryPlan memory = null!;
        Record(g, MemoryPass.Name, () => memory = MemoryPass.Run(g, cancel));
        return new CompiledGraph(g, memory);
    }

    /// <summary>
    /// The graph after the passes that change what it computes and not where: a copy, inferred, constants folded on
    /// <paramref name="evaluator"/> (skipped when null) and fused. For looking at what a session will run.
    /// </summary>
    public static Graph Optimize(Graph graph, OptimizerOptions? options = null, IBackend? evaluator = null)
    {
        ArgumentNullException.ThrowIfNull(graph);
        options ??= OptimizerOptions.All;
        Graph g = Clone(graph);
        Record(g, InferPass.Name, () => InferPass.Run(g));
        if (options.FoldConstants && evaluator is not null)
        {
            Record(g, FoldPass.Name, () => FoldPass.Run(g, evaluator));
        }
        Record(g, FusePass.Name, () => FusePass.Run(g, options));
        return g;
    }

    /// <summary>Runs <paramref name="pass"/> and appends its record (name, nodes left, time taken) to the graph's pass list.</summary>
    public static void Record(Graph graph, string name, Action pass, string detail = "")
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(pass);
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        pass();
        graph.Passes.Add(new PassRecord(name, graph.Nodes.Count, detail, System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds));
    }

    /// <summary>A copy with its own node list and nodes (passes edit both), sharing the immutable constants and attributes.</summary>
    public static Graph Clone(Graph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var g = new Graph(graph.Name);
        foreach (GraphValue v in graph.Inputs)
        {
            g.Inputs.Add(v);
        }
        foreach (string o in graph.Outputs)
        {
            g.Outputs.Add(o);
        }
        foreach (var (name, c) in graph.Constants)
        {
            g.Constants[name] = c;
        }
        foreach (var (name, v) in graph.Values)
        {
            g.Values[name] = v;
        }
        foreach (PassRecord p in graph.Passes)
        {
            g.Passes.Add(p);
        }
        foreach (Node n in graph.Nodes)
        {
            g.Nodes.Add(new Node(n.OpType, n.Name, [.. n.Inputs], [.. n.Outputs], n.Attributes) { Opset = n.Opset, Domain = n.Domain, Backend = n.Backend });
        }
        return g;
    }
}
