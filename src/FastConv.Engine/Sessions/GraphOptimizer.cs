using FastConv.Backends;
using FastConv.Graphs;
using FastConv.Graphs.Ops;

namespace FastConv.Sessions;

/// <summary>
/// Rewrites a graph into one that computes the same outputs with fewer passes over memory, before planning:
/// <list type="number">
/// <item>drop no-ops (Dropout, Identity): consumers read the input directly;</item>
/// <item>fold constants: a float node whose inputs are all constants is evaluated once, with the <c>reference</c>
/// backend, and replaced by its result;</item>
/// <item>fold BatchNormalization into the Conv before it: <c>W'[k] = W[k]·s[k]</c>, <c>b'[k] = (b[k] − μ[k])·s[k] + β[k]</c>
/// with <c>s = γ/√(σ² + ε)</c> (in double, rounded once);</item>
/// <item>fuse Conv + Add (the residual) + activation, and Conv + activation, into one <see cref="OpAttributes.FusedConv"/>
/// whose epilogue adds the residual and applies the activation while the output is in registers.</item>
/// </list>
/// The input graph is not modified. Each rewrite only fires when the intermediate value has no other reader and
/// is not a graph output.
/// </summary>
public static class GraphOptimizer
{
    public static Graph Optimize(Graph graph, OptimizerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(graph);
        options ??= OptimizerOptions.All;
        Graph g = Clone(graph);
        GraphInfo.Analyze(g);
        if (options.DropNoOps)
        {
            DropNoOps(g);
        }
        if (options.FoldConstants)
        {
            FoldConstants(g);
        }
        if (options.FoldBatchNorm)
        {
            FoldBatchNorm(g);
        }
        if (options.FuseConvEpilogue)
        {
            FuseConvAdd(g);
            FuseConvActivation(g);
        }
        GraphInfo.SortTopologically(g);
        return g;
    }

