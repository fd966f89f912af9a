using System.Collections.Frozen;
using FastConv.Backends;
using FastConv.Ops;

namespace FastConv.Graphs.Ops;

/// <summary>
/// What FastConv knows about one ONNX op type: which attribute values it handles, how it infers and validates
/// its output shapes, how many learnable parameters and FLOPs it has.
/// </summary>
public abstract class OpDefinition
{
    protected OpDefinition(string opType) => OpType = opType;

    public string OpType { get; }

    /// <summary>
    /// Whether FastConv runs this node, judged from its attributes (and its constant inputs when known); when not,
    /// <paramref name="problem"/> names the attribute or input at fault.
    /// </summary>
    public virtual bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        problem = null;
        return true;
    }

    /// <summary>Validates the node and returns the shape of each output (the node's declared outputs).</summary>
    public abstract TensorShape[] InferShapes(OpContext context);

    /// <summary>Learnable parameters the node holds as constant inputs (PyTorch's <c>parameters()</c>: weights and biases, BN γ and β).</summary>
    public virtual long Parameters(OpContext context) => 0;

    /// <summary>Floating-point operations (a multiply-add counts 2) for the given output shapes.</summary>
    public virtual long Flops(OpContext context, TensorShape[] outputs) => 0;
}

/// <summary>
/// The ops FastConv runs, by ONNX op type (plus FastConv's fused ops): every op of the reference list and what
/// exported CNNs commonly carry. <see cref="IsSupported(Node, out string?)"/> gives the reason for a node it
/// cannot run; <see cref="InferShapes"/> validates with errors naming the node.
/// </summary>
public static class OpRegistry
{
    private static readonly FrozenDictionary<string, OpDefinition> s_ops = Definitions().ToFrozenDictionary(d => d.OpType, StringComparer.Ordinal);

    /// <summary>Every op type with a definition.</summary>
    public static IReadOnlyCollection<string> OpTypes => s_ops.Keys;

    public static bool TryGet(string opType, out OpDefinition? definition) => s_ops.TryGetValue(opType, out definition);

    public static OpDefinition Get(Node node)
    {
        ArgumentNullException.ThrowIfNull(node);
        return s_ops.TryGetValue(node.OpType, out OpDefinition? d)
            ? d
            : throw new UnsupportedModelException([Problem(node, $"op type '{node.OpType}' is not supported")]);
    }

    /// <inheritdoc cref="IsSupported(Node, Graph?, out string?)"/>
    public static bool IsSupported(Node node, out string? problem) => IsSupported(node, null, out problem);

    /// <summary>
    /// Whether FastConv runs <paramref name="node"/>. When not, <paramref name="problem"/> is one line naming
    /// the node, its op type, opset and the attribute or input at fault, e.g.
    /// <c>Resize 'up1' (opset 13): attribute 'mode' = "cubic" is not supported (nearest, linear)</c>.
    /// Constant inputs are looked up in <paramref name="graph"/> when given.
    /// </summary>
    public static bool IsSupported(Node node, Graph? graph, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (!s_ops.TryGetValue(node.OpType, out OpDefinition? d))
        {
            problem = Problem(node, $"op type '{node.OpType}' is not supported");
            return false;
        }
        if (node.Domain is { Length: > 0 } domain && domain != "ai.onnx" && !node.OpType.StartsWith("FastConv.", StringComparison.Ordinal))
        {
            problem = Problem(node, $"domain '{domain}' is not supported (only the default ONNX domain)");
            return false;
        }
        try
        {
            if (d.IsSupported(node, name => graph is not null && graph.Constants.TryGetValue(name, out var c) ? c : null, out string? why))
            {
                problem = null;
                return true;
            }
            problem = Problem(node, why ?? "not supported");
            return false;
        }
        catch (FastConvException e)
        {
            problem = Problem(node, e.Message);
            return false;
        }
    }

    /// <summary>Every node of <paramref name="graph"/> FastConv cannot run, as one line each (empty when all are fine).</summary>
    public static IReadOnlyList<string> UnsupportedNodes(Graph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var problems = new List<string>();
        foreach (Node node in graph.Nodes)
        {
            if (!IsSupported(node, graph, out string? problem))
            {
                problems.Add(problem!);
            }
        }
        return problems;
    }

