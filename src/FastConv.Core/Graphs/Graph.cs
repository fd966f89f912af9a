using System.Collections.ObjectModel;
using FastConv.Backends;

namespace FastConv.Graphs;

/// <summary>
/// The one model representation every front end produces and every later stage consumes:
/// <c>Network</c> builder, ONNX import and <c>builtin:NAME</c> → <see cref="Graph"/> → optimizer → planner → session.
/// Ops are named as ONNX names them (<c>Conv</c>, <c>MaxPool</c>, <c>Gemm</c>, <c>Add</c>, …), with ONNX's attribute
/// names and input order, so the importer maps nodes one to one and nothing is translated twice; FastConv's own
/// fused ops (after optimization) use the <c>FastConv.</c> prefix. Values are named; a value is a graph input,
/// a constant, or the output of exactly one node.
/// </summary>
public sealed class Graph
{
    private readonly List<Node> _nodes = [];
    private readonly Dictionary<string, GraphConstant> _constants = new(StringComparer.Ordinal);
    private readonly List<GraphValue> _inputs = [];
    private readonly List<string> _outputs = [];
    private readonly Dictionary<string, ValueInfo> _values = new(StringComparer.Ordinal);
    private readonly List<PassRecord> _passes = [];

    public Graph(string name = "graph") => Name = name;

    public string Name { get; set; }

    /// <summary>Nodes; in execution (topological) order once the graph has been validated and sorted.</summary>
    public IList<Node> Nodes => _nodes;

    /// <summary>Constant values by name: weights, biases, folded shape arithmetic.</summary>
    public IDictionary<string, GraphConstant> Constants => _constants;

    /// <summary>The values the caller supplies at run time, with their (fixed) shapes.</summary>
    public IList<GraphValue> Inputs => _inputs;

    /// <summary>The names of the values a run returns.</summary>
    public IList<string> Outputs => _outputs;

    /// <summary>
    /// What is known of each run-time value (graph inputs and node outputs): shape and element type from the infer
    /// pass, memory space from the place pass, layout from the layout pass. Shapes are inferred once and kept: a
    /// pass that adds a node adds its outputs here; nothing infers them again.
    /// </summary>
    public IDictionary<string, ValueInfo> Values => _values;

    /// <summary>The passes that have run over this graph, in order, each with the node count it left.</summary>
    public IList<PassRecord> Passes => _passes;

    /// <summary>
    /// For a model with dynamic input dimensions: the graph as imported, before shapes were inferred and shape
    /// sub-graphs folded for this graph's input sizes, so a session can infer it again for other sizes
    /// (<see cref="Compilation.InferPass.Bind"/>). Null for a graph whose inputs are all fixed.
    /// </summary>
    public Graph? Generic { get; set; }

    /// <summary>Whether some graph input has a dynamic dimension.</summary>
    public bool IsDynamic => _inputs.Any(i => i.IsDynamic);

    /// <summary>The shape of a value or constant; throws <see cref="InvalidModelException"/> when it is unknown.</summary>
    public TensorShape ShapeOf(string name) =>
        _values.TryGetValue(name, out ValueInfo? v) ? v.Shape
        : _constants.TryGetValue(name, out GraphConstant? c) ? c.Shape
        : throw new InvalidModelException($"graph '{Name}': value '{name}' has no known shape (run the infer pass first).");

    public Node AddNode(string opType, string name, IEnumerable<string> inputs, IEnumerable<string> outputs, IReadOnlyDictionary<string, AttributeValue>? attributes = null)
    {
        var node = new Node(opType, name, [.. inputs], [.. outputs], attributes ?? Node.NoAttributes);
        _nodes.Add(node);
        return node;
    }

    public void AddConstant(string name, GraphConstant value) => _constants[name] = value;

    public override string ToString() => $"Graph '{Name}': {_inputs.Count} inputs, {_nodes.Count} nodes, {_constants.Count} constants, {_outputs.Count} outputs";
}

/// <summary>
/// A named value with a shape (graph inputs; inferred intermediate shapes). A graph input of a model with dynamic
/// dimensions also carries <see cref="Symbols"/>: the name of each dynamic dimension ("N", "height"), null for a fixed
/// one; its <see cref="Shape"/> then holds the sizes the graph is inferred for, 0 where none was given yet.
/// </summary>
public sealed record GraphValue(string Name, TensorShape Shape)
{
    /// <summary>The symbol of each dynamic dimension (null for fixed ones); null when every dimension is fixed.</summary>
    public IReadOnlyList<string?>? Symbols { get; init; }

    /// <summary>Whether some dimension is dynamic (the model names a symbol for it).</summary>
    public bool IsDynamic => Symbols is not null && Symbols.Any(s => s is not null);

