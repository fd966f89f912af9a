using FastConv.Backends;
using FastConv.Graphs;
using FastConv.Graphs.Ops;
using FastConv.Ops;

namespace FastConv.Compilation;

/// <summary>
/// The fuse pass: rewrites the graph into one that computes the same outputs with fewer passes over memory.
/// <list type="number">
/// <item>drop no-ops (Dropout, Identity): readers read the input directly;</item>
/// <item>recognize activations written out op by op (<see cref="OptimizerOptions.RecognizeActivations"/>): HardSwish,
/// HardSigmoid and Gelu in the spellings of PyTorch's and Paddle2ONNX's exporters become the one node each is;</item>
/// <item>fold BatchNormalization into the Conv before it: <c>W'[k] = W[k]·s[k]</c>, <c>b'[k] = (b[k] − μ[k])·s[k] + β[k]</c>
/// with <c>s = γ/√(σ² + ε)</c> (in double, rounded once); likewise a per-channel or scalar constant Mul, Div, Add or
/// Sub after a Conv;</item>
/// <item>fuse Conv + Add (the residual) + activation, and Conv + activation, into one <see cref="FastConvOps.FusedConv"/>
/// whose epilogue adds the residual and applies the activation while the output is in registers;</item>
/// <item>fuse any other element-wise Add/Sub/Mul/Div and the activation reading it into one
/// <see cref="FastConvOps.FusedBinary"/> pass.</item>
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
        if (options.RecognizeActivations)
        {
            RecognizeActivations(graph, editor, cancellation);
        }
        if (options.FoldBatchNorm)
        {
            FoldBatchNorm(graph, editor, cancellation);
        }
        if (options.FoldChannelAffine)
        {
            FoldChannelAffine(graph, editor, cancellation);
        }
        if (options.FuseConvEpilogue)
        {
            FuseConvAdd(graph, editor, cancellation);
            FuseConvActivation(graph, editor, cancellation);
        }
        if (options.FuseBinaryActivation)
        {
            FuseBinaryActivation(graph, editor, cancellation);
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

    /// <summary>
    /// HardSwish, HardSigmoid, Gelu, Swish and Mish written out op by op, as the last node of each spelling is reached (the nodes are
    /// in topological order, so a rewrite's result is there for the next match to read):
    /// <list type="bullet">
    /// <item>HardSigmoid(x, 1/6, ½) ← Clip(x + 3, 0, 6) / 6, or · (1/6);</item>
    /// <item>HardSwish(x) ← x · HardSigmoid(x, 1/6, ½) (so also x · (Clip(x + 3, 0, 6) / 6)), and ← (x · Clip(x + 3, 0, 6)) / 6, or · (1/6);</item>
    /// <item>Gelu(x) ← (x · (Erf(x / √2) + 1)) · ½, and (x · ½) · (Erf(x / √2) + 1); x · (1/√2) for x / √2.</item>
    /// <item>Swish(x, α) ← x · Sigmoid(x) (α = 1: SiLU) and x · Sigmoid(x · α) for a scalar constant α;</item>
    /// <item>Mish(x) ← x · Tanh(Softplus(x)).</item>
    /// </list>
    /// Each intermediate must have one reader. The results differ from the written-out form by the rounding of the
    /// intermediate steps only.
    /// </summary>
    /// <summary>
    /// Whether <paramref name="arg"/> (a Sigmoid's input) is <paramref name="x"/> itself (α = 1) or x · α for a scalar
    /// constant α read only there (<paramref name="scaled"/> is that Mul).
    /// </summary>
    private static bool SwishAlpha(GraphEditor e, string arg, string x, out float alpha, out Node? scaled)
    {
        (alpha, scaled) = (1f, null);
        if (arg == x)
        {
            return true;
        }
        if (Single(e, arg) is { OpType: "Mul", Inputs.Length: 2 } m)
        {
            int c = m.Inputs[0] == x ? 1 : m.Inputs[1] == x ? 0 : -1;
            if (c >= 0 && Scalar(e, m.Inputs[c]) is { } a)
            {
                (alpha, scaled) = ((float)a, m);
                return true;
            }
        }
        return false;
    }

    private static void RecognizeActivations(Graph g, GraphEditor e, CancellationToken cancellation)
    {
        foreach (Node n in e.Snapshot())
        {
            cancellation.ThrowIfCancellationRequested();
            if (!e.Contains(n))
            {
                continue;
            }
            Node? replacement = null;
            var removed = new List<Node>();
            if (ScaleOfSixth(e, n) is { } scaled)
            {
                // n = v / 6: v = Clip(x + 3, 0, 6) → HardSigmoid; v = x · Clip(x + 3, 0, 6) → HardSwish.
                if (ClipShifted(e, scaled, out string? x, removed))
                {
                    replacement = new Node("HardSigmoid", n.Name, [x!], [n.Outputs[0]],
                        new Dictionary<string, AttributeValue> { ["alpha"] = AttributeValue.Of(1f / 6), ["beta"] = AttributeValue.Of(0.5f) });
                }
                else if (Single(e, scaled) is { OpType: "Mul" } mul)
                {
                    for (int side = 0; side < 2 && replacement is null; side++)
                    {
                        var steps = new List<Node>();
                        if (ClipShifted(e, mul.Inputs[side], out string? xs, steps) && xs == mul.Inputs[1 - side])
                        {
                            removed.Add(mul);
                            removed.AddRange(steps);
                            replacement = new Node("HardSwish", n.Name, [xs], [n.Outputs[0]], Node.NoAttributes);
                        }
                    }
                }
            }
            else if (n.OpType == "Mul" && n.Inputs.Length == 2)
            {
                for (int side = 0; side < 2 && replacement is null; side++)
                {
                    string x = n.Inputs[1 - side];
                    // x · HardSigmoid(x, 1/6, ½) → HardSwish(x).
                    if (Single(e, n.Inputs[side]) is { OpType: "HardSigmoid" } hs && hs.Inputs[0] == x
                        && Near(hs.GetFloat("alpha", 0.2f), 1.0 / 6) && Near(hs.GetFloat("beta", 0.5f), 0.5))
                    {
                        removed.Add(hs);
                        replacement = new Node("HardSwish", n.Name, [x], [n.Outputs[0]], Node.NoAttributes);
                    }
                    // x · Tanh(Softplus(x)) → Mish(x) (as exporters write it before opset 18).
                    else if (Single(e, n.Inputs[side]) is { OpType: "Tanh" } th && Single(e, th.Inputs[0]) is { OpType: "Softplus" } sp && sp.Inputs[0] == x)
                    {
                        removed.Add(th);
                        removed.Add(sp);
                        replacement = new Node("Mish", n.Name, [x], [n.Outputs[0]], Node.NoAttributes);
                    }
                    // x · Sigmoid(x) → Swish(x) (SiLU as PyTorch exports it); x · Sigmoid(α·x) → Swish(x, α).
                    else if (Single(e, n.Inputs[side]) is { OpType: "Sigmoid" } sg && SwishAlpha(e, sg.Inputs[0], x, out float alpha, out Node? scaling))
                    {
                        removed.Add(sg);
                        if (scaling is not null)
                        {
                            removed.Add(scaling);
                        }
                        replacement = new Node("Swish", n.Name, [x], [n.Outputs[0]],
                            new Dictionary<string, AttributeValue> { ["alpha"] = AttributeValue.Of(alpha) });
                    }
                    // (x · (Erf(x/√2) + 1)) · ½ and (x · ½) · (Erf(x/√2) + 1) → Gelu(x).
                    else if (Scalar(e, n.Inputs[side]) is { } half && Near(half, 0.5) && Single(e, n.Inputs[1 - side]) is { OpType: "Mul" } inner)
                    {
                        for (int k = 0; k < 2 && replacement is null; k++)
                        {
                            var steps = new List<Node>();
                            if (ErfPlusOne(e, inner.Inputs[k], out string? xg, steps) && xg == inner.Inputs[1 - k])
                            {
                                removed.Add(inner);
                                removed.AddRange(steps);
                                replacement = new Node("Gelu", n.Name, [xg], [n.Outputs[0]], Node.NoAttributes);
                            }
                        }
                    }
                    else if (Single(e, n.Inputs[side]) is { OpType: "Mul" } halved && ErfPlusOne(e, n.Inputs[1 - side], out string? xe, removed))
                    {
                        int h = Array.FindIndex(halved.Inputs, i => Scalar(e, i) is { } v && Near(v, 0.5));
                        if (h >= 0 && halved.Inputs[1 - h] == xe)
                        {
                            removed.Add(halved);
                            replacement = new Node("Gelu", n.Name, [xe], [n.Outputs[0]], Node.NoAttributes);
                        }
                        else
                        {
                            removed.Clear();
                        }
                    }
                }
            }
            if (replacement is null)
            {
                continue;
            }
            foreach (Node r in removed)
            {
                g.Values.Remove(r.Outputs[0]);
                e.Remove(r);
            }
            e.Replace(n, replacement);
        }
    }

    /// <summary>For n = v / 6 or v · (1/6) (either side), v; else null.</summary>
    private static string? ScaleOfSixth(GraphEditor e, Node n)
    {
        if (n.OpType == "Div" && n.Inputs.Length == 2 && Scalar(e, n.Inputs[1]) is { } d && Near(d, 6))
        {
            return n.Inputs[0];
        }
        if (n.OpType == "Mul" && n.Inputs.Length == 2)
        {
            for (int side = 0; side < 2; side++)
            {
                if (Scalar(e, n.Inputs[side]) is { } m && Near(m, 1.0 / 6) && !e.IsConstant(n.Inputs[1 - side]))
                {
                    return n.Inputs[1 - side];
                }
            }
        }
        return null;
    }

    /// <summary>Whether <paramref name="value"/> = Clip(x + 3, 0, 6), each step read once; the steps go to <paramref name="steps"/>.</summary>
    private static bool ClipShifted(GraphEditor e, string value, out string? x, List<Node> steps)
    {
        x = null;
        if (Single(e, value) is not { OpType: "Clip" } clip || Single(e, clip.Inputs[0]) is not { OpType: "Add" } add)
        {
            return false;
        }
        ClipParams bounds = ActivationOp.Clip(clip, Const(e, clip, 1), Const(e, clip, 2));
        if (bounds.Min != 0f || bounds.Max != 6f)
        {
            return false;
        }
        int three = Array.FindIndex(add.Inputs, i => Scalar(e, i) is { } v && Near(v, 3));
        if (three < 0 || add.Inputs.Length != 2 || e.IsConstant(add.Inputs[1 - three]))
        {
            return false;
        }
        x = add.Inputs[1 - three];
        steps.Add(clip);
        steps.Add(add);
        return true;
    }

    /// <summary>Whether <paramref name="value"/> = Erf(x / √2) + 1 (or Erf(x · (1/√2)) + 1), each step read once.</summary>
    private static bool ErfPlusOne(GraphEditor e, string value, out string? x, List<Node> steps)
    {
        x = null;
        if (Single(e, value) is not { OpType: "Add" } add || add.Inputs.Length != 2)
        {
            return false;
        }
        int one = Array.FindIndex(add.Inputs, i => Scalar(e, i) is { } v && Near(v, 1));
        if (one < 0 || Single(e, add.Inputs[1 - one]) is not { OpType: "Erf" } erf || Single(e, erf.Inputs[0]) is not { } scale || scale.Inputs.Length != 2)
        {
            return false;
        }
        if (scale.OpType == "Div" && Scalar(e, scale.Inputs[1]) is { } d && Near(d, Math.Sqrt(2)))
        {
            x = scale.Inputs[0];
        }
        else if (scale.OpType == "Mul" && Array.FindIndex(scale.Inputs, i => Scalar(e, i) is { } m && Near(m, 1 / Math.Sqrt(2))) is int k and >= 0)
        {
            x = scale.Inputs[1 - k];
        }
        if (x is null || e.IsConstant(x))
        {
            x = null;
            return false;
        }
        steps.Add(add);
        steps.Add(erf);
        steps.Add(scale);
        return true;
    }

    /// <summary>The node producing <paramref name="value"/> when that is its only reader's business (one reader, not a graph output).</summary>
    private static Node? Single(GraphEditor e, string value) => e.HasSingleUse(value) ? e.Producer(value) : null;

    /// <summary>The value of a one-element constant, or null.</summary>
    private static float? Scalar(GraphEditor e, string value) => e.Constant(value) is { Shape.ElementCount: 1 } c ? c.Floats[0] : null;

    /// <summary>Equal up to float rounding of the constant (exporters write 1/6 and 1/√2 as floats).</summary>
    private static bool Near(float v, double target) => Math.Abs(v - target) <= 1e-6 * Math.Max(1, Math.Abs(target));

    /// <summary>
    /// A Conv whose output only feeds a Mul, Div, Add or Sub by a constant that is one value per output channel (shape
    /// [K,1,1] or [1,K,1,1]) or a scalar: the constant is folded into the weights and bias (in double, rounded once).
    /// </summary>
    private static void FoldChannelAffine(Graph g, GraphEditor e, CancellationToken cancellation)
    {
        foreach (Node n in e.Snapshot())
        {
            cancellation.ThrowIfCancellationRequested();
            if (!e.Contains(n) || n.OpType is not ("Mul" or "Div" or "Add" or "Sub") || n.Inputs.Length != 2)
            {
                continue;
            }
            for (int side = 0; side < 2; side++)
            {
                string y = n.Inputs[side];
                if (Single(e, y) is not { OpType: "Conv" } conv || !conv.HasInput(1) || e.Constant(conv.Inputs[1]) is not { } w
                    || e.Constant(n.Inputs[1 - side]) is not { Type: ElementType.Float32 } c
                    || (n.OpType is "Div" or "Sub" && side != 0) || PerChannel(c, w.Shape[0]) is not { } values)
                {
                    continue;
                }
                int k = w.Shape[0], per = w.Shape.ElementCount / k;
                float[] wf = w.Floats, newW = (float[])wf.Clone();
                float[] b = conv.HasInput(2) && e.Constant(conv.Inputs[2]) is { } bc ? bc.Floats : new float[k];
                var newB = new float[k];
                for (int kk = 0; kk < k; kk++)
                {
                    double v = values[kk];
                    switch (n.OpType)
                    {
                        case "Mul":
                        case "Div":
                            double s = n.OpType == "Mul" ? v : 1 / v;
                            for (int i = 0; i < per; i++)
                            {
                                newW[kk * per + i] = (float)(wf[kk * per + i] * s);
                            }
                            newB[kk] = (float)(b[kk] * s);
                            break;
                        default:
                            newB[kk] = (float)(b[kk] + (n.OpType == "Add" ? v : -v));
                            break;
                    }
                }
                string wName = Unique(g, conv.Inputs[1] + "_" + n.OpType.ToLowerInvariant()), bName = Unique(g, wName + "_bias");
                g.Constants[wName] = GraphConstant.Float32(w.Shape, newW);
                g.Constants[bName] = GraphConstant.Float32(TensorShape.Of(k), newB);
                g.Values.Remove(y);
                e.Remove(conv);
                e.Replace(n, Copy(conv, "Conv", [conv.Inputs[0], wName, bName], [n.Outputs[0]], conv.Attributes));
                break;
            }
        }
    }

    /// <summary>One value per output channel of a [N,K,P,Q] conv output, when <paramref name="c"/> broadcasts along K only (or is a scalar).</summary>
    private static double[]? PerChannel(GraphConstant c, int k)
    {
        float[] v = c.Floats;
        TensorShape s = c.Shape;
        if (v.Length == 1 && s.Rank <= 4)
        {
            return [.. Enumerable.Repeat((double)v[0], k)];
        }
        // [K,1,1] or [1,K,1,1]: K in the axis that lines up with the output's channels (the third from the end).
        bool perChannel = v.Length == k && s.Rank is 3 or 4 && s[^3] == k && s[^1] == 1 && s[^2] == 1 && (s.Rank == 3 || s[0] == 1);
        return perChannel ? [.. v.Select(x => (double)x)] : null;
    }

    /// <summary>An element-wise Add/Sub/Mul/Div whose only reader is an activation becomes one FusedBinary pass.</summary>
    private static void FuseBinaryActivation(Graph g, GraphEditor e, CancellationToken cancellation)
    {
        foreach (Node n in e.Snapshot())
        {
            cancellation.ThrowIfCancellationRequested();
            if (!e.Contains(n) || n.OpType is not ("Add" or "Sub" or "Mul" or "Div") || n.Inputs.Length != 2 || !e.HasSingleUse(n.Outputs[0])
                || e.Readers(n.Outputs[0])[0] is not { } act || act.Inputs[0] != n.Outputs[0]
                || ActivationOp.Of(act, Const(e, act, 1), Const(e, act, 2)) is not { } activation)
            {
                continue;
            }
            var attributes = new Dictionary<string, AttributeValue>(ConvOp.ActivationAttributes(activation)) { ["op"] = AttributeValue.Of(n.OpType) };
            g.Values.Remove(n.Outputs[0]);
            e.Remove(act);
            e.Replace(n, Copy(n, FastConvOps.FusedBinary, [.. n.Inputs], [act.Outputs[0]], attributes));
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
