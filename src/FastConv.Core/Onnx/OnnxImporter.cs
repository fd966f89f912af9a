using System.Globalization;
using Google.Protobuf;
using FastConv.Compilation;
using FastConv.Graphs;
using Onnx;
using AttrType = Onnx.AttributeProto.Types.AttributeType;

namespace FastConv.Onnx;

/// <summary>
/// One import: parse → structure checks (duplicates, dangling names, cycles) → constants → nodes with converted
/// attributes → opset normalization → op support (all problems at once) → shape propagation with folding →
/// final support check with shapes → dead-node pruning. See <see cref="OnnxModel"/> for the contract.
/// </summary>
internal sealed class OnnxImporter
{
    public const int MinOpset = 7;
    public const int MaxOpset = 21;

    /// <summary>Most elements a graph input or an inferred intermediate value may have (2^28 floats = 1 GiB).</summary>
    public const long MaxValueElements = InferPass.MaxValueElements;

    private readonly IReadOnlyDictionary<string, TensorShape>? _inputShapes;
    private readonly string? _baseDirectory;
    private readonly List<string> _problems = [];
    private readonly HashSet<Node> _listed = new(ReferenceEqualityComparer.Instance);
    private int _opset;
    private string _source = "model";

    public OnnxImporter(IReadOnlyDictionary<string, TensorShape>? inputShapes, string? baseDirectory)
    {
        _inputShapes = inputShapes;
        _baseDirectory = baseDirectory;
    }

    public Graph Import(byte[] bytes, string source)
    {
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        _source = source;
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidModelException($"{source}: not a valid ONNX model (protobuf parse failed: {e.Message}); the file is truncated or not ONNX", e);
        }
        if (model.Graph is null)
            throw new InvalidModelException($"{source}: the ONNX model has no graph");

        _opset = DefaultOpset(model);
        var g = model.Graph;

        // Local functions would need inlining; their nodes are reported below as unsupported domains/op types.
        var initializers = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        foreach (var t in g.Initializer)
        {
            if (string.IsNullOrEmpty(t.Name))
                throw new InvalidModelException($"{source}: an initializer has no name");
            if (!initializers.TryAdd(t.Name, t))
                throw new InvalidModelException($"{source}: initializer '{t.Name}' is defined twice");
        }
        if (g.SparseInitializer.Count > 0)
            _problems.Add($"graph '{g.Name}': {g.SparseInitializer.Count} sparse initializer(s) (not supported)");

        var graph = new Graph(string.IsNullOrEmpty(g.Name) ? "onnx" : g.Name);
        var produced = new HashSet<string>(StringComparer.Ordinal);
        foreach (string name in initializers.Keys) produced.Add(name);

        // Graph inputs: those that are also initializers are constants (IR < 4 lists every weight as an input).
        var runtimeInputs = new List<ValueInfoProto>();
        var seenInputs = new HashSet<string>(StringComparer.Ordinal);
        foreach (var vi in g.Input)
        {
            if (string.IsNullOrEmpty(vi.Name))
                throw new InvalidModelException($"{source}: a graph input has no name");
            if (!seenInputs.Add(vi.Name))
                throw new InvalidModelException($"{source}: graph input '{vi.Name}' is listed twice");
            if (initializers.ContainsKey(vi.Name)) continue;
            runtimeInputs.Add(vi);
            produced.Add(vi.Name);
        }
        if (_inputShapes is not null)
        {
            foreach (string given in _inputShapes.Keys)
            {
                if (!runtimeInputs.Exists(v => v.Name == given))
                    throw new InvalidShapeException($"{source}: a shape was given for input '{given}', but the model's inputs are: {string.Join(", ", runtimeInputs.Select(v => "'" + v.Name + "'"))}");
            }
        }