    /// <summary>Throws one <see cref="UnsupportedModelException"/> listing every unsupported node, or returns.</summary>
    public static void ThrowIfUnsupported(Graph graph)
    {
        IReadOnlyList<string> problems = UnsupportedNodes(graph);
        if (problems.Count > 0)
        {
            throw new UnsupportedModelException(problems);
        }
    }

    /// <summary>Validates the node and infers its output shapes; errors keep their type and start with the node's name.</summary>
    public static TensorShape[] InferShapes(OpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        Node node = context.Node;
        OpDefinition d = Get(node);
        TensorShape[] shapes;
        try
        {
            shapes = d.InferShapes(context);
        }
        catch (FastConvException e) when (e is not UnsupportedModelException && !e.Message.StartsWith(node.Describe(), StringComparison.Ordinal))
        {
            throw NodeError(node, e);
        }
        int declared = node.Outputs.Length;
        if (declared == 0)
        {
            throw new InvalidModelException($"{node.Describe()}: has no outputs.");
        }
        if (declared > shapes.Length)
        {
            // Optional outputs FastConv does not produce (MaxPool's Indices, Dropout's mask, BN's training stats).
            for (int i = shapes.Length; i < declared; i++)
            {
                if (node.Outputs[i].Length > 0)
                {
                    throw new UnsupportedModelException([Problem(node, $"output {i} ('{node.Outputs[i]}') is not produced by FastConv")]);
                }
            }
        }
        return shapes.Length > declared ? shapes[..declared] : shapes;
    }

    public static long Parameters(OpContext context) => Get(context.Node).Parameters(context);

    public static long Flops(OpContext context, TensorShape[] outputs) => Get(context.Node).Flops(context, outputs);

    internal static string Problem(Node node, string what)
    {
        string opset = node.Opset > 0 ? $" (opset {node.Opset})" : "";
        return $"{node.Describe()}{opset}: {what}";
    }

    private static FastConvException NodeError(Node node, FastConvException e)
    {
        string message = $"{node.Describe()}: {e.Message}";
        return e switch
        {
            InvalidShapeException => new InvalidShapeException(message),
            InvalidHyperparameterException => new InvalidHyperparameterException(message),
            _ => new InvalidModelException(message, e),
        };
    }

    private static IEnumerable<OpDefinition> Definitions()
    {
        yield return new ConvOp("Conv");
        yield return new ConvOp(OpAttributes.FusedConv);
        yield return new ConvTransposeOp();
        yield return new PoolOp("MaxPool");
        yield return new PoolOp("AveragePool");
        yield return new GlobalPoolOp("GlobalAveragePool");
        yield return new GlobalPoolOp("GlobalMaxPool");
        foreach (string op in (string[])["Relu", "Sigmoid", "Tanh", "HardSwish", "Sqrt", "Identity", "Dropout"])
        {
            yield return new ElementwiseOp(op);
        }
        yield return new ElementwiseOp("LeakyRelu", ("alpha", AttributeKind.Float));
        yield return new ElementwiseOp("HardSigmoid", ("alpha", AttributeKind.Float), ("beta", AttributeKind.Float));
        yield return new GeluOp();
        yield return new ClipOp();
        yield return new PReluOp();
        yield return new BatchNormOp();
        yield return new GemmOp();
        yield return new MatMulOp();
        yield return new SoftmaxOp();
        foreach (string op in (string[])["Add", "Sub", "Mul", "Div", "Pow"])
        {
            yield return new BinaryOp(op);
        }
        yield return new ConcatOp();
        yield return new FlattenOp();
        yield return new ReshapeOp();
        yield return new TransposeOp();
        yield return new PadOp();
        yield return new ResizeOp();
        yield return new ReduceMeanOp();
    }
}

internal static class Flop
{
    public static long Count(TensorShape s) => s.ElementCount;
    public static long Params(GraphConstant? c) => c?.Shape.ElementCount ?? 0;
}

