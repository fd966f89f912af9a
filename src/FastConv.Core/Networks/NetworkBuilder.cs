using FastConv.Graphs;
using FastConv.Graphs.Ops;

namespace FastConv.Networks;

/// <summary>
/// Builds a network in code as a <see cref="Graph"/> of ONNX-named nodes, layer by layer. Every layer method
/// infers and validates its output shape at once (an error names the layer and the whole shape), creates its
/// weights (seeded He-uniform: <c>U(−√(6/fan_in), √(6/fan_in))</c>; biases <c>U(−1/√fan_in, 1/√fan_in)</c>, as
/// PyTorch initializes them) and returns the layer's output, which later layers take as input — so a graph with
/// branches, residual adds and concats is written as plainly as a chain. <see cref="Sequential"/> wraps it for chains.
/// </summary>
public sealed class NetworkBuilder
{
    private readonly Graph _graph;
    private readonly Random _random;
    private readonly Dictionary<string, int> _counters = new(StringComparer.Ordinal);

    public NetworkBuilder(string name = "network", int seed = 0)
    {
        _graph = new Graph(name);
        _random = new Random(seed);
    }

    /// <summary>Declares a model input of a fixed shape.</summary>
    public GraphValue Input(string name, TensorShape shape)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(shape);
        if (_graph.Values.ContainsKey(name))
        {
            throw new InvalidModelException($"network '{_graph.Name}': the name '{name}' is already used.");
        }
        var v = new GraphValue(name, shape);
        _graph.Inputs.Add(v);
        _graph.Values[name] = new ValueInfo(name, shape);
        return v;
    }

    /// <summary>2-D convolution with K = <paramref name="outChannels"/> filters R×S = <paramref name="kernel"/>², symmetric padding.</summary>
    public GraphValue Conv2d(GraphValue x, int outChannels, int kernel, int stride = 1, int pad = 0, int groups = 1, bool bias = true, int dilation = 1, string? name = null)
    {
        RequireRank(x, 4, "Conv");
        name = Name(name, "conv");
        int c = x.Shape[1];
        if (groups <= 0 || c % groups != 0 || outChannels <= 0 || kernel <= 0)
        {
            throw new InvalidShapeException($"Conv '{name}': K={outChannels}, kernel={kernel} and groups={groups} must be >= 1 and C={c} divisible by groups; input {x.Shape}.");
        }
        int fanIn = c / groups * kernel * kernel;
        string w = Weight(name + ".weight", TensorShape.Of(outChannels, c / groups, kernel, kernel), HeBound(fanIn));
        string[] inputs = bias ? [x.Name, w, Weight(name + ".bias", TensorShape.Of(outChannels), 1 / Math.Sqrt(fanIn))] : [x.Name, w];
        return Add("Conv", name, inputs, new()
        {
            ["kernel_shape"] = AttributeValue.Of(kernel, (long)kernel),
            ["strides"] = AttributeValue.Of(stride, (long)stride),
            ["pads"] = AttributeValue.Of(pad, pad, pad, (long)pad),
            ["dilations"] = AttributeValue.Of(dilation, (long)dilation),
            ["group"] = AttributeValue.Of(groups),
        });
    }

    /// <summary>Inference BatchNormalization with seeded near-identity statistics (γ, σ² in [0.8, 1.2]; β, μ in [−0.1, 0.1]).</summary>
    public GraphValue BatchNorm(GraphValue x, float epsilon = 1e-5f, string? name = null)
    {
        if (x.Shape.Rank < 2)
        {
            throw new InvalidShapeException($"BatchNormalization: input must have rank >= 2, got {x.Shape}.");
        }
        name = Name(name, "bn");
        int c = x.Shape[1];
        string Stat(string what, double lo, double hi)
        {
            var v = new float[c];
            for (int i = 0; i < c; i++)
            {
                v[i] = (float)(lo + (hi - lo) * _random.NextDouble());
            }
            string n = $"{name}.{what}";
            _graph.Constants[n] = GraphConstant.Float32(TensorShape.Of(c), v);
            return n;
        }
        string[] inputs = [x.Name, Stat("weight", 0.8, 1.2), Stat("bias", -0.1, 0.1), Stat("running_mean", -0.1, 0.1), Stat("running_var", 0.8, 1.2)];
        return Add("BatchNormalization", name, inputs, new() { ["epsilon"] = AttributeValue.Of(epsilon) });
    }

    public GraphValue Relu(GraphValue x, string? name = null) => Add("Relu", Name(name, "relu"), [x.Name], []);
    public GraphValue Sigmoid(GraphValue x, string? name = null) => Add("Sigmoid", Name(name, "sigmoid"), [x.Name], []);
    public GraphValue Tanh(GraphValue x, string? name = null) => Add("Tanh", Name(name, "tanh"), [x.Name], []);
    public GraphValue HardSwish(GraphValue x, string? name = null) => Add("HardSwish", Name(name, "hardswish"), [x.Name], []);

    public GraphValue HardSigmoid(GraphValue x, float alpha = 0.2f, float beta = 0.5f, string? name = null) =>
        Add("HardSigmoid", Name(name, "hardsigmoid"), [x.Name], new() { ["alpha"] = AttributeValue.Of(alpha), ["beta"] = AttributeValue.Of(beta) });

    public GraphValue LeakyRelu(GraphValue x, float alpha = 0.01f, string? name = null) =>
        Add("LeakyRelu", Name(name, "leakyrelu"), [x.Name], new() { ["alpha"] = AttributeValue.Of(alpha) });

    /// <summary>Clip(min, max) with constant bounds (Relu6 is Clip(0, 6)).</summary>
    public GraphValue Clip(GraphValue x, float min, float max, string? name = null)
    {
        name = Name(name, "clip");
        _graph.Constants[name + ".min"] = GraphConstant.Float32(TensorShape.Of(), [min]);
        _graph.Constants[name + ".max"] = GraphConstant.Float32(TensorShape.Of(), [max]);
        return Add("Clip", name, [x.Name, name + ".min", name + ".max"], []);
    }

    public GraphValue MaxPool(GraphValue x, int kernel, int stride, int pad = 0, bool ceilMode = false, string? name = null) =>
        Pool("MaxPool", x, kernel, stride, pad, ceilMode, Name(name, "maxpool"));

    public GraphValue AvgPool(GraphValue x, int kernel, int stride, int pad = 0, bool ceilMode = false, string? name = null) =>
        Pool("AveragePool", x, kernel, stride, pad, ceilMode, Name(name, "avgpool"));

    public GraphValue GlobalAvgPool(GraphValue x, string? name = null) => Add("GlobalAveragePool", Name(name, "avgpool"), [x.Name], []);
    public GraphValue GlobalMaxPool(GraphValue x, string? name = null) => Add("GlobalMaxPool", Name(name, "maxpool"), [x.Name], []);

    public GraphValue Flatten(GraphValue x, int axis = 1, string? name = null) =>
        Add("Flatten", Name(name, "flatten"), [x.Name], new() { ["axis"] = AttributeValue.Of(axis) });

    /// <summary>Fully-connected layer (PyTorch Linear: weight [out, in], y = x·Wᵀ + b) on a rank-2 input, as ONNX Gemm with transB = 1.</summary>
    public GraphValue Linear(GraphValue x, int outFeatures, bool bias = true, string? name = null)
    {
        RequireRank(x, 2, "Gemm");
        name = Name(name, "fc");
        int fanIn = x.Shape[1];
        string w = Weight(name + ".weight", TensorShape.Of(outFeatures, fanIn), HeBound(fanIn));
        string[] inputs = bias ? [x.Name, w, Weight(name + ".bias", TensorShape.Of(outFeatures), 1 / Math.Sqrt(fanIn))] : [x.Name, w];
        return Add("Gemm", name, inputs, new() { ["transB"] = AttributeValue.Of(1L) });
    }

    public GraphValue Softmax(GraphValue x, int axis = -1, string? name = null) =>
        Add("Softmax", Name(name, "softmax"), [x.Name], new() { ["axis"] = AttributeValue.Of(axis) });

    public GraphValue Dropout(GraphValue x, string? name = null) => Add("Dropout", Name(name, "dropout"), [x.Name], []);

    /// <summary>Element-wise sum with broadcasting (the residual add of ResNet).</summary>
    public GraphValue Add(GraphValue a, GraphValue b, string? name = null) => Add("Add", Name(name, "add"), [a.Name, b.Name], []);

    /// <summary>Element-wise product with broadcasting (squeeze-excite's channel scaling).</summary>
    public GraphValue Mul(GraphValue a, GraphValue b, string? name = null) => Add("Mul", Name(name, "mul"), [a.Name, b.Name], []);

    /// <summary>Joins the inputs along <paramref name="axis"/> (1: channels).</summary>
    public GraphValue Concat(int axis, IReadOnlyList<GraphValue> inputs, string? name = null) =>
        Add("Concat", Name(name, "concat"), [.. inputs.Select(i => i.Name)], new() { ["axis"] = AttributeValue.Of(axis) });

    /// <summary>Any op of <see cref="OpRegistry"/> with explicit inputs (values or constants added with <see cref="Constant"/>) and attributes.</summary>
    public GraphValue Node(string opType, IReadOnlyList<string> inputs, IReadOnlyDictionary<string, AttributeValue>? attributes = null, string? name = null) =>
        Add(opType, Name(name, opType.ToLowerInvariant()), [.. inputs], attributes is null ? [] : new Dictionary<string, AttributeValue>(attributes));

    /// <summary>Adds a named constant for <see cref="Node"/>.</summary>
    public string Constant(string name, GraphConstant value)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (_graph.Values.ContainsKey(name) || _graph.Constants.ContainsKey(name))
        {
            throw new InvalidModelException($"network '{_graph.Name}': the name '{name}' is already used.");
        }
        _graph.Constants[name] = value;
        return name;
    }

    /// <summary>Finishes the network with the given outputs; validates the whole graph.</summary>
    public Network Build(params GraphValue[] outputs)
    {
        if (outputs.Length == 0)
        {
            throw new InvalidModelException($"network '{_graph.Name}': give at least one output.");
        }
        foreach (GraphValue o in outputs)
        {
            _graph.Outputs.Add(o.Name);
        }
        _graph.Passes.Add(new PassRecord("import", _graph.Nodes.Count, "built in code"));
        return new Network(_graph);
    }

    private GraphValue Pool(string op, GraphValue x, int kernel, int stride, int pad, bool ceilMode, string name) =>
        Add(op, name, [x.Name], new()
        {
            ["kernel_shape"] = AttributeValue.Of(kernel, (long)kernel),
            ["strides"] = AttributeValue.Of(stride, (long)stride),
            ["pads"] = AttributeValue.Of(pad, pad, pad, (long)pad),
            ["ceil_mode"] = AttributeValue.Of(ceilMode ? 1L : 0L),
        });

    private GraphValue Add(string opType, string name, string[] inputs, Dictionary<string, AttributeValue> attributes)
    {
        string output = name;
        if (_graph.Values.ContainsKey(output) || _graph.Constants.ContainsKey(output))
        {
            throw new InvalidModelException($"network '{_graph.Name}': layer name '{name}' is already used.");
        }
        Node node = _graph.AddNode(opType, name, inputs, [output], attributes);
        try
        {
            if (!OpRegistry.IsSupported(node, _graph, out string? problem))
            {
                throw new UnsupportedModelException([problem!]);
            }
            // Inferred once, here, and kept in the graph: the compile passes do not infer it again.
            TensorShape shape = OpRegistry.InferShapes(OpContext.For(node, _graph))[0];
            _graph.Values[output] = new ValueInfo(output, shape);
            return new GraphValue(output, shape);
        }
        catch
        {
            _graph.Nodes.Remove(node);
            throw;
        }
    }

    private string Name(string? name, string kind)
    {
        if (name is not null)
        {
            return name;
        }
        int n = _counters.GetValueOrDefault(kind) + 1;
        _counters[kind] = n;
        return $"{kind}{n}";
    }

    private static double HeBound(int fanIn) => Math.Sqrt(6.0 / fanIn);

    private string Weight(string name, TensorShape shape, double bound)
    {
        var v = new float[shape.ElementCount];
        for (int i = 0; i < v.Length; i++)
        {
            v[i] = (float)((_random.NextDouble() * 2 - 1) * bound);
        }
        _graph.Constants[name] = GraphConstant.Float32(shape, v);
        return name;
    }

    private static void RequireRank(GraphValue x, int rank, string op)
    {
        if (x.Shape.Rank != rank)
        {
            throw new InvalidShapeException($"{op}: input '{x.Name}' must have rank {rank}, got shape {x.Shape}.");
        }
    }
}

