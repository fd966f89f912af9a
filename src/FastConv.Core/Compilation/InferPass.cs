using FastConv.Graphs;
using FastConv.Graphs.Ops;

namespace FastConv.Compilation;

/// <summary>
/// The infer pass: checks the graph's structure and puts its nodes in topological order
/// (<see cref="GraphInfo.SortTopologically"/>), checks that every node is supported (one error listing them all), and
/// records the shape of every run-time value in <see cref="Graph.Values"/>. Shapes already recorded (by the importer,
/// or by a pass that rewrote a node) are kept, not inferred again; a graph whose input shapes changed is inferred anew.
/// </summary>
public static class InferPass
{
    public const string Name = "infer";

    /// <summary>Most nodes a graph may have (a hostile or runaway model is refused before any work, not planned for minutes).</summary>
    public const int DefaultMaxNodes = 1_000_000;

    public static void Run(Graph graph, int maxNodes = DefaultMaxNodes, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(graph);
        if (graph.Nodes.Count > maxNodes)
        {
            throw new InvalidModelException($"graph '{graph.Name}' has {graph.Nodes.Count:N0} nodes, more than the limit of {maxNodes:N0}; raise the limit (SessionOptions.MaxNodes) if the model is genuine.");
        }
        GraphInfo.SortTopologically(graph);
        OpRegistry.ThrowIfUnsupported(graph);
        IDictionary<string, ValueInfo> values = graph.Values;
        foreach (GraphValue input in graph.Inputs)
        {
            if (values.TryGetValue(input.Name, out ValueInfo? known) && known.Shape != input.Shape)
            {
                values.Clear(); // the inputs changed: every kept shape may be stale
                break;
            }
        }
        foreach (GraphValue input in graph.Inputs)
        {
            if (!values.ContainsKey(input.Name))
            {
                values[input.Name] = new ValueInfo(input.Name, input.Shape);
            }
        }
        foreach (Node node in graph.Nodes)
        {
            cancellation.ThrowIfCancellationRequested();
            if (node.Outputs.All(o => o.Length == 0 || values.ContainsKey(o)))
            {
                continue;
            }
            TensorShape[] shapes = OpRegistry.InferShapes(OpContext.For(node, graph));
            for (int i = 0; i < shapes.Length; i++)
            {
                string o = node.Outputs[i];
                if (o.Length > 0)
                {
                    values[o] = new ValueInfo(o, shapes[i]);
                }
            }
        }
    }
}
