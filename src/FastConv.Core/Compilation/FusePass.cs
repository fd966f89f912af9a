using FastConv.Backends;
using FastConv.Graphs;
using FastConv.Graphs.Ops;

namespace FastConv.Compilation;

/// <summary>
/// The fuse pass: rewrites the graph into one that computes the same outputs with fewer passes over memory.
/// <list type="number">
/// <item>drop no-ops (Dropout, Identity): readers read the input directly;</item>
/// <item>fold BatchNormalization into the Conv before it: <c>W'[k] = W[k]·s[k]</c>, <c>b'[k] = (b[k] − μ[k])·s[k] + β[k]</c>
/// with <c>s = γ/√(σ² + ε)</c> (in double, rounded once);</item>
/// <item>fuse Conv + Add (the residual) + activation, and Conv + activation, into one <see cref="FastConvOps.FusedConv"/>
/// whose epilogue adds the residual and applies the activation while the output is in registers.</item>
/// </list>
/// Each rewrite fires only when the intermediate value has one reader and is not a graph output. Every rewrite is
/// O(1) through <see cref="GraphEditor"/>, so the pass is linear in the graph's size. Shapes are not inferred again: a
/// fused node writes a value whose shape the graph already knows.
/// </summary>
public static class FusePass
{
    public const string Name = "fuse";

    public static void Run(Graph graph, OptimizerOptions options, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(options);
        var editor = new GraphEditor(graph);
        if (options.DropNoOps)
        {
            DropNoOps(graph, editor, cancellation);
        }
        if (options.FoldBatchNorm)
        {
            FoldBatchNorm(graph, editor, cancellation);
        }
        if (options.FuseConvEpilogue)
        {
            FuseConvAdd(graph, editor, cancellation);
            FuseConvActivation(graph, editor, cancellation);
        }
        editor.Commit();
        RemoveUnusedConstants(graph);
    }

    private static Node Copy(Node n, string opType, string[] inputs, string[] outputs, IReadOnlyDictionary<string, AttributeValue> attributes)
        => new(opType, n.Name, inputs, outputs, attributes) { Opset = n.Opset, Domain = n.Domain, Backend = n.Backend };

    private static void DropNoOps(Graph g, GraphEditor e, CancellationToken cancellation)
    {
        foreach (Node n in e.Snapshot())
        {
            cancellation.ThrowIfCancellationRequested();
            if (n.OpType is not ("Identity" or "Dropout"))
            {
                continue;
            }
            string src = n.Inputs[0], dst = n.Outputs[0];
            if (!e.IsGraphOutput(dst))
            {
                e.Remove(n);
                e.RenameReads(dst, src);
                g.Values.Remove(dst);
            }
            else if (e.Producer(src) is { } p && !ReferenceEquals(p, n) && !e.IsGraphOutput(src) && !e.IsGraphInput(src))
            {
                // The no-op's output is a graph output: let the producer write it under that name.
                e.Remove(n);
                e.Replace(p, Copy(p, p.OpType, p.Inputs, [.. p.Outputs.Select(o => o == src ? dst : o)], p.Attributes));
                e.RenameReads(src, dst);
                g.Values.Remove(src);
            }
        }
    }

    private static void FoldBatchNorm(Graph g, GraphEditor e, CancellationToken cancellation)
    {
        foreach (Node bn in e.Snapshot())
        {
            cancellation.ThrowIfCancellationRequested();
            if (bn.OpType != "BatchNormalization" || e.Producer(bn.Inputs[0]) is not { OpType: "Conv" } conv || !e.HasSingleUse(bn.Inputs[0])
                || !conv.HasInput(1) || e.Constant(conv.Inputs[1]) is not { } w
                || !Enumerable.Range(1, 4).All(i => bn.HasInput(i) && e.IsConstant(bn.Inputs[i])))
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
            float[]? oldB = conv.HasInput(2) && e.Constant(conv.Inputs[2]) is { } b ? b.Floats : null;
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
            g.Values.Remove(conv.Outputs[0]);
            e.Remove(bn);
            e.Replace(conv, Copy(conv, "Conv", [conv.Inputs[0], wName, bName], [bn.Outputs[0]], conv.Attributes));
        }
    }

    private static void FuseConvAdd(Graph g, GraphEditor e, CancellationToken cancellation)
    {
        foreach (Node add in e.Snapshot())
        {
            cancellation.ThrowIfCancellationRequested();
            if (add.OpType != "Add" || !e.Contains(add) || add.Inputs.Length != 2)
            {
                continue;
            }
            Node? conv = null;
            string? residual = null;
            for (int side = 0; side < 2 && conv is null; side++)
            {
                string c = add.Inputs[side], r = add.Inputs[1 - side];
                if (e.Producer(c) is { OpType: "Conv" } p && e.HasSingleUse(c) && !e.IsConstant(r)
                    && g.ShapeOf(r) == g.ShapeOf(c) && g.ShapeOf(add.Outputs[0]) == g.ShapeOf(c))
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
            if (e.HasSingleUse(output) && e.Readers(output)[0] is { } next && next.Inputs[0] == output
                && ActivationOp.Of(next, Const(e, next, 1), Const(e, next, 2)) is { } a)
            {
                activation = a;
                act = next;
                g.Values.Remove(output);
                output = next.Outputs[0];
            }
            string[] inputs = [conv.Inputs[0], conv.Inputs[1], conv.HasInput(2) ? conv.Inputs[2] : "", residual!];
            var attributes = conv.Attributes.Concat(ConvOp.ActivationAttributes(activation)).ToDictionary();
            g.Values.Remove(conv.Outputs[0]);
            // The fused node reads the residual, which may be computed after the conv: it takes the Add's place.
            e.Remove(conv);
            if (act is not null)
            {
                e.Remove(act);
            }
            e.Replace(add, Copy(conv, FastConvOps.FusedConv, inputs, [output], attributes));
        }
    }

    private static void FuseConvActivation(Graph g, GraphEditor e, CancellationToken cancellation)
    {
        foreach (Node act in e.Snapshot())
        {
            cancellation.ThrowIfCancellationRequested();
            if (act.Inputs.Length == 0 || !e.Contains(act) || e.Producer(act.Inputs[0]) is not { } conv || !e.HasSingleUse(act.Inputs[0])
                || !(conv.OpType == "Conv" || conv.OpType == FastConvOps.FusedConv && conv.GetString("activation", "None") == "None")
                || ActivationOp.Of(act, Const(e, act, 1), Const(e, act, 2)) is not { } activation)
            {
                continue;
            }
            var attributes = conv.Attributes.Where(a => !a.Key.StartsWith("activation", StringComparison.Ordinal))
                .Concat(ConvOp.ActivationAttributes(activation)).ToDictionary();
            string[] inputs = conv.Inputs.Length >= 4 ? [.. conv.Inputs] : [conv.Inputs[0], conv.Inputs[1], conv.HasInput(2) ? conv.Inputs[2] : ""];
            g.Values.Remove(conv.Outputs[0]);
            e.Remove(act);
            e.Replace(conv, Copy(conv, FastConvOps.FusedConv, inputs, [act.Outputs[0]], attributes));
        }
    }

    private static GraphConstant? Const(GraphEditor e, Node n, int i) => n.HasInput(i) ? e.Constant(n.Inputs[i]) : null;

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