/// <summary>A chain of layers: each call takes the previous output. <c>new Sequential("lenet", [1,1,32,32]).Conv2d(6, 5).Relu()…Build()</c>.</summary>
public sealed class Sequential
{
    private GraphValue _current;

    public Sequential(string name, TensorShape inputShape, int seed = 0, string inputName = "input")
    {
        Builder = new NetworkBuilder(name, seed);
        _current = Builder.Input(inputName, inputShape);
    }

    /// <summary>The underlying builder, for a branch off the chain.</summary>
    public NetworkBuilder Builder { get; }

    /// <summary>The output of the last layer.</summary>
    public GraphValue Current => _current;

    public Sequential Conv2d(int outChannels, int kernel, int stride = 1, int pad = 0, int groups = 1, bool bias = true, string? name = null) =>
        Then(Builder.Conv2d(_current, outChannels, kernel, stride, pad, groups, bias, name: name));
    public Sequential BatchNorm(string? name = null) => Then(Builder.BatchNorm(_current, name: name));
    public Sequential Relu(string? name = null) => Then(Builder.Relu(_current, name));
    public Sequential Tanh(string? name = null) => Then(Builder.Tanh(_current, name));
    public Sequential Sigmoid(string? name = null) => Then(Builder.Sigmoid(_current, name));
    public Sequential HardSwish(string? name = null) => Then(Builder.HardSwish(_current, name));
    public Sequential MaxPool(int kernel, int stride, int pad = 0, string? name = null) => Then(Builder.MaxPool(_current, kernel, stride, pad, name: name));
    public Sequential AvgPool(int kernel, int stride, int pad = 0, string? name = null) => Then(Builder.AvgPool(_current, kernel, stride, pad, name: name));
    public Sequential GlobalAvgPool(string? name = null) => Then(Builder.GlobalAvgPool(_current, name));
    public Sequential Flatten(string? name = null) => Then(Builder.Flatten(_current, name: name));
    public Sequential Linear(int outFeatures, bool bias = true, string? name = null) => Then(Builder.Linear(_current, outFeatures, bias, name));
    public Sequential Dropout(string? name = null) => Then(Builder.Dropout(_current, name));
    public Sequential Softmax(int axis = -1, string? name = null) => Then(Builder.Softmax(_current, axis, name));

    /// <summary>Applies any layer of the builder to the current output.</summary>
    public Sequential Then(Func<NetworkBuilder, GraphValue, GraphValue> layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        return Then(layer(Builder, _current));
    }

    public Network Build() => Builder.Build(_current);

    private Sequential Then(GraphValue next)
    {
        _current = next;
        return this;
    }
}

/// <summary>A built network: its graph, validated, with shapes, parameter and FLOP counts and a summary.</summary>
public sealed class Network
{
    public Network(Graph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        Graph = graph;
        Info = GraphInfo.Analyze(graph);
    }

    public Graph Graph { get; }
    public GraphInfo Info { get; }
    public string Name => Graph.Name;

    /// <summary>Learnable parameters (weights and biases, BN γ and β; not running statistics), as PyTorch's <c>parameters()</c>.</summary>
    public long Parameters => Info.TotalParameters;

    /// <summary>FLOPs of one forward pass at the declared batch (a multiply-add counts 2).</summary>
    public long Flops => Info.TotalFlops;

    public ModelSummary Summary() => ModelSummary.Of(Info);

    public override string ToString() => $"{Name}: {Parameters:N0} parameters, {Flops / 1e6:F1} MFLOPs";
}
