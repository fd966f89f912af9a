using FastConv.Backends;
using FastConv.Compilation;
using FastConv.Graphs;
using FastConv.Graphs.Ops;

namespace FastConv.Sessions;

/// <summary>
/// How one node of a session was planned: the node as errors name it (<c>Conv 'conv1'</c>), its name (or its first
/// output's, when unnamed), its op, the backend that runs it, the algorithm, the layout it writes.
/// </summary>
public sealed record SessionNodePlan(string Node, string Name, string Op, string Backend, string Algorithm, string Layout, long WorkspaceBytes);

/// <summary>
/// What compiling a session did, as <c>fastconv summary --plan</c> shows it: the passes run (with the node count each
/// left), every node's plan, the Copy and Reorder nodes the passes inserted, and each memory space's arena.
/// </summary>
public sealed record SessionPlan(IReadOnlyList<PassRecord> Passes, IReadOnlyList<SessionNodePlan> Nodes, int Copies, int Reorders,
    IReadOnlyDictionary<MemorySpace, long> ArenaBytes);

/// <summary>An input or output of a session: its name, element type, and dimensions (null where dynamic) with their symbols.</summary>
public sealed record ValueMetadata(string Name, ElementType Type, IReadOnlyList<int?> Dims, IReadOnlyList<string?> Symbols)
{
    /// <summary><c>input: float32 [N,3,H,W]</c>.</summary>
    public override string ToString() =>
        $"{Name}: {Type.ToString().ToLowerInvariant()} [{string.Join(",", Dims.Select((d, i) => Symbols[i] ?? d?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"))}]";
}

/// <summary>
/// A model compiled once per input shape and run many times, shaped like ONNX Runtime's <c>InferenceSession</c>: the
/// graph goes through the compile passes (<see cref="GraphCompiler"/>: infer → fold → fuse → place → layout → memory),
/// then every node is planned on the backend the place pass chose (<see cref="ExecutionPlan"/>): the chosen backend
/// first, the <c>cpu</c> engine and then the <c>reference</c> for nodes it does not run; all activations in one arena per
/// memory space placed by liveness; weights packed once by the plans.
/// <para>
/// A model with dynamic input dimensions (an ONNX <c>dim_param</c>) keeps them symbolic until a run: a run with new
/// input shapes infers the graph for them (shape sub-graphs folded anew), compiles and plans it, and keeps the plan for
/// those shapes (up to <see cref="FastConvSessionOptions.MaxShapePlans"/>, least recently used dropped first), so a later run
/// with the same shapes reuses it.
/// </para>
/// <para>
/// Runs with caller-owned inputs and outputs (tensors or spans) allocate nothing on the managed heap after the
/// first run for a shape (on backends whose plans allocate nothing, e.g. <c>cpu</c>). A session is thread-safe: runs
/// from many threads are serialized on one lock, because the arena and the plans' scratch belong to the session
/// (each run still spreads its work over the backend's threads, from the process-wide worker pool). For runs in parallel, create one session per
/// concurrent caller (weights are packed per session).
/// </para>
/// </summary>
public sealed class FastConvSession : IDisposable
{
    private readonly Lock _gate = new();
    private readonly List<IBackend> _backends = [];
    private readonly Graph _graph;
    private readonly Graph? _generic;
    private readonly LinkedList<Compiled> _plans = new(); // most recently used first
    private readonly Dictionary<string, int> _inputIndex = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _outputIndex = new(StringComparer.Ordinal);
    private Compiled? _current;
    private bool _disposed;