internal sealed class ConvOp(string opType) : OpDefinition(opType)
{
    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        problem = null;
        long[]? k = node.GetInts("kernel_shape");
        if (k is not null && k.Length != 2)
        {
            problem = $"attribute 'kernel_shape' has {k.Length} values; only 2-D convolutions are supported";
        }
        else if (node.GetString("auto_pad", "NOTSET") is not ("NOTSET" or "VALID" or "SAME_UPPER" or "SAME_LOWER") and string a)
        {
            problem = $"attribute 'auto_pad' = \"{a}\" is not supported";
        }
        else if (node.HasInput(1) && constantOf(node.Inputs[1]) is null)
        {
            problem = "input 1 (W) must be a constant (weights computed at run time are not supported)";
        }
        else if (node.HasInput(2) && constantOf(node.Inputs[2]) is null)
        {
            problem = "input 2 (B) must be a constant";
        }
        if (problem is null && OpType == OpAttributes.FusedConv)
        {
            OpAttributes.FusedActivation(node);
        }
        return problem is null;
    }

    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape x = context.Shape(0, "X"), w = context.Shape(1, "W");
        Conv2dParams p = OpAttributes.Conv(context.Node, x, w);
        var s = Conv2dShape.From(x, w, p, context.Has(2) ? context.Shape(2, "B") : null);
        if (OpType == OpAttributes.FusedConv)
        {
            OpAttributes.FusedActivation(context.Node);
            if (context.Has(3) && context.Shape(3, "residual") != s.OutputShape)
            {
                throw new InvalidShapeException($"residual {context.Shape(3, "residual")} must have the output's shape {s.OutputShape}; {s}.");
            }
        }
        return [s.OutputShape];
    }

    public override long Parameters(OpContext context) => Flop.Params(context.Constant(1)) + Flop.Params(context.Constant(2));

    public override long Flops(OpContext context, TensorShape[] outputs)
    {
        TensorShape w = context.Shape(1, "W");
        return 2L * outputs[0].ElementCount * w[1] * w[2] * w[3];
    }
}

internal sealed class ConvTransposeOp() : OpDefinition("ConvTranspose")
{
    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        problem = node.GetInts("kernel_shape") is { Length: not 2 } k ? $"attribute 'kernel_shape' has {k.Length} values; only 2-D is supported"
            : node.GetInts("output_shape") is { Length: > 0 } ? "attribute 'output_shape' is not supported (export explicit pads instead)"
            : node.HasInput(1) && constantOf(node.Inputs[1]) is null ? "input 1 (W) must be a constant"
            : node.HasInput(2) && constantOf(node.Inputs[2]) is null ? "input 2 (B) must be a constant"
            : null;
        return problem is null;
    }

    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape x = context.Shape(0, "X"), w = context.Shape(1, "W");
        var s = ConvTranspose2dShape.From(x, w, OpAttributes.ConvTranspose(context.Node, x, w), context.Has(2) ? context.Shape(2, "B") : null);
        return [s.OutputShape];
    }

    public override long Parameters(OpContext context) => Flop.Params(context.Constant(1)) + Flop.Params(context.Constant(2));

    public override long Flops(OpContext context, TensorShape[] outputs)
    {
        TensorShape x = context.Shape(0, "X"), w = context.Shape(1, "W");
        return 2L * x.ElementCount * w[1] * w[2] * w[3];
    }
}

internal sealed class PoolOp(string opType) : OpDefinition(opType)
{
    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        problem = node.GetInts("kernel_shape") is not { Length: 2 } ? "attribute 'kernel_shape' must have 2 values (2-D pooling)"
            : node.GetInt("storage_order", 0) != 0 ? "attribute 'storage_order' = 1 is not supported"
            : node.Outputs.Length > 1 && node.Outputs[1].Length > 0 ? "output 1 (Indices) is not supported"
            : null;
        return problem is null;
    }

    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape x = context.Shape(0, "X");
        return [Pool2dShape.From(x, OpAttributes.Pool(context.Node, x), OpType).OutputShape];
    }

    public override long Flops(OpContext context, TensorShape[] outputs)
    {
        long[] k = context.Node.GetInts("kernel_shape") ?? [1, 1];
        return outputs[0].ElementCount * k.Aggregate(1L, (a, b) => a * b);
    }
}

internal sealed class GlobalPoolOp(string opType) : OpDefinition(opType)
{
    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape x = context.Shape(0, "X");
        x.RequireRank(4, "input X", OpType);
        return [TensorShape.Of(x[0], x[1], 1, 1)];
    }

    public override long Flops(OpContext context, TensorShape[] outputs) => context.Shape(0, "X").ElementCount;
}

