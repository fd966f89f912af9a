using FastConv.Backends;
using FastConv.Graphs;
using FastConv.Graphs.Ops;

namespace FastConv.Compilation;

/// <summary>
/// The fold pass: a float node whose inputs are all constants is evaluated once, now, and replaced by its results
/// (new constants). It runs the node's own definition on an evaluator backend (the <c>reference</c> backend in a
/// session) through the same <see cref="OpDefinition.Plan"/> a run uses — no session is built. A node the evaluator
/// cannot run is left in place.
/// </summary>
public static class FoldPass
{
    public const string Name = "fold";

    public static void Run(Graph graph, IBackend evaluator, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(evaluator);
        var kept = new List<Node>(graph.Nodes.Count);
        foreach (Node node in graph.Nodes)
        {
            cancellation.ThrowIfCancellationRequested();
            if (!IsFoldable(node, graph))
            {
                kept.Add(node);
                continue;
            }
            GraphConstant[] results;
            try
            {
                results = Evaluate(node, graph, evaluator);
            }
            catch (FastConvException)
            {
                kept.Add(node); // left to run; a broken node is reported when it is planned
                continue;
            }
            for (int i = 0; i < results.Length; i++)
            {
                string o = node.Outputs[i];
                if (o.Length > 0)
                {
                    graph.Constants[o] = results[i];
                    graph.Values.Remove(o);
                }
            }
        }
        if (kept.Count != graph.Nodes.Count)
        {
            graph.Nodes.Clear();
            foreach (Node n in kept)
            {
                graph.Nodes.Add(n);
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="node"/> of <paramref name="graph"/> (whose inputs must all be constants) on
    /// <paramref name="backend"/> and returns its outputs as constants.
    /// </summary>
    public static GraphConstant[] Evaluate(Node node, Graph graph, IBackend backend)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(backend);
        OpContext context = OpContext.For(node, graph);
        OpDefinition definition = OpRegistry.Get(node);
        if (!definition.CanRun(backend, context) || backend.Memory != MemorySpace.Host)
        {
            throw new UnsupportedModelException([$"{node.Describe()}: backend '{backend.Name}' cannot evaluate it."]);
        }
        TensorShape[] shapes = OpRegistry.InferShapes(context);
        Tensor[] outputs = [.. shapes.Select(Tensor.Allocate)];
        var inputs = new Tensor?[node.Inputs.Length];
        var binding = new KernelBinding(context, backend, shapes,
            i => BoundValue.OnHost(inputs[i] ??= context.RequireConstant(i, "input").ToTensor()), i => BoundValue.OnHost(outputs[i]), _ => TensorLayout.Nchw);
        using (Step step = definition.Plan(binding))
        {
            step.Execute();
        }
        return [.. outputs.Select(GraphConstant.FromTensor)];
    }

    private static bool IsFoldable(Node node, Graph graph)
    {
        bool any = false;
        foreach (string i in node.Inputs)
        {
            if (i.Length == 0)
            {
                continue;
            }
            if (!graph.Constants.ContainsKey(i))
            {
                return false;
            }
            any = true;
        }
        return any && node.HasInput(0) && graph.Constants[node.Inputs[0]].Type == ElementType.Float32
            && node.OpType is not (FastConvOps.Copy or FastConvOps.Reorder);
    }
}