    /// <summary>
    /// Compiles and plans <paramref name="graph"/> (which is not modified: the passes work on a copy). A graph with
    /// dynamic inputs that have no size yet is planned at its first run (or for <see cref="FastConvSessionOptions.InputShapes"/>).
    /// </summary>
    public FastConvSession(Graph graph, FastConvSessionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(graph);
        Options = options ?? new FastConvSessionOptions();
        var backendOptions = new BackendOptions { Threads = Options.Threads, Exact = Options.Exact };
        (IBackend main, IReadOnlyList<string> skipped) = BackendRegistry.Resolve(Options.Backend, backendOptions);
        _backends.Add(main);
        BackendSkipped = skipped;
        try
        {
            // Fallbacks for nodes the chosen backend does not run: the CPU engine, then the oracle (also the fold pass's evaluator).
            foreach (string name in (string[])[BackendNames.Cpu, BackendNames.Reference])
            {
                if (main.Name != name && main.Name != BackendNames.Reference)
                {
                    _backends.Add(BackendRegistry.Create(name, backendOptions));
                }
            }
            _graph = graph;
            _generic = graph.Generic ?? (graph.IsDynamic ? graph : null);
            Inputs = [.. graph.Inputs];
            Outputs = [.. graph.Outputs.Select(o => new GraphValue(o, graph.Values.TryGetValue(o, out ValueInfo? v) ? v.Shape : graph.Constants.TryGetValue(o, out GraphConstant? c) ? c.Shape : TensorShape.Of()))];
            for (int i = 0; i < Inputs.Count; i++)
            {
                _inputIndex[Inputs[i].Name] = i;
            }
            for (int i = 0; i < graph.Outputs.Count; i++)
            {
                _outputIndex[graph.Outputs[i]] = i;
            }
            if (Options.InputShapes is { Count: > 0 } shapes)
            {
                _current = Compile(Bind(shapes));
            }
            else if (graph.Inputs.All(i => i.IsBound))
            {
                _current = Compile(graph);
            }
            if (_current is not null)
            {
                _plans.AddFirst(_current);
                Inputs = _current.Inputs;
                Outputs = _current.Outputs;
            }
        }
        catch
        {
            _current?.Dispose();
            foreach (IBackend b in _backends)
            {
                b.Dispose();
            }
            throw;
        }
    }

    /// <summary>Loads <paramref name="model"/> (<c>builtin:NAME</c> or an .onnx path, see <see cref="ModelLoader"/>) and plans it.</summary>
    public static FastConvSession Load(string model, FastConvSessionOptions? options = null, IReadOnlyDictionary<string, TensorShape>? inputShapes = null)
        => new(ModelLoader.Load(model, inputShapes), options);

    public FastConvSessionOptions Options { get; }

    /// <summary>The compiled graph of the latest run's shapes: shapes, parameters and FLOPs per node (counted on first use).</summary>
    public GraphInfo Info => Current.Info;

    /// <summary>The backend the options asked for (resolved from <c>auto</c>).</summary>
    public string BackendName => _backends[0].Name;

    /// <summary>For <c>auto</c>: why better backends were passed over (empty when the first choice was taken).</summary>
    public IReadOnlyList<string> BackendSkipped { get; }

    /// <summary>The inputs with the shapes of the latest plan (for a dynamic model not run yet: 0 where a size is missing).</summary>
    public IReadOnlyList<GraphValue> Inputs { get; private set; }

    /// <summary>The outputs with the shapes of the latest plan.</summary>
    public IReadOnlyList<GraphValue> Outputs { get; private set; }

    /// <summary>Each input's name, element type and dimensions as the model declares them (symbols where dynamic).</summary>
    public IReadOnlyList<ValueMetadata> InputMetadata => [.. _graph.Inputs.Select(i => new ValueMetadata(i.Name, ElementType.Float32,
        [.. Enumerable.Range(0, i.Shape.Rank).Select(d => i.Symbols?[d] is null ? i.Shape[d] : (int?)null)],
        [.. Enumerable.Range(0, i.Shape.Rank).Select(d => i.Symbols?[d])]))];

    /// <summary>Each output's name, element type and dimensions for the latest plan's input shapes (null dims before any plan).</summary>
    public IReadOnlyList<ValueMetadata> OutputMetadata => [.. Outputs.Select(o => new ValueMetadata(o.Name, ElementType.Float32,
        [.. o.Shape.Select(d => _current is null ? (int?)null : d)], [.. o.Shape.Select(_ => (string?)null)]))];

    /// <summary>Each node's op, backend, algorithm and layout, in execution order (latest plan).</summary>
    public IReadOnlyList<SessionNodePlan> NodePlans => Current.NodePlans;

    /// <summary>The passes run, the node plans, the inserted copies and reorders and the arenas of the latest plan (<c>fastconv summary --plan</c>).</summary>
    public SessionPlan Plan => Current.Plan;

    /// <summary>Size of the latest plan's host activation arena in floats (every input, intermediate and output, placed by liveness).</summary>
    public int ArenaFloats => Current.ArenaFloats;

    /// <summary>The copies between host and device one run of the latest plan makes (its Copy nodes); zero on the host.</summary>
    public TransferCounters TransfersPerRun => Current.Execution.TransfersPerRun;

    /// <summary>
    /// Every copy between host and device the device backend's driver has made so far (the weights' uploads included),
    /// so the difference across a run shows what that run moved; zero for a host backend.
    /// </summary>
    public TransferCounters DeviceTransfers => _backends[0] is IDeviceBackend d ? d.Transfers : default;