internal sealed class ElementwiseOp(string opType, params (string Name, AttributeKind Kind)[] attributes) : OpDefinition(opType)
{
    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        problem = null;
        foreach (var (name, kind) in attributes)
        {
            if (node.Attributes.TryGetValue(name, out AttributeValue? v) && v.Kind != kind && !(kind == AttributeKind.Float && v.Kind == AttributeKind.Int))
            {
                problem = $"attribute '{name}' is {v.Kind}, expected {kind}";
            }
        }
        if (OpType == "Dropout" && node.HasInput(2))
        {
            // training_mode: only inference (false) is supported.
            GraphConstant? t = constantOf(node.Inputs[2]);
            if (t is null || t.Floats.Any(v => v != 0f))
            {
                problem = "input 2 (training_mode) must be a constant false; training is not supported";
            }
        }
        if (OpType == "Dropout" && node.Opset is > 0 and < 7 && node.GetInt("is_test", 0) == 0)
        {
            problem = "attribute 'is_test' = 0 (training) is not supported";
        }
        return problem is null;
    }

    public override TensorShape[] InferShapes(OpContext context) => [context.Shape(0, "X")];

    public override long Flops(OpContext context, TensorShape[] outputs) =>
        OpType is "Identity" or "Dropout" ? 0 : Flop.Count(outputs[0]);
}

internal sealed class GeluOp() : OpDefinition("Gelu")
{
    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        string a = node.GetString("approximate", "none");
        problem = a is "none" or "tanh" ? null : $"attribute 'approximate' = \"{a}\" is not supported (none, tanh)";
        return problem is null;
    }

    public override TensorShape[] InferShapes(OpContext context) => [context.Shape(0, "X")];

    public override long Flops(OpContext context, TensorShape[] outputs) => Flop.Count(outputs[0]);
}

internal sealed class ClipOp() : OpDefinition("Clip")
{
    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        problem = node.HasInput(1) && constantOf(node.Inputs[1]) is null ? "input 1 (min) must be a constant"
            : node.HasInput(2) && constantOf(node.Inputs[2]) is null ? "input 2 (max) must be a constant"
            : null;
        return problem is null;
    }

    public override TensorShape[] InferShapes(OpContext context)
    {
        OpAttributes.Clip(context.Node, context.Constant(1), context.Constant(2));
        return [context.Shape(0, "X")];
    }

    public override long Flops(OpContext context, TensorShape[] outputs) => Flop.Count(outputs[0]);
}

internal sealed class PReluOp() : OpDefinition("PRelu")
{
    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape x = context.Shape(0, "X");
        Broadcast.RequireUnidirectional(context.Shape(1, "slope"), x, "slope", "PRelu");
        return [x];
    }

    public override long Parameters(OpContext context) => Flop.Params(context.Constant(1));

    public override long Flops(OpContext context, TensorShape[] outputs) => Flop.Count(outputs[0]);
}

internal sealed class BatchNormOp() : OpDefinition("BatchNormalization")
{
    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        problem = node.GetInt("training_mode", 0) != 0 ? "attribute 'training_mode' = 1 is not supported (inference only)"
            : node.Opset is > 0 and < 9 && node.GetInt("spatial", 1) != 1 ? "attribute 'spatial' = 0 is not supported"
            : node.Outputs.Skip(1).Any(o => o.Length > 0) ? "training outputs (running mean/var) are not supported"
            : Enumerable.Range(1, 4).Any(i => !node.HasInput(i) || constantOf(node.Inputs[i]) is null) ? "inputs 1-4 (scale, B, mean, var) must be constants"
            : null;
        return problem is null;
    }

    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape x = context.Shape(0, "X");
        if (x.Rank < 2)
        {
            throw new InvalidShapeException($"input must have rank >= 2 (N, C, ...), got {x}.");
        }
        string[] names = ["scale", "B", "mean", "var"];
        for (int i = 1; i <= 4; i++)
        {
            TensorShape s = context.Shape(i, names[i - 1]);
            if (s.Rank != 1 || s[0] != x[1])
            {
                throw new InvalidShapeException($"{names[i - 1]} has shape {s}, expected [{x[1]}] (one per channel of input {x}).");
            }
        }
        return [x];
    }

    public override long Parameters(OpContext context) => Flop.Params(context.Constant(1)) + Flop.Params(context.Constant(2));

    public override long Flops(OpContext context, TensorShape[] outputs) => 2 * Flop.Count(outputs[0]);
}