    /// <summary>Whether every dimension has a size (a dynamic one without a size yet is 0).</summary>
    public bool IsBound => !Shape.Dims.Contains(0) || Symbols is null || Enumerable.Range(0, Shape.Rank).All(i => Symbols[i] is null || Shape[i] > 0);

    /// <summary>The shape as the model declares it, symbols in place of dynamic sizes: <c>[N,3,H,W]</c>.</summary>
    public string Declared => Symbols is null ? Shape.ToString()
        : "[" + string.Join(",", Enumerable.Range(0, Shape.Rank).Select(i => Symbols[i] ?? Shape[i].ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]";
}

/// <summary>
/// One run-time value of a graph: its logical shape and element type (infer pass), the memory space it lives in
/// (place pass) and its layout (layout pass: NCHW, or a channel-blocked NCHWc whose buffer holds
/// <see cref="TensorLayout.PhysicalShape"/>).
/// </summary>
public sealed record ValueInfo(string Name, TensorShape Shape, ElementType Type = ElementType.Float32)
{
    public MemorySpace Memory { get; init; } = MemorySpace.Host;
    public TensorLayout Layout { get; init; } = TensorLayout.Nchw;

    /// <summary>The shape of the buffer that holds the value (the logical shape, or its blocked form).</summary>
    public TensorShape PhysicalShape => Layout.PhysicalShape(Shape);

    public override string ToString() => $"{Name}{Shape} {Type} {Layout} {Memory}";
}

/// <summary>One pass over a graph: its name and how many nodes the graph had after it (what <c>summary --plan</c> lists).</summary>
/// <summary>A pass that ran over a graph: its name, the nodes left after it, a note, and how long it took.</summary>
public sealed record PassRecord(string Name, int Nodes, string Detail = "", double Milliseconds = 0);

/// <summary>
/// One op application. <see cref="Inputs"/> may contain the empty string for an omitted optional input
/// (ONNX's convention, e.g. Clip without min). Attributes use ONNX's names.
/// </summary>
public sealed class Node
{
    internal static readonly IReadOnlyDictionary<string, AttributeValue> NoAttributes =
        new ReadOnlyDictionary<string, AttributeValue>(new Dictionary<string, AttributeValue>());

    public Node(string opType, string name, string[] inputs, string[] outputs, IReadOnlyDictionary<string, AttributeValue> attributes)
    {
        ArgumentException.ThrowIfNullOrEmpty(opType);
        OpType = opType;
        Name = name;
        Inputs = inputs;
        Outputs = outputs;
        Attributes = attributes;
    }

    public string OpType { get; }
    public string Name { get; }
    public string[] Inputs { get; }
    public string[] Outputs { get; }
    public IReadOnlyDictionary<string, AttributeValue> Attributes { get; }

    /// <summary>The opset the op's semantics follow (ONNX default domain); 0 when built in code (latest semantics).</summary>
    public int Opset { get; init; }

    /// <summary>The op's domain; empty (or "ai.onnx") is ONNX's default domain.</summary>
    public string Domain { get; init; } = "";

    /// <summary>The backend that runs the node (a <see cref="BackendNames"/> name), set by the place pass; null before.</summary>
    public string? Backend { get; set; }

    public bool HasInput(int i) => i < Inputs.Length && Inputs[i].Length > 0;

    public long GetInt(string name, long fallback) => Attributes.TryGetValue(name, out var a) ? a.AsInt(this, name) : fallback;
    public float GetFloat(string name, float fallback) => Attributes.TryGetValue(name, out var a) ? a.AsFloat(this, name) : fallback;
    public string GetString(string name, string fallback) => Attributes.TryGetValue(name, out var a) ? a.AsString(this, name) : fallback;
    public long[]? GetInts(string name) => Attributes.TryGetValue(name, out var a) ? a.AsInts(this, name) : null;
    public float[]? GetFloats(string name) => Attributes.TryGetValue(name, out var a) ? a.AsFloats(this, name) : null;

    /// <summary>"Conv 'layer1.0.conv1'" — how errors name a node.</summary>
    public string Describe() => Name.Length > 0 ? $"{OpType} '{Name}'" : OpType;

    public override string ToString() => $"{Describe()}({string.Join(", ", Inputs)}) -> {string.Join(", ", Outputs)}";
}

/// <summary>The kinds of attribute values FastConv reads (ONNX's INT, FLOAT, STRING, INTS, FLOATS, TENSOR).</summary>
public enum AttributeKind { Int, Float, String, Ints, Floats, Tensor }

/// <summary>An attribute value; the accessors throw <see cref="InvalidModelException"/> naming the node when the kind is wrong.</summary>
public sealed record AttributeValue
{
    private AttributeValue(AttributeKind kind) => Kind = kind;

