using FastConv.Graphs;

namespace FastConv.Compilation;

/// <summary>Output shapes of a node that stays in the graph (the op registry's shape inference).</summary>
/// <param name="node">The node.</param>
/// <param name="inputs">Shapes of its inputs, index for index (null for an omitted optional input).</param>
/// <param name="constant">The constant behind a value name, or null when it is computed at run time.</param>
/// <returns>One shape per output, or null when the op is unknown to the registry (its support check reports it).</returns>
internal delegate TensorShape[]? InferShapes(Node node, IReadOnlyList<TensorShape?> inputs, Func<string, GraphConstant?> constant);

/// <summary>
/// Shape propagation with constant folding, in topological order. A node whose inputs are all constants (or, for
/// Shape and Size, whose input shape is known) and whose op the small int64/float evaluator below knows is computed
/// now and replaced by its result; every other node keeps its place and its output shapes come from
/// <see cref="InferShapes"/>. This is what turns PyTorch's Shape → Gather → Unsqueeze → Concat → Reshape into a
/// Reshape with a constant shape.
/// </summary>
internal static class ShapeFolder
{
    /// <summary>Most elements a folded result may have (2^24): shape arithmetic never needs more; a hostile
    /// ConstantOfShape/Range/Expand must not make the loader allocate gigabytes.</summary>
    public const long MaxFoldElements = 1L << 24;

    public static Dictionary<string, TensorShape> Run(Graph graph, InferShapes infer, NameScope names, ISet<Node> unsupported, List<string> problems, long maxValueElements, string source, CancellationToken cancellation = default)
    {
        var shapes = new Dictionary<string, TensorShape>(StringComparer.Ordinal);
        foreach (var i in graph.Inputs) shapes[i.Name] = i.Shape;
        foreach (var (name, c) in graph.Constants) shapes[name] = c.Shape;
        GraphConstant? ConstantOf(string name) => graph.Constants.TryGetValue(name, out var c) ? c : null;

        var kept = new List<Node>(graph.Nodes.Count);
        foreach (var n in graph.Nodes)
        {
            cancellation.ThrowIfCancellationRequested();
            if (unsupported.Contains(n))
            {
                kept.Add(n); // already listed as unsupported: neither folded nor inferred, its outputs stay unknown
                continue;
            }
            var inputShapes = n.Inputs.Select(s => s.Length > 0 && shapes.TryGetValue(s, out var sh) ? sh : null).ToArray();
            GraphConstant[]? folded;
            try
            {
                folded = ConstantEvaluator.TryEvaluate(n, inputShapes, ConstantOf);
            }
            catch (InvalidShapeException e)
            {
                throw new InvalidModelException($"{source}: {n.Describe()}: {e.Message}", e);
            }
            catch (InvalidHyperparameterException e)
            {
                throw new InvalidModelException($"{source}: {n.Describe()}: {e.Message}", e);
            }
            if (folded is not null)
            {
                for (int k = 0; k < folded.Length && k < n.Outputs.Length; k++)
                {
                    if (n.Outputs[k].Length == 0) continue;
                    graph.AddConstant(n.Outputs[k], folded[k]);
                    shapes[n.Outputs[k]] = folded[k].Shape;
                }
                continue;
            }
            if (inputShapes.Where((s, k) => s is null && n.HasInput(k)).Any())
            {
                kept.Add(n);
                continue; // an input's shape is unknown (its producer is unsupported and already listed)
            }
            TensorShape[]? outs;
            try
            {
                if (n.OpType is "Squeeze" or "Unsqueeze" && SqueezeToReshape(graph, n, inputShapes[0]!, ConstantOf, names) is { } reshape)
                {
                    kept.Add(reshape.Node);
                    shapes[n.Outputs[0]] = reshape.Shape;
                    continue;
                }
                kept.Add(n);
                outs = infer(n, inputShapes, ConstantOf);
            }
            catch (UnsupportedModelException e)
            {
                problems.AddRange(e.Problems);
                continue;
            }
            catch (InvalidShapeException e)
            {
                throw new InvalidModelException($"{source}: {n.Describe()}: {e.Message}", e);
            }
            catch (InvalidHyperparameterException e)
            {
                throw new InvalidModelException($"{source}: {n.Describe()}: {e.Message}", e);
            }
            if (outs is null) continue;
            for (int k = 0; k < outs.Length && k < n.Outputs.Length; k++)
            {
                if (n.Outputs[k].Length == 0) continue;
                if (outs[k].ElementCount > maxValueElements)
                    throw new InvalidModelException($"{source}: {n.Describe()}: output '{n.Outputs[k]}' of shape {outs[k]} has more than {maxValueElements} elements; the model is malformed or too large");
                shapes[n.Outputs[k]] = outs[k];
            }
        }
        graph.Nodes.Clear();
        foreach (var n in kept) graph.Nodes.Add(n);
        return shapes;
    }

    /// <summary>
    /// Squeeze/Unsqueeze of a run-time value with constant axes is a Reshape to a shape known now; the graph carries
    /// it as one (the registry runs Reshape; the data is not moved).
    /// </summary>
    private static (Node Node, TensorShape Shape)? SqueezeToReshape(Graph graph, Node n, TensorShape x, Func<string, GraphConstant?> constant, NameScope names)
    {
        long[]? axes = n.HasInput(1) ? constant(n.Inputs[1])?.Int64s : null;
        if (n.HasInput(1) && axes is null) return null; // axes computed at run time: left for the support check to report
        if (n.Outputs.Length != 1) return null;
        int rank = x.Rank;
        int[] dims;
        if (n.OpType == "Unsqueeze")
        {
            if (axes is null) throw new InvalidModelException($"{n.Describe()}: no axes");
            int outRank = rank + axes.Length;
            var isNew = new bool[outRank];
            foreach (long a in axes)
            {
                long k = a < 0 ? a + outRank : a;
                if (k < 0 || k >= outRank || isNew[k]) throw new InvalidModelException($"{n.Describe()}: axes [{string.Join(",", axes)}] are invalid for input {x}");
                isNew[k] = true;
            }
            dims = new int[outRank];
            for (int k = 0, j = 0; k < outRank; k++) dims[k] = isNew[k] ? 1 : x[j++];
        }
        else
        {
            var drop = new bool[rank];
            if (axes is null || axes.Length == 0)
            {
                for (int k = 0; k < rank; k++) drop[k] = x[k] == 1;
            }
            else
            {
                foreach (long a in axes)
                {
                    long k = a < 0 ? a + rank : a;
                    if (k < 0 || k >= rank || x[(int)k] != 1) throw new InvalidModelException($"{n.Describe()}: cannot squeeze axes [{string.Join(",", axes)}] of input {x}");
                    drop[k] = true;
                }
            }
            dims = [.. x.Where((_, k) => !drop[k])];
        }
        string shapeName = names.Fresh((n.Name.Length > 0 ? n.Name : n.OpType) + "_shape");
        graph.AddConstant(shapeName, GraphConstant.Int64(TensorShape.Of(dims.Length), [.. dims.Select(d => (long)d)]));
        var node = new Node("Reshape", n.Name, [n.Inputs[0], shapeName], n.Outputs, Node.NoAttributes) { Opset = 14 };
        return (node, new TensorShape(dims));
    }
}