internal sealed class GemmOp() : OpDefinition("Gemm")
{
    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        problem = node.HasInput(1) && constantOf(node.Inputs[1]) is null ? "input 1 (B) must be a constant (a fully-connected layer's weights)"
            : node.HasInput(2) && constantOf(node.Inputs[2]) is null ? "input 2 (C) must be a constant"
            : null;
        return problem is null;
    }

    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape a = context.Shape(0, "A"), b = context.Shape(1, "B");
        TensorShape y = OpAttributes.Gemm(context.Node).OutputShape(a, b);
        if (context.Has(2))
        {
            Broadcast.RequireUnidirectional(context.Shape(2, "C"), y, "C", "Gemm");
        }
        return [y];
    }

    public override long Parameters(OpContext context) => Flop.Params(context.Constant(1)) + Flop.Params(context.Constant(2));

    public override long Flops(OpContext context, TensorShape[] outputs)
    {
        TensorShape a = context.Shape(0, "A");
        int k = OpAttributes.Gemm(context.Node).TransA ? a[0] : a[1];
        return 2L * outputs[0].ElementCount * k;
    }
}

internal sealed class MatMulOp() : OpDefinition("MatMul")
{
    public static TensorShape OutputShape(TensorShape a, TensorShape b)
    {
        if (a.Rank == 0 || b.Rank == 0)
        {
            throw new InvalidShapeException($"operands must have rank >= 1, got A {a} and B {b}.");
        }
        TensorShape a2 = a.Rank == 1 ? TensorShape.Of(1, a[0]) : a;
        TensorShape b2 = b.Rank == 1 ? TensorShape.Of(b[0], 1) : b;
        if (a2[^1] != b2[^2])
        {
            throw new InvalidShapeException($"inner dimensions differ: A {a} has K={a2[^1]}, B {b} has K={b2[^2]}.");
        }
        TensorShape batch = Broadcast.BroadcastShape(new TensorShape(a2.Dims[..^2]), new TensorShape(b2.Dims[..^2]), "MatMul");
        var dims = new List<int>(batch.Dims.ToArray());
        if (a.Rank != 1)
        {
            dims.Add(a2[^2]);
        }
        if (b.Rank != 1)
        {
            dims.Add(b2[^1]);
        }
        return new TensorShape([.. dims]);
    }

    public override TensorShape[] InferShapes(OpContext context) => [OutputShape(context.Shape(0, "A"), context.Shape(1, "B"))];

    public override long Parameters(OpContext context) => Flop.Params(context.Constant(1));

    public override long Flops(OpContext context, TensorShape[] outputs) => 2L * outputs[0].ElementCount * context.Shape(0, "A")[^1];
}

internal sealed class SoftmaxOp() : OpDefinition("Softmax")
{
    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape x = context.Shape(0, "input");
        x.NormalizeAxis(OpAttributes.SoftmaxAxis(context.Node), "Softmax");
        return [x];
    }

    public override long Flops(OpContext context, TensorShape[] outputs) => 3 * Flop.Count(outputs[0]);
}

internal sealed class BinaryOp(string opType) : OpDefinition(opType)
{
    public override TensorShape[] InferShapes(OpContext context) =>
        [Broadcast.BroadcastShape(context.Shape(0, "A"), context.Shape(1, "B"), OpType)];

    public override long Flops(OpContext context, TensorShape[] outputs) => Flop.Count(outputs[0]);
}

internal sealed class ConcatOp() : OpDefinition("Concat")
{
    public override TensorShape[] InferShapes(OpContext context)
    {
        if (!context.Node.Attributes.ContainsKey("axis"))
        {
            throw new InvalidModelException("attribute 'axis' is required.");
        }
        int axis = OpAttributes.Int(context.Node, "axis", 0);
        var shapes = new List<TensorShape>();
        for (int i = 0; i < context.Node.Inputs.Length; i++)
        {
            if (context.Has(i))
            {
                shapes.Add(context.Shape(i, "input"));
            }
        }
        if (shapes.Count == 0)
        {
            throw new InvalidShapeException("needs at least one input.");
        }
        TensorShape first = shapes[0];
        int a = first.NormalizeAxis(axis, "Concat");
        var dims = first.Dims.ToArray();
        dims[a] = 0;
        long sum = 0;
        foreach (TensorShape s in shapes)
        {
            if (s.Rank != first.Rank || Enumerable.Range(0, s.Rank).Any(d => d != a && s[d] != first[d]))
            {
                throw new InvalidShapeException($"input shapes {string.Join(" ", shapes)} differ on an axis other than the concat axis {axis}.");
            }
            sum += s[a];
        }
        dims[a] = sum > int.MaxValue ? throw new InvalidShapeException($"concatenated extent {sum} is too large.") : (int)sum;
        return [new TensorShape(dims)];
    }
}

