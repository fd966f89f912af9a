using FastConv.Compilation;
using FastConv.Graphs;

namespace FastConv.Onnx;

/// <summary>
/// Rewrites the forms older opsets use into the latest one, so every later stage reads a single form:
/// <list type="bullet">
/// <item>Clip &lt; 11: <c>min</c>/<c>max</c> attributes → scalar inputs 1 and 2;</item>
/// <item>Squeeze/Unsqueeze &lt; 13, ReduceSum &lt; 13, other Reduce* &lt; 18: <c>axes</c> attribute → int64 input 1;</item>
/// <item>Split &lt; 13: <c>split</c> attribute → input 1; Slice &lt; 10: <c>starts</c>/<c>ends</c>/<c>axes</c> → inputs 1–3;
/// Pad &lt; 11: <c>pads</c>/<c>value</c> → inputs 1–2;</item>
/// <item>Upsample (7–9) and Resize-10 → Resize with inputs (X, "", scales), <c>coordinate_transformation_mode</c>
/// asymmetric and the rounding ONNX Runtime gives those versions (floor when enlarging, ceil when shrinking);</item>
/// <item>BatchNormalization &lt; 9: <c>spatial</c> = 1 is the only form (spatial = 0 is reported unsupported);</item>
/// <item>after shapes are known, Softmax/LogSoftmax/Hardmax &lt; 13 (which act on the input coerced to 2-D at
/// <c>axis</c>): axis = last stays one node with axis −1; any other axis becomes Reshape → op(axis −1) → Reshape.</item>
/// </list>
/// A rewritten node's <see cref="Node.Opset"/> becomes the first opset of the form it now carries (Clip 11, Squeeze 13,
/// ReduceMean 18, Resize 11, Softmax 13, …), so stages that read opset-dependent defaults read the right ones;
/// untouched nodes keep the model's opset.
/// </summary>
internal static class OpsetNormalizer
{
    private static readonly HashSet<string> ReduceOps = new(StringComparer.Ordinal)
    {
        "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare",
    };

    public static void Normalize(Graph graph, int opset, NameScope names, List<string> problems)
    {
        for (int i = 0; i < graph.Nodes.Count; i++)
        {
            var n = graph.Nodes[i];
            Node? replacement = n.OpType switch
            {
                "Clip" when opset < 11 => AttributesToInputs(graph, names, n, 11, [("min", Float: true, Scalar: true), ("max", true, true)]),
                "Squeeze" or "Unsqueeze" when opset < 13 => AttributesToInputs(graph, names, n, 13, [("axes", false, false)]),
                "ReduceSum" when opset < 13 => AttributesToInputs(graph, names, n, 13, [("axes", false, false)]),
                _ when ReduceOps.Contains(n.OpType) && opset < 18 => AttributesToInputs(graph, names, n, 18, [("axes", false, false)]),
                "Split" when opset < 13 => AttributesToInputs(graph, names, n, 13, [("split", false, false)]),
                "Slice" when opset < 10 => AttributesToInputs(graph, names, n, 10, [("starts", false, false), ("ends", false, false), ("axes", false, false)]),
                "Pad" when opset < 11 => AttributesToInputs(graph, names, n, 11, [("pads", false, false), ("value", true, true)]),
                "Upsample" => OldResize(graph, names, n, opset, problems),
                "Resize" when opset < 11 => OldResize(graph, names, n, opset, problems),
                "BatchNormalization" when opset < 9 => OldBatchNorm(n, opset, problems),
                _ => null,
            };
            if (replacement is not null) graph.Nodes[i] = replacement;
        }
    }