    /// <summary>How many input shapes have a plan kept (at most <see cref="FastConvSessionOptions.MaxShapePlans"/>).</summary>
    public int PlannedShapes
    {
        get
        {
            lock (_gate)
                return _plans.Count;
        }
    }

    private Compiled Current => _current ?? throw new InvalidShapeException(
        $"the model has dynamic inputs ({string.Join(", ", _graph.Inputs.Select(i => $"{i.Name}{i.Declared}"))}) and has not been planned for any sizes yet; run it, or give FastConvSessionOptions.InputShapes.");

    /// <summary>Runs the model on named inputs and returns new output tensors (allocates the outputs; see the other overloads to avoid that).</summary>
    public IReadOnlyDictionary<string, Tensor> Run(IReadOnlyDictionary<string, Tensor> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        foreach (string name in inputs.Keys)
        {
            if (!_inputIndex.ContainsKey(name))
            {
                throw new InvalidModelException($"'{name}' is not an input of the model; inputs: {DescribeInputs()}.");
            }
        }
        string[] names = [.. _graph.Inputs.Select(i => i.Name)];
        Tensor[] values = [.. names.Select(n => inputs.TryGetValue(n, out Tensor? t) ? t : throw new InvalidModelException($"input '{n}' is missing; the model needs {DescribeInputs()}."))];
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            Compiled c = Resolve(names, values);
            Tensor[] outputs = [.. c.Outputs.Select(o => Tensor.Allocate(o.Shape))];
            RunLocked(c, names, values, [.. c.Outputs.Select(o => o.Name)], outputs);
            for (int i = 0; i < outputs.Length; i++)
            {
                result[c.Outputs[i].Name] = outputs[i];
            }
        }
        return result;
    }

    /// <summary>
    /// Runs the model with caller-owned tensors, as ONNX Runtime's <c>Run(inputNames, inputValues, outputNames,
    /// outputValues)</c>: every model input is given once; each named output is written into the matching
    /// pre-allocated tensor (of the output's shape for these inputs). Allocates nothing once the inputs' shapes are planned.
    /// </summary>
    public void Run(IReadOnlyList<string> inputNames, IReadOnlyList<Tensor> inputs, IReadOnlyList<string> outputNames, IReadOnlyList<Tensor> outputs)
    {
        ArgumentNullException.ThrowIfNull(inputNames);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(outputNames);
        ArgumentNullException.ThrowIfNull(outputs);
        if (inputNames.Count != inputs.Count || outputNames.Count != outputs.Count)
        {
            throw new ArgumentException("each name needs one tensor (input and output lists must have the same lengths as their name lists).");
        }
        if (inputNames.Count != _graph.Inputs.Count)
        {
            throw new InvalidModelException($"the model has {_graph.Inputs.Count} input(s) ({DescribeInputs()}), {inputNames.Count} given.");
        }
        RequireEntries(inputNames, inputs, "input");
        RequireEntries(outputNames, outputs, "output");
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            RunLocked(Resolve(inputNames, inputs), inputNames, inputs, outputNames, outputs);
        }
    }

    /// <summary>Runs a model with one input and one output on caller-owned spans (row-major, the planned shapes' element counts). Allocates nothing.</summary>
    public void Run(ReadOnlySpan<float> input, Span<float> output)
    {
        if (_graph.Inputs.Count != 1 || _graph.Outputs.Count != 1)
        {
            throw new InvalidModelException($"Run(span, span) needs a model with one input and one output; this one has {_graph.Inputs.Count} and {_graph.Outputs.Count}; use the named overloads.");
        }
        Run(_graph.Inputs[0].Name, input, _graph.Outputs[0], output);
    }

    /// <summary>
    /// Runs a model with one input on caller-owned spans, writing the named output. Allocates nothing. A span has no
    /// shape: the input is read with the shape of the latest plan (give tensors to run a dynamic model at new sizes).
    /// </summary>
    public void Run(string inputName, ReadOnlySpan<float> input, string outputName, Span<float> output)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_graph.Inputs.Count != 1)
            {
                throw new InvalidModelException($"the model has {_graph.Inputs.Count} inputs ({DescribeInputs()}); use Run with named tensors.");
            }
            Compiled c = Current;
            int k = InputIndex(inputName);
            if (input.Length != c.Inputs[k].Shape.ElementCount)
            {
                throw new InvalidShapeException($"input '{inputName}' needs {c.Inputs[k].Shape.ElementCount} floats (shape {c.Inputs[k].Shape}), got {input.Length}.");
            }
            int o = OutputIndex(outputName);
            if (output.Length != c.Outputs[o].Shape.ElementCount)
            {
                throw new InvalidShapeException($"output '{outputName}' needs {c.Outputs[o].Shape.ElementCount} floats (shape {c.Outputs[o].Shape}), got {output.Length}.");
            }
            input.CopyTo(c.Execution.Input(k).Span);
            c.Execution.Execute();
            c.Execution.Output(o).Span.CopyTo(output);
        }
    }

    /// <summary>
    /// Runs the model <paramref name="runs"/> times on <paramref name="inputs"/> timing each node, and returns each
    /// node's plan with its median time in milliseconds (diagnostics: where a run spends its time).
    /// </summary>
    public IReadOnlyList<(SessionNodePlan Node, double MedianMs)> Profile(IReadOnlyDictionary<string, Tensor> inputs, int runs = 10)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        Run(inputs);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            Compiled c = Current;
            IReadOnlyList<Step> steps = c.Execution.Steps;
            var times = new double[steps.Count, runs];
            c.Execution.Device?.MakeCurrent();
            for (int r = 0; r < runs; r++)
            {
                for (int i = 0; i < steps.Count; i++)
                {
                    long start = System.Diagnostics.Stopwatch.GetTimestamp();
                    steps[i].Execute();
                    c.Execution.Synchronize(); // device work is queued: time it to its end
                    times[i, r] = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                }
            }
            return [.. Enumerable.Range(0, steps.Count).Select(i =>
            {
                double[] t = [.. Enumerable.Range(0, runs).Select(r => times[i, r]).Order()];
                return (c.NodePlans[i], t[runs / 2]);
            })];
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            foreach (Compiled c in _plans)
            {
                c.Dispose();
            }
            _plans.Clear();
            foreach (IBackend b in _backends)
            {
                b.Dispose();
            }
        }
    }

    private void RunLocked(Compiled c, IReadOnlyList<string> inputNames, IReadOnlyList<Tensor> inputs, IReadOnlyList<string> outputNames, IReadOnlyList<Tensor> outputs)
    {
        for (int i = 0; i < outputNames.Count; i++)
        {
            int k = OutputIndex(outputNames[i]);
            CheckShape(outputs[i].Shape, c.Outputs[k].Shape, "output", outputNames[i]);
        }
        for (int i = 0; i < inputNames.Count; i++)
        {
            inputs[i].Span.CopyTo(c.Execution.Input(InputIndex(inputNames[i])).Span);
        }
        c.Execution.Execute();
        for (int i = 0; i < outputNames.Count; i++)
        {
            c.Execution.Output(OutputIndex(outputNames[i])).Span.CopyTo(outputs[i].Span);
        }
    }

    /// <summary>The plan for the given inputs' shapes: the latest one when they match (no allocation), else a kept or a new one.</summary>
    private Compiled Resolve(IReadOnlyList<string> names, IReadOnlyList<Tensor> inputs)
    {
        if (_current is { } c && Matches(c, names, inputs))
        {
            return c;
        }
        for (LinkedListNode<Compiled>? n = _plans.First; n is not null; n = n.Next)
        {
            if (Matches(n.Value, names, inputs))
            {
                _plans.Remove(n);
                _plans.AddFirst(n);
                return Switch(n.Value);
            }
        }
        if (_generic is null)
        {
            // A fixed-shape model: say which input is wrong.
            Compiled fixedPlan = Current;
            for (int i = 0; i < names.Count; i++)
            {
                CheckShape(inputs[i].Shape, fixedPlan.Inputs[InputIndex(names[i])].Shape, "input", names[i]);
            }
            return fixedPlan;
        }
        var shapes = new Dictionary<string, TensorShape>(StringComparer.Ordinal);
        for (int i = 0; i < names.Count; i++)
        {
            shapes[names[i]] = inputs[i].Shape;
        }
        Compiled created = Compile(Bind(shapes));
        _plans.AddFirst(created);
        while (_plans.Count > Math.Max(1, Options.MaxShapePlans))
        {
            Compiled evicted = _plans.Last!.Value;
            _plans.RemoveLast();
            evicted.Dispose();
        }
        return Switch(created);
    }

    private Compiled Switch(Compiled c)
    {
        _current = c;
        Inputs = c.Inputs;
        Outputs = c.Outputs;
        return c;
    }

    private bool Matches(Compiled c, IReadOnlyList<string> names, IReadOnlyList<Tensor> inputs)
    {
        for (int i = 0; i < names.Count; i++)
        {
            if (inputs[i].Shape != c.Inputs[InputIndex(names[i])].Shape)
            {
                return false;
            }
        }
        return true;
    }

    private Graph Bind(IReadOnlyDictionary<string, TensorShape> shapes)
    {
        if (_generic is null)
        {
            foreach (var (name, shape) in shapes)
            {
                CheckShape(shape, _graph.Inputs[InputIndex(name)].Shape, "input", name);
            }
            return _graph;
        }
        return InferPass.Bind(_generic, shapes, Options.MaxNodes, Options.Cancellation);
    }

    private Compiled Compile(Graph graph)
    {
        IBackend reference = _backends.First(b => b.Name == BackendNames.Reference);
        CompiledGraph compiled = GraphCompiler.Compile(graph, new CompileOptions
        {
            Backends = _backends,
            Evaluator = reference,
            Optimizer = Options.Optimizer,
            MaxNodes = Options.MaxNodes,
            Cancellation = Options.Cancellation,
        });
        return new Compiled(compiled, ExecutionPlan.Create(compiled, _backends, Options.Cancellation, Options.MemoryLimitBytes));
    }

    private int InputIndex(string name) => _inputIndex.TryGetValue(name, out int k) ? k
        : throw new InvalidModelException($"'{name}' is not an input of the model; inputs: {DescribeInputs()}.");

    private int OutputIndex(string name) => _outputIndex.TryGetValue(name, out int k) ? k
        : throw new InvalidModelException($"'{name}' is not an output of the model; outputs: {string.Join(", ", Outputs.Select(o => $"{o.Name}{o.Shape}"))}.");

    private string DescribeInputs() => string.Join(", ", (_current?.Inputs ?? [.. _graph.Inputs]).Select(i => $"{i.Name}{(i.IsBound ? i.Shape.ToString() : i.Declared)}"));

    private static void RequireEntries(IReadOnlyList<string> names, IReadOnlyList<Tensor> tensors, string what)
    {
        for (int i = 0; i < names.Count; i++)
        {
            if (names[i] is null || tensors[i] is null)
            {
                throw new ArgumentException($"{what} {i} ({names[i] ?? "no name"}) is null; every {what} needs a name and a tensor.");
            }
        }
    }

    private static void CheckShape(TensorShape given, TensorShape expected, string what, string name)
    {
        if (given != expected)
        {
            throw new InvalidShapeException($"{what} '{name}' must have shape {expected}, got {given}.");
        }
    }

    /// <summary>One compiled and planned graph, for one set of input shapes.</summary>
    private sealed class Compiled : IDisposable
    {
        private readonly Lazy<GraphInfo> _info;

        public Compiled(CompiledGraph compiled, ExecutionPlan execution)
        {
            Execution = execution;
            Graph g = compiled.Graph;
            _info = new Lazy<GraphInfo>(() => GraphInfo.Analyze(g));
            Inputs = [.. g.Inputs];
            Outputs = [.. g.Outputs.Select(o => new GraphValue(o, g.ShapeOf(o)))];
            NodePlans = [.. g.Nodes.Select((n, i) => new SessionNodePlan(execution.Steps[i].Node, n.Name.Length > 0 ? n.Name : n.Outputs[0], n.OpType,
                execution.Steps[i].Backend, execution.Steps[i].Algorithm,
                n.Outputs.Length > 0 && g.Values.TryGetValue(n.Outputs[0], out ValueInfo? v) ? v.Layout.ToString() : TensorLayout.Nchw.ToString(),
                execution.Steps[i].Plan?.WorkspaceBytes ?? 0))];
            Plan = new SessionPlan([.. g.Passes], NodePlans, g.Nodes.Count(n => n.OpType == FastConvOps.Copy), g.Nodes.Count(n => n.OpType == FastConvOps.Reorder),
                compiled.Memory.ArenaBytes);
            ArenaFloats = (int)(compiled.Memory.BytesOf(MemorySpace.Host) / sizeof(float));
        }

        public ExecutionPlan Execution { get; }
        public GraphInfo Info => _info.Value;
        public IReadOnlyList<GraphValue> Inputs { get; }
        public IReadOnlyList<GraphValue> Outputs { get; }
        public IReadOnlyList<SessionNodePlan> NodePlans { get; }
        public SessionPlan Plan { get; }
        public int ArenaFloats { get; }

        public void Dispose() => Execution.Dispose();
    }
}