internal sealed class FlattenOp() : OpDefinition("Flatten")
{
    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape x = context.Shape(0, "input");
        int axis = OpAttributes.Int(context.Node, "axis", 1);
        int a = axis < 0 ? axis + x.Rank : axis;
        if (a < 0 || a > x.Rank)
        {
            throw new InvalidHyperparameterException($"axis {axis} is outside [-{x.Rank}, {x.Rank}] for input {x}.");
        }
        long outer = 1, inner = 1;
        for (int d = 0; d < x.Rank; d++)
        {
            if (d < a)
            {
                outer *= x[d];
            }
            else
            {
                inner *= x[d];
            }
            if (outer > int.MaxValue || inner > int.MaxValue)
            {
                throw new InvalidShapeException($"flattening input {x} at axis {axis} gives a dimension above {int.MaxValue}.");
            }
        }
        return [TensorShape.Of((int)outer, (int)inner)];
    }
}

internal sealed class ReshapeOp() : OpDefinition("Reshape")
{
    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        problem = node.GetInt("allowzero", 0) != 0 && node.HasInput(1) && constantOf(node.Inputs[1]) is { } c && c.Int64s.Contains(0)
            ? "attribute 'allowzero' = 1 with a 0 in the shape is not supported"
            : node.HasInput(1) && constantOf(node.Inputs[1]) is null ? "input 1 (shape) must be a constant (fold shape arithmetic at load)"
            : null;
        return problem is null;
    }

    public override TensorShape[] InferShapes(OpContext context) =>
        [OutputSize.Reshape(context.Shape(0, "data"), context.RequireConstant(1, "shape").Int64s)];
}

internal sealed class TransposeOp() : OpDefinition("Transpose")
{
    public static int[] Perm(Node node, TensorShape x)
    {
        long[]? perm = node.GetInts("perm");
        if (perm is null || perm.Length == 0)
        {
            return [.. Enumerable.Range(0, x.Rank).Reverse()];
        }
        if (perm.Length != x.Rank || perm.Any(p => p < 0 || p >= x.Rank) || perm.Distinct().Count() != perm.Length)
        {
            throw new InvalidHyperparameterException($"perm [{string.Join(",", perm)}] is not a permutation of the axes of input {x}.");
        }
        return [.. perm.Select(p => (int)p)];
    }

    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape x = context.Shape(0, "data");
        int[] p = Perm(context.Node, x);
        return [new TensorShape([.. p.Select(a => x[a])])];
    }
}

internal sealed class PadOp() : OpDefinition("Pad")
{
    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        string mode = node.GetString("mode", "constant");
        problem = mode is not ("constant" or "reflect" or "edge") ? $"attribute 'mode' = \"{mode}\" is not supported (constant, reflect, edge)"
            : Enumerable.Range(1, 3).FirstOrDefault(i => node.HasInput(i) && constantOf(node.Inputs[i]) is null) is int i and > 0 ? $"input {i} must be a constant"
            : null;
        return problem is null;
    }

    public static PadParams Params(OpContext context) =>
        OpAttributes.Pad(context.Node, context.Shape(0, "data"), context.Constant(1), context.Constant(2), context.Constant(3));

    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape x = context.Shape(0, "data");
        PadParams p = Params(context);
        var dims = new int[x.Rank];
        for (int d = 0; d < x.Rank; d++)
        {
            long size = (long)x[d] + p.Begin(d) + p.End(d);
            if (size < 0 || size > int.MaxValue)
            {
                throw new InvalidHyperparameterException($"pads on axis {d} give extent {size}; input {x}, {p}.");
            }
            if (p.Mode == PadMode.Reflect && (p.Begin(d) >= x[d] && p.Begin(d) > 0 || p.End(d) >= x[d] && p.End(d) > 0))
            {
                throw new InvalidHyperparameterException($"reflect pads on axis {d} must be smaller than the extent {x[d]}; input {x}, {p}.");
            }
            dims[d] = (int)size;
        }
        return [new TensorShape(dims)];
    }
}