    /// <summary>Moves attributes into trailing inputs (in the order given), as the latest opset takes them.</summary>
    private static Node AttributesToInputs(Graph graph, NameScope names, Node n, int formOpset, (string Name, bool Float, bool Scalar)[] moves)
    {
        var attrs = new Dictionary<string, AttributeValue>(n.Attributes.Count, StringComparer.Ordinal);
        foreach (var (k, v) in n.Attributes) attrs[k] = v;
        var inputs = new List<string> { n.Inputs.Length > 0 ? n.Inputs[0] : "" };
        foreach (var (name, isFloat, scalar) in moves)
        {
            if (!attrs.Remove(name, out var v))
            {
                inputs.Add("");
                continue;
            }
            string c = names.Fresh($"{(n.Name.Length > 0 ? n.Name : n.OpType)}_{name}");
            GraphConstant value = isFloat
                ? (scalar ? GraphConstant.Float32(TensorShape.Of(), [v.AsFloat(n, name)]) : GraphConstant.Float32(TensorShape.Of(v.AsFloats(n, name).Length), v.AsFloats(n, name)))
                : GraphConstant.Int64(TensorShape.Of(v.AsInts(n, name).Length), v.AsInts(n, name));
            graph.AddConstant(c, value);
            inputs.Add(c);
        }
        while (inputs.Count > 1 && inputs[^1].Length == 0) inputs.RemoveAt(inputs.Count - 1);
        return new Node(n.OpType, n.Name, [.. inputs], n.Outputs, attrs) { Opset = formOpset };
    }

    /// <summary>Upsample-7/9 and Resize-10: scales as attribute (Upsample-7) or input 1 → Resize (X, "", scales).</summary>
    private static Node OldResize(Graph graph, NameScope names, Node n, int opset, List<string> problems)
    {
        string mode = n.GetString("mode", "nearest");
        if (mode == "bilinear") mode = "linear"; // Upsample-7's spelling
        string scales;
        if (n.Attributes.ContainsKey("scales"))
        {
            float[] s = n.GetFloats("scales") ?? [];
            scales = names.Fresh($"{(n.Name.Length > 0 ? n.Name : n.OpType)}_scales");
            graph.AddConstant(scales, GraphConstant.Float32(TensorShape.Of(s.Length), s));
        }
        else if (n.HasInput(1))
        {
            scales = n.Inputs[1];
        }
        else
        {
            problems.Add($"{n.Describe()} (opset {opset}): no scales (neither attribute nor input)");
            return n;
        }
        var attrs = new Dictionary<string, AttributeValue>(StringComparer.Ordinal)
        {
            ["mode"] = AttributeValue.Of(mode),
            ["coordinate_transformation_mode"] = AttributeValue.Of("asymmetric"),
            ["nearest_mode"] = AttributeValue.Of("floor"), // settled after folding, when the scales are known
            [OldResizeMarker] = AttributeValue.Of(1L),
        };
        return new Node("Resize", n.Name, [n.Inputs[0], "", scales], n.Outputs, attrs) { Opset = ResizeFormOpset };
    }

    /// <summary>The opset whose Resize form (X, roi, scales, sizes; explicit coordinate rules) rewritten nodes carry.</summary>
    private const int ResizeFormOpset = 11;

    /// <summary>Marks a Resize rewritten from Upsample/Resize-10 until its rounding is settled (removed then).</summary>
    internal const string OldResizeMarker = "fastconv.old_resize";

    private static Node? OldBatchNorm(Node n, int opset, List<string> problems)
    {
        if (!n.Attributes.ContainsKey("spatial")) return null;
        if (n.GetInt("spatial", 1) != 1)
        {
            problems.Add($"{n.Describe()} (opset {opset}): attribute 'spatial' = 0 (per-activation statistics) is not supported");
            return null;
        }
        var attrs = n.Attributes.Where(kv => kv.Key != "spatial").ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        return new Node(n.OpType, n.Name, n.Inputs, n.Outputs, attrs) { Opset = n.Opset };
    }