    /// <summary>A copy sharing the (immutable) constants and attribute values, with its own node list.</summary>
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
        foreach (Node n in graph.Nodes)
        {
            g.Nodes.Add(Copy(n, n.OpType, [.. n.Inputs], [.. n.Outputs], n.Attributes));
        }
        return g;
    }

    private static Node Copy(Node n, string opType, string[] inputs, string[] outputs, IReadOnlyDictionary<string, AttributeValue> attributes)
        => new(opType, n.Name, inputs, outputs, attributes) { Opset = n.Opset, Domain = n.Domain };

    private static void Rename(Graph g, string from, string to)
    {
        foreach (Node n in g.Nodes)
        {
            for (int i = 0; i < n.Inputs.Length; i++)
            {
                if (n.Inputs[i] == from)
                {
                    n.Inputs[i] = to;
                }
            }
        }
    }

    private static Dictionary<string, int> Uses(Graph g)
    {
        var uses = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (Node n in g.Nodes)
        {
            foreach (string i in n.Inputs.Where(i => i.Length > 0))
            {
                uses[i] = uses.GetValueOrDefault(i) + 1;
            }
        }
        foreach (string o in g.Outputs)
        {
            uses[o] = uses.GetValueOrDefault(o) + 1000; // a graph output is never fused away
        }
        return uses;
    }

    private static Dictionary<string, Node> Producers(Graph g)
    {
        var p = new Dictionary<string, Node>(StringComparer.Ordinal);
        foreach (Node n in g.Nodes)
        {
            foreach (string o in n.Outputs.Where(o => o.Length > 0))
            {
                p[o] = n;
            }
        }
        return p;
    }

    private static void DropNoOps(Graph g)
    {
        var outputs = new HashSet<string>(g.Outputs, StringComparer.Ordinal);
        var inputs = new HashSet<string>(g.Inputs.Select(i => i.Name), StringComparer.Ordinal);
        foreach (Node n in g.Nodes.Where(n => n.OpType is "Identity" or "Dropout").ToList())
        {
            string src = n.Inputs[0], dst = n.Outputs[0];
            Dictionary<string, Node> producers = Producers(g);
            if (!outputs.Contains(dst))
            {
                g.Nodes.Remove(n);
                Rename(g, dst, src);
            }
            else if (producers.TryGetValue(src, out Node? p) && p != n && !outputs.Contains(src) && !inputs.Contains(src))
            {
                // The no-op's output is a graph output: let the producer write it under that name.
                g.Nodes.Remove(n);
                int at = g.Nodes.IndexOf(p);
                g.Nodes[at] = Copy(p, p.OpType, p.Inputs, [.. p.Outputs.Select(o => o == src ? dst : o)], p.Attributes);
                Rename(g, src, dst);
            }
        }
    }

    private static void FoldConstants(Graph g)
    {
        foreach (Node n in g.Nodes.ToList())
        {
            string[] present = [.. n.Inputs.Where(i => i.Length > 0)];
            if (present.Length == 0 || !n.HasInput(0) || !present.All(g.Constants.ContainsKey) || g.Constants[n.Inputs[0]].Type != ConstantType.Float32)
            {
                continue;
            }
            var mini = new Graph($"fold {n.Describe()}");
            foreach (string i in present)
            {
                mini.Constants[i] = g.Constants[i];
            }
            mini.Nodes.Add(Copy(n, n.OpType, [.. n.Inputs], [.. n.Outputs], n.Attributes));
            foreach (string o in n.Outputs.Where(o => o.Length > 0))
            {
                mini.Outputs.Add(o);
            }
            IReadOnlyDictionary<string, Tensor> results;
            try
            {
                using var session = new Session(mini, new SessionOptions { Backend = BackendNames.Reference, Optimizer = OptimizerOptions.None });
                results = session.Run(new Dictionary<string, Tensor>());
            }
            catch (FastConvException)
            {
                continue; // leave the node; analysis reports what is wrong with it
            }
            g.Nodes.Remove(n);
            foreach (var (name, t) in results)
            {
                g.Constants[name] = GraphConstant.FromTensor(t);
            }
        }
    }

    private static void FoldBatchNorm(Graph g)
    {
        Dictionary<string, int> uses = Uses(g);
        Dictionary<string, Node> producers = Producers(g);
        foreach (Node bn in g.Nodes.Where(n => n.OpType == "BatchNormalization").ToList())
        {
            if (!producers.TryGetValue(bn.Inputs[0], out Node? conv) || conv.OpType != "Conv" || uses[bn.Inputs[0]] != 1
                || !conv.HasInput(1) || !g.Constants.TryGetValue(conv.Inputs[1], out GraphConstant? w)
                || !Enumerable.Range(1, 4).All(i => bn.HasInput(i) && g.Constants.ContainsKey(bn.Inputs[i])))
            {
                continue;
            }
            float[] gamma = g.Constants[bn.Inputs[1]].Floats, beta = g.Constants[bn.Inputs[2]].Floats;
            float[] mean = g.Constants[bn.Inputs[3]].Floats, var = g.Constants[bn.Inputs[4]].Floats;
            int k = w.Shape[0];
            if (gamma.Length != k || beta.Length != k || mean.Length != k || var.Length != k)
            {
                continue;
            }
            double eps = bn.GetFloat("epsilon", 1e-5f);
            float[] wf = w.Floats, newW = new float[wf.Length], newB = new float[k];
            float[]? oldB = conv.HasInput(2) && g.Constants.TryGetValue(conv.Inputs[2], out GraphConstant? b) ? b.Floats : null;
            int per = wf.Length / k;
            for (int kk = 0; kk < k; kk++)
            {
                double s = gamma[kk] / Math.Sqrt(var[kk] + eps);
                for (int i = 0; i < per; i++)
                {
                    newW[kk * per + i] = (float)(wf[kk * per + i] * s);
                }
                newB[kk] = (float)(((oldB?[kk] ?? 0.0) - mean[kk]) * s + beta[kk]);
            }
            string wName = Unique(g, conv.Inputs[1] + "_bn"), bName = Unique(g, (conv.HasInput(2) ? conv.Inputs[2] : conv.Inputs[1] + "_bias") + "_bn");
            g.Constants[wName] = GraphConstant.Float32(w.Shape, newW);
            g.Constants[bName] = GraphConstant.Float32(TensorShape.Of(k), newB);
            int at = g.Nodes.IndexOf(conv);
            g.Nodes[at] = Copy(conv, "Conv", [conv.Inputs[0], wName, bName], [bn.Outputs[0]], conv.Attributes);
            g.Nodes.Remove(bn);
        }
        RemoveUnusedConstants(g);
    }

    private static void FuseConvAdd(Graph g)
    {
        IReadOnlyDictionary<string, TensorShape> shapes = GraphInfo.Analyze(g).Shapes;
        Dictionary<string, int> uses = Uses(g);
        Dictionary<string, Node> producers = Producers(g);
        foreach (Node add in g.Nodes.Where(n => n.OpType == "Add").ToList())
        {
            Node? conv = null;
            string? residual = null;
            for (int side = 0; side < 2 && conv is null; side++)
            {
                string c = add.Inputs[side], r = add.Inputs[1 - side];
                if (producers.TryGetValue(c, out Node? p) && p.OpType == "Conv" && uses[c] == 1 && g.Nodes.Contains(p)
                    && !g.Constants.ContainsKey(r) && shapes[r] == shapes[c] && shapes[add.Outputs[0]] == shapes[c])
                {
                    conv = p;
                    residual = r;
                }
            }
            if (conv is null)
            {
                continue;
            }
            string output = add.Outputs[0];
            Activation activation = Activation.None;
            Node? act = null;
            if (uses.GetValueOrDefault(output) == 1 && g.Nodes.FirstOrDefault(n => n.Inputs.Length > 0 && n.Inputs[0] == output) is { } next
                && OpAttributes.AsActivation(next, Const(g, next, 1), Const(g, next, 2)) is { } a)
            {
                activation = a;
                act = next;
                output = next.Outputs[0];
            }
            string[] inputs = [conv.Inputs[0], conv.Inputs[1], conv.HasInput(2) ? conv.Inputs[2] : "", residual!];
            var attributes = conv.Attributes.Concat(OpAttributes.ActivationAttributes(activation)).ToDictionary();
            Node fused = Copy(conv, OpAttributes.FusedConv, inputs, [output], attributes);
            // The fused node reads the residual, which may be computed after the conv: it takes the Add's place.
            g.Nodes[g.Nodes.IndexOf(add)] = fused;
            g.Nodes.Remove(conv);
            if (act is not null)
            {
                g.Nodes.Remove(act);
            }
        }
    }

    private static void FuseConvActivation(Graph g)
    {
        Dictionary<string, int> uses = Uses(g);
        Dictionary<string, Node> producers = Producers(g);
        foreach (Node act in g.Nodes.ToList())
        {
            if (act.Inputs.Length == 0 || !producers.TryGetValue(act.Inputs[0], out Node? conv) || uses[act.Inputs[0]] != 1
                || !(conv.OpType == "Conv" || conv.OpType == OpAttributes.FusedConv && conv.GetString("activation", "None") == "None")
                || OpAttributes.AsActivation(act, Const(g, act, 1), Const(g, act, 2)) is not { } activation)
            {
                continue;
            }
            var attributes = conv.Attributes.Where(a => !a.Key.StartsWith("activation", StringComparison.Ordinal))
                .Concat(OpAttributes.ActivationAttributes(activation)).ToDictionary();
            string[] inputs = conv.Inputs.Length >= 4 ? [.. conv.Inputs] : [conv.Inputs[0], conv.Inputs[1], conv.HasInput(2) ? conv.Inputs[2] : ""];
            Node fused = Copy(conv, OpAttributes.FusedConv, inputs, [act.Outputs[0]], attributes);
            g.Nodes[g.Nodes.IndexOf(conv)] = fused;
            g.Nodes.Remove(act);
            producers[act.Outputs[0]] = fused;
        }
    }

    private static GraphConstant? Const(Graph g, Node n, int i) => n.HasInput(i) && g.Constants.TryGetValue(n.Inputs[i], out GraphConstant? c) ? c : null;

    private static string Unique(Graph g, string name)
    {
        string candidate = name;
        for (int i = 1; g.Constants.ContainsKey(candidate); i++)
        {
            candidate = $"{name}{i}";
        }
        return candidate;
    }

    private static void RemoveUnusedConstants(Graph g)
    {
        var used = new HashSet<string>(g.Nodes.SelectMany(n => n.Inputs).Concat(g.Outputs), StringComparer.Ordinal);
        foreach (string name in g.Constants.Keys.Where(k => !used.Contains(k)).ToList())
        {
            g.Constants.Remove(name);
        }
    }
}