internal sealed class ResizeOp() : OpDefinition("Resize")
{
    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        string mode = node.GetString("mode", "nearest");
        string ct = node.GetString("coordinate_transformation_mode", "half_pixel");
        string nm = node.GetString("nearest_mode", "round_prefer_floor");
        problem = mode is not ("nearest" or "linear" or "bilinear") ? $"attribute 'mode' = \"{mode}\" is not supported (nearest, linear)"
            : ct is not ("half_pixel" or "pytorch_half_pixel" or "align_corners" or "asymmetric" or "tf_half_pixel_for_nn") ? $"attribute 'coordinate_transformation_mode' = \"{ct}\" is not supported"
            : nm is not ("round_prefer_floor" or "round_prefer_ceil" or "floor" or "ceil") ? $"attribute 'nearest_mode' = \"{nm}\" is not supported"
            : node.GetInt("exclude_outside", 0) != 0 ? "attribute 'exclude_outside' = 1 is not supported"
            : node.GetInt("antialias", 0) != 0 ? "attribute 'antialias' = 1 is not supported"
            : node.GetInts("axes") is { Length: > 0 } ? "attribute 'axes' is not supported"
            : node.GetString("keep_aspect_ratio_policy", "stretch") != "stretch" ? "attribute 'keep_aspect_ratio_policy' is not supported (stretch only)"
            : Enumerable.Range(1, 3).FirstOrDefault(i => node.HasInput(i) && constantOf(node.Inputs[i]) is null) is int i and > 0 ? $"input {i} must be a constant"
            : null;
        return problem is null;
    }

    /// <summary>Input indices of scales and sizes: opset 10 has (X, scales); 11+ has (X, roi, scales, sizes).</summary>
    public static ResizeParams Params(OpContext context)
    {
        bool v10 = context.Node.Opset is > 0 and < 11;
        return OpAttributes.Resize(context.Node, context.Shape(0, "X"), context.Constant(v10 ? 1 : 2), v10 ? null : context.Constant(3));
    }

    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape x = context.Shape(0, "X");
        x.RequireRank(4, "input X", "Resize");
        ResizeParams p = Params(context);
        if (p.Sizes is { } sizes)
        {
            if (sizes[0] != x[0] || sizes[1] != x[1])
            {
                throw new InvalidHyperparameterException($"only H and W are resized; sizes [{string.Join(",", sizes)}] change N or C of input {x}.");
            }
            return [TensorShape.Of(sizes[0], sizes[1], sizes[2], sizes[3])];
        }
        IReadOnlyList<float> s = p.Scales!;
        if (s[0] != 1f || s[1] != 1f || !(s[2] > 0f) || !(s[3] > 0f) || !float.IsFinite(s[2]) || !float.IsFinite(s[3]) || s[2] * x[2] >= int.MaxValue || s[3] * x[3] >= int.MaxValue)
        {
            throw new InvalidHyperparameterException($"scales [{string.Join(",", s)}] must be 1 on N and C and positive, finite and not too large on H and W; input {x}.");
        }
        return [TensorShape.Of(x[0], x[1], OutputSize.Resize(x[2], s[2]), OutputSize.Resize(x[3], s[3]))];
    }

    public override long Flops(OpContext context, TensorShape[] outputs) => Flop.Count(outputs[0]);
}

internal sealed class ReduceMeanOp() : OpDefinition("ReduceMean")
{
    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        problem = node.HasInput(1) && constantOf(node.Inputs[1]) is null ? "input 1 (axes) must be a constant" : null;
        return problem is null;
    }

    public static TensorShape OutputShape(TensorShape x, int[] axes, bool keepDims)
    {
        var dims = new List<int>();
        for (int d = 0; d < x.Rank; d++)
        {
            if (Array.IndexOf(axes, d) < 0)
            {
                dims.Add(x[d]);
            }
            else if (keepDims)
            {
                dims.Add(1);
            }
        }
        return new TensorShape([.. dims]);
    }

    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape x = context.Shape(0, "data");
        int[] axes = OpAttributes.ReduceAxes(context.Node, x, context.Constant(1));
        return [OutputShape(x, axes, context.Node.GetInt("keepdims", 1) != 0)];
    }

    public override long Flops(OpContext context, TensorShape[] outputs) => context.Shape(0, "data").ElementCount;
}