    /// <summary>The rewrites that need shapes or folded constants (see the class comment).</summary>
    public static void NormalizeAfterShapes(Graph graph, IReadOnlyDictionary<string, TensorShape> shapes, NameScope names, List<string> problems)
    {
        for (int i = 0; i < graph.Nodes.Count; i++)
        {
            var n = graph.Nodes[i];
            if (n.OpType == "Resize" && n.Attributes.ContainsKey(OldResizeMarker))
            {
                graph.Nodes[i] = SettleOldResize(graph, n, n.Opset, problems);
                continue;
            }
            if (n.Opset is 0 or >= 13 || n.OpType is not ("Softmax" or "LogSoftmax" or "Hardmax")) continue;
            // No input at all is left for the op checks to report (the fuzz run found an IndexOutOfRange here).
            if (n.Inputs.Length == 0 || !shapes.TryGetValue(n.Inputs[0], out var x)) continue;
            int axis = (int)n.GetInt("axis", 1);
            int a = x.NormalizeAxis(axis, n.Describe());
            var attrs = n.Attributes.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
            attrs["axis"] = AttributeValue.Of(-1L);
            if (a == x.Rank - 1)
            {
                graph.Nodes[i] = new Node(n.OpType, n.Name, n.Inputs, n.Outputs, attrs) { Opset = SoftmaxFormOpset };
                continue;
            }
            long outer = 1, inner = 1;
            for (int d = 0; d < x.Rank; d++)
            {
                if (d < a) outer *= x[d];
                else inner *= x[d];
            }
            string hint = n.Name.Length > 0 ? n.Name : n.OpType;
            string shape2d = names.Fresh(hint + "_shape2d"), shapeBack = names.Fresh(hint + "_shape"), flat = names.Fresh(hint + "_2d"), soft = names.Fresh(hint + "_out2d");
            graph.AddConstant(shape2d, GraphConstant.Int64(TensorShape.Of(2), [outer, inner]));
            graph.AddConstant(shapeBack, GraphConstant.Int64(TensorShape.Of(x.Rank), [.. x.Select(d => (long)d)]));
            var before = new Node("Reshape", hint + "_to2d", [n.Inputs[0], shape2d], [flat], Node.NoAttributes) { Opset = n.Opset };
            var op = new Node(n.OpType, n.Name, [flat], [soft], attrs) { Opset = SoftmaxFormOpset };
            var after = new Node("Reshape", hint + "_back", [soft, shapeBack], n.Outputs, Node.NoAttributes) { Opset = n.Opset };
            graph.Nodes[i] = before;
            graph.Nodes.Insert(i + 1, op);
            graph.Nodes.Insert(i + 2, after);
            i += 2;
        }
    }

    /// <summary>From opset 13 Softmax acts on one axis; rewritten nodes carry that form (and an explicit axis −1).</summary>
    private const int SoftmaxFormOpset = 13;

    /// <summary>ONNX Runtime rounds the old nearest Resize down when enlarging an axis and up when shrinking it.</summary>
    private static Node SettleOldResize(Graph graph, Node n, int opset, List<string> problems)
    {
        var attrs = n.Attributes.Where(kv => kv.Key != OldResizeMarker).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        if (n.GetString("mode", "nearest") == "nearest")
        {
            if (!graph.Constants.TryGetValue(n.Inputs[2], out var scales))
            {
                problems.Add($"{n.Describe()} (opset {opset}): scales are not constant");
            }
            else
            {
                float[] s = scales.Floats;
                bool down = s.Any(v => v < 1f), up = s.Any(v => v > 1f);
                if (down && up)
                    problems.Add($"{n.Describe()} (opset {opset}): nearest Upsample/Resize-10 enlarging some axes and shrinking others (scales [{string.Join(",", s)}]) is not supported");
                if (down && !up) attrs["nearest_mode"] = AttributeValue.Of("ceil");
            }
        }
        return new Node("Resize", n.Name, n.Inputs, n.Outputs, attrs) { Opset = ResizeFormOpset };
    }
}