    public AttributeKind Kind { get; }
    public long Int { get; private init; }
    public float Float { get; private init; }
    public string String { get; private init; } = "";
    public long[] Ints { get; private init; } = [];
    public float[] Floats { get; private init; } = [];
    public GraphConstant? Tensor { get; private init; }

    public static AttributeValue Of(long value) => new(AttributeKind.Int) { Int = value };
    public static AttributeValue Of(float value) => new(AttributeKind.Float) { Float = value };
    public static AttributeValue Of(string value) => new(AttributeKind.String) { String = value };
    public static AttributeValue Of(params long[] values) => new(AttributeKind.Ints) { Ints = values };
    public static AttributeValue Of(params float[] values) => new(AttributeKind.Floats) { Floats = values };
    public static AttributeValue Of(GraphConstant value) => new(AttributeKind.Tensor) { Tensor = value };

    internal long AsInt(Node node, string name) => Kind == AttributeKind.Int ? Int : throw WrongKind(node, name, AttributeKind.Int);
    internal float AsFloat(Node node, string name) => Kind switch
    {
        AttributeKind.Float => Float,
        AttributeKind.Int => Int,
        _ => throw WrongKind(node, name, AttributeKind.Float),
    };
    internal string AsString(Node node, string name) => Kind == AttributeKind.String ? String : throw WrongKind(node, name, AttributeKind.String);
    internal long[] AsInts(Node node, string name) => Kind == AttributeKind.Ints ? Ints : throw WrongKind(node, name, AttributeKind.Ints);
    internal float[] AsFloats(Node node, string name) => Kind == AttributeKind.Floats ? Floats : throw WrongKind(node, name, AttributeKind.Floats);

    private InvalidModelException WrongKind(Node node, string name, AttributeKind expected) =>
        new($"{node.Describe()}: attribute '{name}' is {Kind}, expected {expected}");

    public override string ToString() => Kind switch
    {
        AttributeKind.Int => Int.ToString(System.Globalization.CultureInfo.InvariantCulture),
        AttributeKind.Float => Float.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        AttributeKind.String => $"\"{String}\"",
        AttributeKind.Ints => $"[{string.Join(",", Ints)}]",
        AttributeKind.Floats => $"[{string.Join(",", Floats)}]",
        _ => $"tensor{Tensor?.Shape}",
    };
}

/// <summary>The element types of values and constants: float32 data, and int64 for shape arithmetic and indices.</summary>
public enum ElementType { Float32, Int64 }

/// <summary>A constant tensor of the graph: float32 (weights) or int64 (shapes, axes, indices).</summary>
public sealed class GraphConstant
{
    private GraphConstant(TensorShape shape, float[]? floats, long[]? longs)
    {
        Shape = shape;
        _floats = floats;
        _longs = longs;
    }

    private readonly float[]? _floats;
    private readonly long[]? _longs;

    public TensorShape Shape { get; }
    public ElementType Type => _floats is not null ? ElementType.Float32 : ElementType.Int64;

    public static GraphConstant Float32(TensorShape shape, float[] data)
    {
        if (data.Length != shape.ElementCount)
            throw new InvalidModelException($"constant of shape {shape} needs {shape.ElementCount} values, got {data.Length}");
        return new(shape, data, null);
    }

    public static GraphConstant Int64(TensorShape shape, long[] data)
    {
        if (data.Length != shape.ElementCount)
            throw new InvalidModelException($"constant of shape {shape} needs {shape.ElementCount} values, got {data.Length}");
        return new(shape, null, data);
    }

    public static GraphConstant FromTensor(Tensor tensor) => Float32(tensor.Shape, tensor.ToArray());

    /// <summary>The float32 data; int64 constants convert (shape values used as floats are exact below 2^24).</summary>
    public float[] Floats => _floats ?? [.. _longs!.Select(v => (float)v)];

    /// <summary>The int64 data; float32 constants convert only when every value is integral.</summary>
    public long[] Int64s => _longs ?? ToInt64(_floats!);

    public Tensor ToTensor() => Tensor.Wrap(_floats ?? Floats, Shape);

    private long[] ToInt64(float[] floats)
    {
        var result = new long[floats.Length];
        for (int i = 0; i < floats.Length; i++)
        {
            if (floats[i] != MathF.Round(floats[i]))
                throw new InvalidModelException($"float constant of shape {Shape} used where integers are needed holds {floats[i]}");
            result[i] = (long)floats[i];
        }
        return result;
    }

    public override string ToString() => $"{Type}{Shape}";
}