        // Nodes: structure first (cheap, catches hostile graphs before any tensor is read).
        var nodes = new List<(NodeProto Proto, int Index)>();
        for (int i = 0; i < g.Node.Count; i++)
        {
            var n = g.Node[i];
            if (string.IsNullOrEmpty(n.OpType))
                throw new InvalidModelException($"{source}: node #{i} ('{n.Name}') has no op_type");
            foreach (string o in n.Output)
            {
                if (o.Length == 0) continue; // an omitted optional output
                if (!produced.Add(o))
                    throw new InvalidModelException($"{source}: value '{o}' is produced twice (again by {n.OpType} '{n.Name}'); every value must have exactly one producer");
            }
            nodes.Add((n, i));
        }
        foreach (var (n, _) in nodes)
        {
            foreach (string input in n.Input)
            {
                if (input.Length > 0 && !produced.Contains(input))
                    throw new InvalidModelException($"{source}: {n.OpType} '{n.Name}' reads '{input}', which no node, initializer or graph input produces (dangling name or missing initializer)");
            }
        }
        if (g.Output.Count == 0)
            throw new InvalidModelException($"{source}: the graph has no outputs");
        var outputNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var o in g.Output)
        {
            if (string.IsNullOrEmpty(o.Name) || !produced.Contains(o.Name))
                throw new InvalidModelException($"{source}: graph output '{o.Name}' is not produced by any node, initializer or input");
            if (!outputNames.Add(o.Name))
                throw new InvalidModelException($"{source}: graph output '{o.Name}' is listed twice");
        }
        var ordered = TopologicalOrder(nodes, produced, initializers.Keys, runtimeInputs.Select(v => v.Name));

        // Inputs with fixed shapes.
        foreach (var vi in runtimeInputs)
            graph.Inputs.Add(InputValue(vi));

        // Constants: only the initializers some node or output reads.
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (n, _) in nodes) foreach (string s in n.Input) if (s.Length > 0) used.Add(s);
        foreach (string o in outputNames) used.Add(o);
        foreach (var (name, t) in initializers)
        {
            if (used.Contains(name))
                graph.AddConstant(name, OnnxTensors.Read(t, $"{source}: initializer '{name}'", _baseDirectory));
        }

        // Nodes in topological order, attributes converted; Constant nodes become constants.
        var names = new NameScope(produced);
        foreach (var n in ordered)
        {
            string domain = n.Domain ?? "";
            string opLabel = $"{n.OpType} '{n.Name}'";
            bool foreign = domain.Length > 0 && domain != "ai.onnx";
            if (foreign)
                _problems.Add($"{opLabel} (opset {_opset}, domain '{domain}'): only the default ONNX domain is supported");
            var attrs = new Dictionary<string, AttributeValue>(StringComparer.Ordinal);
            foreach (var a in n.Attribute)
            {
                var v = ConvertAttribute(a, n);
                if (v is not null) attrs[a.Name] = v;
            }
            if (n.OpType == "Constant" && !foreign)
            {
                var value = ConstantValue(n, attrs);
                if (value is not null && n.Output.Count > 0 && n.Output[0].Length > 0)
                    graph.AddConstant(n.Output[0], value);
                continue;
            }
            var node = new Node(n.OpType, n.Name, [.. n.Input], [.. n.Output], attrs) { Opset = _opset };
            if (foreign) _listed.Add(node); // kept in place (its consumers are still judged), never run
            graph.Nodes.Add(node);
        }
        foreach (var o in g.Output) graph.Outputs.Add(o.Name);

        // Every problem is collected before one error is thrown: unknown op types now, attribute-level ones once
        // folding has put constants in place (a Reshape's shape, a Resize's scales).
        // The front of the compile pipeline (src/FastConv.Core/Compilation): import, normalize, infer. Shape inference
        // (with the shape sub-graphs folded) is the infer pass, as for every graph; the graph keeps the shapes.
        graph.Passes.Add(new PassRecord("import", graph.Nodes.Count, "", System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds));
        start = System.Diagnostics.Stopwatch.GetTimestamp();
        OpsetNormalizer.Normalize(graph, _opset, names, _problems);
        graph.Passes.Add(new PassRecord("normalize", graph.Nodes.Count, $"opset {_opset}", System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds));
        if (graph.IsDynamic)
        {
            // Kept as imported, so a session can infer it again for the sizes of each run.
            graph.Generic = GraphCompiler.Clone(graph);
        }
        if (graph.Inputs.All(i => i.IsBound))
        {
            start = System.Diagnostics.Stopwatch.GetTimestamp();
            InferPass.Run(graph, _problems, _listed, _source);
            graph.Passes.Add(new PassRecord(InferPass.Name, graph.Nodes.Count, "shape sub-graphs folded", System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds));
        }
        else
        {
            // Sizes come with the first run (or FastConvSessionOptions.InputShapes); unknown op types are reported now.
            InferPass.CheckKnownOnly(graph, _listed, _problems);
        }
        ThrowIfProblems();
        return graph;
    }

    private void ThrowIfProblems()
    {
        if (_problems.Count > 0)
            throw new UnsupportedModelException([.. _problems.Distinct(StringComparer.Ordinal)]);
    }

    private int DefaultOpset(ModelProto model)
    {
        int? opset = null;
        foreach (var os in model.OpsetImport)
        {
            if (string.IsNullOrEmpty(os.Domain) || os.Domain == "ai.onnx")
                opset = (int)Math.Clamp(os.Version, int.MinValue, int.MaxValue);
        }
        if (opset is null)
            throw new InvalidModelException($"{_source}: the model imports no default-domain opset (opset_import lacks domain \"\")");
        if (opset < MinOpset || opset > MaxOpset)
            throw new UnsupportedModelException([$"model: opset {opset} of the default domain; FastConv imports opsets {MinOpset} to {MaxOpset} (re-export the model with an opset in that range)"]);
        return opset.Value;
    }

    /// <summary>Kahn's algorithm in file order; whatever is left over lies on (or behind) a cycle.</summary>
    private List<NodeProto> TopologicalOrder(List<(NodeProto Proto, int Index)> nodes, HashSet<string> produced, IEnumerable<string> initializers, IEnumerable<string> inputs)
    {
        var available = new HashSet<string>(initializers, StringComparer.Ordinal);
        available.UnionWith(inputs);
        var producerOf = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < nodes.Count; i++)
            foreach (string o in nodes[i].Proto.Output) if (o.Length > 0) producerOf[o] = i;

        var pending = new int[nodes.Count];
        var consumers = new List<int>?[nodes.Count];
        for (int i = 0; i < nodes.Count; i++)
        {
            var deps = new HashSet<int>();
            foreach (string s in nodes[i].Proto.Input)
            {
                if (s.Length > 0 && !available.Contains(s) && producerOf.TryGetValue(s, out int p))
                    deps.Add(p);
            }
            pending[i] = deps.Count;
            foreach (int p in deps) (consumers[p] ??= []).Add(i);
        }
        var ready = new PriorityQueue<int, int>();
        for (int i = 0; i < nodes.Count; i++) if (pending[i] == 0) ready.Enqueue(i, i);
        var order = new List<NodeProto>(nodes.Count);
        while (ready.TryDequeue(out int i, out _))
        {
            order.Add(nodes[i].Proto);
            if (consumers[i] is { } cs)
                foreach (int c in cs) if (--pending[c] == 0) ready.Enqueue(c, c);
        }
        if (order.Count != nodes.Count)
        {
            var stuck = Enumerable.Range(0, nodes.Count).Where(i => pending[i] > 0).Take(5).Select(i => $"{nodes[i].Proto.OpType} '{nodes[i].Proto.Name}'");
            throw new InvalidModelException($"{_source}: the graph has a cycle; {nodes.Count - order.Count} node(s) depend on their own outputs, e.g. {string.Join(", ", stuck)}");
        }
        _ = produced;
        return order;
    }

    private GraphValue InputValue(ValueInfoProto vi)
    {
        string what = $"{_source}: input '{vi.Name}'";
        var tt = vi.Type?.TensorType;
        if (vi.Type is not null && vi.Type.ValueCase != TypeProto.ValueOneofCase.TensorType && vi.Type.ValueCase != TypeProto.ValueOneofCase.None)
            throw new UnsupportedModelException([$"{what} is a {vi.Type.ValueCase}, not a tensor"]);
        if (tt is not null && tt.ElemType != 0 && tt.ElemType != (int)TensorProto.Types.DataType.Float)
            throw new UnsupportedModelException([$"{what} has element type {OnnxTensors.TypeName(tt.ElemType)}; FastConv runs float32 inputs"]);

        int[]? given = null;
        if (_inputShapes is not null && _inputShapes.TryGetValue(vi.Name, out var g)) given = [.. g];
        var fileShape = tt?.Shape;
        int[] dims;
        string?[]? symbols = null;
        if (fileShape is null)
        {
            dims = given ?? throw new InvalidModelException($"{what} has no shape in the file; give its shape at load (inputShapes of OnnxModel.Load or ModelLoader.Load, e.g. {vi.Name} = [1,3,224,224])");
        }
        else
        {
            if (given is not null && given.Length != fileShape.Dim.Count)
                throw new InvalidShapeException($"{what}: the given shape [{string.Join(",", given)}] has rank {given.Length}; the model's input has rank {fileShape.Dim.Count} ({FormatDims(fileShape)})");
            dims = new int[fileShape.Dim.Count];
            for (int i = 0; i < dims.Length; i++)
            {
                var d = fileShape.Dim[i];
                bool fixedDim = d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && d.DimValue > 0;
                if (fixedDim)
                {
                    if (d.DimValue > int.MaxValue)
                        throw new InvalidModelException($"{what}: dimension {i} is {d.DimValue}, absurdly large");
                    if (given is not null && given[i] != d.DimValue)
                        throw new InvalidShapeException($"{what}: the given shape [{string.Join(",", given)}] differs from the model's fixed dimension {i} = {d.DimValue} ({FormatDims(fileShape)})");
                    dims[i] = (int)d.DimValue;
                }
                else if (given is not null)
                {
                    if (given[i] < 1)
                        throw new InvalidShapeException($"{what}: the given shape [{string.Join(",", given)}] has size {given[i]} for dimension {i}; sizes must be >= 1");
                    dims[i] = given[i];
                    (symbols ??= new string?[dims.Length])[i] = Symbol(d, i);
                }
                else if (d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && d.DimValue == 0)
                {
                    // A stated 0 is a zero-size input, not a dynamic dimension: never guess a size for it.
                    throw new InvalidShapeException($"{what}: dimension {i} is 0 in the file ({FormatDims(fileShape)}), a zero-size input that cannot run; give the input's shape at load (inputShapes of OnnxModel.Load or ModelLoader.Load)");
                }
                else
                {
                    // A dynamic dimension: the batch (dimension 0) defaults to 1; any other gets its size from a run.
                    dims[i] = i == 0 ? 1 : 0;
                    (symbols ??= new string?[dims.Length])[i] = Symbol(d, i);
                }
            }
        }
        for (int i = 0; i < dims.Length; i++)
        {
            if (dims[i] <= 0 && symbols?[i] is null)
                throw new InvalidShapeException($"{what}: shape [{string.Join(",", dims)}] has a dimension ≤ 0");
        }
        OnnxTensors.CheckedElementCount([.. dims.Select(d => (long)d)], what, MaxValueElements);
        return new GraphValue(vi.Name, new TensorShape(dims)) { Symbols = symbols };
    }

    /// <summary>The name of a dynamic dimension: its dim_param, or "?i" for an unnamed one.</summary>
    private static string Symbol(TensorShapeProto.Types.Dimension d, int i) =>
        d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam && d.DimParam.Length > 0 ? d.DimParam : $"?{i}";

    private static string FormatDims(TensorShapeProto s) =>
        "[" + string.Join(",", s.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue
            ? d.DimValue.ToString(CultureInfo.InvariantCulture)
            : d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam ? d.DimParam : "?")) + "]";

    private AttributeValue? ConvertAttribute(AttributeProto a, NodeProto n)
    {
        AttrType type = a.Type;
        if (type == AttrType.Undefined)
        {
            // Files from before IR 3 leave the type out; infer it from the field that is set.
            type = a.HasF ? AttrType.Float : a.HasI ? AttrType.Int : a.HasS ? AttrType.String : a.T is not null ? AttrType.Tensor
                : a.Floats.Count > 0 ? AttrType.Floats : a.Ints.Count > 0 ? AttrType.Ints : a.G is not null ? AttrType.Graph
                : a.Strings.Count > 0 ? AttrType.Strings : AttrType.Ints;
        }
        string at = $"{n.OpType} '{n.Name}' (opset {_opset})";
        switch (type)
        {
            case AttrType.Int: return AttributeValue.Of(a.I);
            case AttrType.Float: return AttributeValue.Of(a.F);
            case AttrType.String: return AttributeValue.Of(a.S.ToStringUtf8());
            case AttrType.Ints: return AttributeValue.Of([.. a.Ints]);
            case AttrType.Floats: return AttributeValue.Of([.. a.Floats]);
            case AttrType.Tensor:
                if (a.T is null) throw new InvalidModelException($"{_source}: {at}: tensor attribute '{a.Name}' holds no tensor");
                return AttributeValue.Of(OnnxTensors.Read(a.T, $"{_source}: {at}: attribute '{a.Name}'", _baseDirectory));
            default:
                _problems.Add($"{at}: attribute '{a.Name}' of type {type} is not supported (sub-graphs, sparse tensors, string lists)");
                return null;
        }
    }

    private GraphConstant? ConstantValue(NodeProto n, Dictionary<string, AttributeValue> attrs)
    {
        string at = $"Constant '{n.Name}' (opset {_opset})";
        if (attrs.Count != 1)
        {
            if (n.Attribute.Count == 1 && attrs.Count == 0) return null; // an unsupported attribute kind, already listed
            throw new InvalidModelException($"{_source}: {at} needs exactly one value attribute, has {n.Attribute.Count}");
        }
        var (name, v) = attrs.First();
        switch (name)
        {
            case "value" when v.Kind == AttributeKind.Tensor: return v.Tensor!;
            case "value_float" when v.Kind == AttributeKind.Float: return GraphConstant.Float32(TensorShape.Of(), [v.Float]);
            case "value_floats" when v.Kind == AttributeKind.Floats: return GraphConstant.Float32(TensorShape.Of(v.Floats.Length), v.Floats);
            case "value_int" when v.Kind == AttributeKind.Int: return GraphConstant.Int64(TensorShape.Of(), [v.Int]);
            case "value_ints" when v.Kind == AttributeKind.Ints: return GraphConstant.Int64(TensorShape.Of(v.Ints.Length), v.Ints);
            case "value" or "value_float" or "value_floats" or "value_int" or "value_ints":
                throw new InvalidModelException($"{_source}: {at}: attribute '{name}' has the wrong kind {v.Kind}");
            default:
                _problems.Add($"{at}: attribute '{name}' is not supported (sparse or string constants)");
                return null;
        }
    }
}
