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

/// <summary>
/// A model compiled once and run many times, shaped like ONNX Runtime's <c>InferenceSession</c>: the graph goes
/// through the compile passes (<see cref="GraphCompiler"/>: infer → fold → fuse → place → layout → memory), then every
/// node is planned on the backend the place pass chose (<see cref="ExecutionPlan"/>): the chosen backend first, the
/// <c>cpu</c> engine and then the <c>reference</c> for nodes it does not run; all activations in one arena per memory
/// space placed by liveness; weights packed once by the plans.
/// <para>
/// Runs with caller-owned inputs and outputs (tensors or spans) allocate nothing on the managed heap after the
/// first run (on backends whose plans allocate nothing, e.g. <c>cpu</c>). A session is thread-safe: runs from
/// many threads are serialized on one lock, because the arena and the plans' scratch belong to the session
/// (each run still uses every worker thread of the backend). For runs in parallel, create one session per
/// concurrent caller (weights are packed per session).
/// </para>
/// </summary>
public sealed class Session : IDisposable
{
    private readonly Lock _gate = new();
    private readonly List<IBackend> _backends = [];
    private readonly ExecutionPlan _plan;
    private readonly Lazy<GraphInfo> _info;
    private readonly Dictionary<string, int> _inputIndex = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _outputIndex = new(StringComparer.Ordinal);
    private bool _disposed;

    /// <summary>Compiles and plans <paramref name="graph"/> (which is not modified: the passes work on a copy).</summary>
    public Session(Graph graph, SessionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(graph);
        Options = options ?? new SessionOptions();
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
            IBackend reference = _backends.First(b => b.Name == BackendNames.Reference);
            CompiledGraph compiled = GraphCompiler.Compile(graph, new CompileOptions
            {
                Backends = _backends,
                Evaluator = reference,
                Optimizer = Options.Optimizer,
                MaxNodes = Options.MaxNodes,
                Cancellation = Options.Cancellation,
            });
            _plan = ExecutionPlan.Create(compiled, _backends, Options.Cancellation);
            Graph optimized = compiled.Graph;
            _info = new Lazy<GraphInfo>(() => GraphInfo.Analyze(optimized));
            Inputs = [.. optimized.Inputs];
            Outputs = [.. optimized.Outputs.Select(o => new GraphValue(o, optimized.ShapeOf(o)))];
            for (int i = 0; i < Inputs.Count; i++)
            {
                _inputIndex[Inputs[i].Name] = i;
            }
            for (int i = 0; i < Outputs.Count; i++)
            {
                _outputIndex[Outputs[i].Name] = i;
            }
            NodePlans = [.. optimized.Nodes.Select((n, i) => new SessionNodePlan(_plan.Steps[i].Node, n.Name.Length > 0 ? n.Name : n.Outputs[0], n.OpType, _plan.Steps[i].Backend, _plan.Steps[i].Algorithm,
                n.Outputs.Length > 0 && optimized.Values.TryGetValue(n.Outputs[0], out ValueInfo? v) ? v.Layout.ToString() : TensorLayout.Nchw.ToString(),
                _plan.Steps[i].Plan?.WorkspaceBytes ?? 0))];
            Plan = new SessionPlan([.. optimized.Passes], NodePlans,
                optimized.Nodes.Count(n => n.OpType == FastConvOps.Copy), optimized.Nodes.Count(n => n.OpType == FastConvOps.Reorder),
                compiled.Memory.ArenaBytes);
            ArenaFloats = (int)(compiled.Memory.BytesOf(MemorySpace.Host) / sizeof(float));
        }
        catch
        {
            _plan?.Dispose();
            foreach (IBackend b in _backends)
            {
                b.Dispose();
            }
            throw;
        }
    }

    /// <summary>Loads <paramref name="model"/> (<c>builtin:NAME</c> or an .onnx path, see <see cref="ModelLoader"/>) and plans it.</summary>
    public static Session Load(string model, SessionOptions? options = null, IReadOnlyDictionary<string, TensorShape>? inputShapes = null)
        => new(ModelLoader.Load(model, inputShapes), options);

    public SessionOptions Options { get; }

    /// <summary>The compiled graph as planned: shapes, parameters and FLOPs per node (counted on first use).</summary>
    public GraphInfo Info => _info.Value;

    /// <summary>The backend the options asked for (resolved from <c>auto</c>).</summary>
    public string BackendName => _backends[0].Name;

    /// <summary>For <c>auto</c>: why better backends were passed over (empty when the first choice was taken).</summary>
    public IReadOnlyList<string> BackendSkipped { get; }

    public IReadOnlyList<GraphValue> Inputs { get; }
    public IReadOnlyList<GraphValue> Outputs { get; }

    /// <summary>Each node's op, backend, algorithm and layout, in execution order.</summary>
    public IReadOnlyList<SessionNodePlan> NodePlans { get; }

    /// <summary>The passes run, the node plans, the inserted copies and reorders and the arenas (<c>fastconv summary --plan</c>).</summary>
    public SessionPlan Plan { get; }

    /// <summary>Size of the host activation arena in floats (every input, intermediate and output, placed by liveness).</summary>
    public int ArenaFloats { get; }

    /// <summary>Runs the model on named inputs and returns new output tensors (allocates the outputs; see the other overloads to avoid that).</summary>
    public IReadOnlyDictionary<string, Tensor> Run(IReadOnlyDictionary<string, Tensor> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        foreach (string name in inputs.Keys)
        {
            if (!_inputIndex.ContainsKey(name))
            {
                throw new InvalidModelException($"'{name}' is not an input of the model; inputs: {string.Join(", ", Inputs.Select(i => $"{i.Name}{i.Shape}"))}.");
            }
        }
        var names = Inputs.Select(i => i.Name).ToArray();
        var values = names.Select(n => inputs.TryGetValue(n, out Tensor? t) ? t : throw new InvalidModelException($"input '{n}' is missing; the model needs {string.Join(", ", Inputs.Select(i => $"{i.Name}{i.Shape}"))}.")).ToArray();
        var outputs = Outputs.Select(o => Tensor.Allocate(o.Shape)).ToArray();
        Run(names, values, [.. Outputs.Select(o => o.Name)], outputs);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        for (int i = 0; i < outputs.Length; i++)
        {
            result[Outputs[i].Name] = outputs[i];
        }
        return result;
    }

    /// <summary>
    /// Runs the model with caller-owned tensors, as ONNX Runtime's <c>Run(inputNames, inputValues, outputNames,
    /// outputValues)</c>: every model input is given once; each named output is written into the matching
    /// pre-allocated tensor (of the output's shape). Allocates nothing.
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
        if (inputNames.Count != Inputs.Count)
        {
            throw new InvalidModelException($"the model has {Inputs.Count} input(s) ({DescribeInputs()}), {inputNames.Count} given.");
        }
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            for (int i = 0; i < inputNames.Count; i++)
            {
                int k = InputIndex(inputNames[i]);
                CheckShape(inputs[i].Shape, Inputs[k].Shape, "input", inputNames[i]);
                inputs[i].Span.CopyTo(_plan.Input(k).Span);
            }
            _plan.Execute();
            for (int i = 0; i < outputNames.Count; i++)
            {
                int k = OutputIndex(outputNames[i]);
                CheckShape(outputs[i].Shape, Outputs[k].Shape, "output", outputNames[i]);
                _plan.Output(k).Span.CopyTo(outputs[i].Span);
            }
        }
    }

    /// <summary>Runs a model with one input and one output on caller-owned spans (row-major, the shapes' element counts). Allocates nothing.</summary>
    public void Run(ReadOnlySpan<float> input, Span<float> output)
    {
        if (Inputs.Count != 1 || Outputs.Count != 1)
        {
            throw new InvalidModelException($"Run(span, span) needs a model with one input and one output; this one has {Inputs.Count} and {Outputs.Count}; use the named overloads.");
        }
        Run(Inputs[0].Name, input, Outputs[0].Name, output);
    }

    /// <summary>Runs a model with one input on caller-owned spans, writing the named output. Allocates nothing.</summary>
    public void Run(string inputName, ReadOnlySpan<float> input, string outputName, Span<float> output)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (Inputs.Count != 1)
            {
                throw new InvalidModelException($"the model has {Inputs.Count} inputs ({DescribeInputs()}); use Run with named tensors.");
            }
            int k = InputIndex(inputName);
            if (input.Length != Inputs[k].Shape.ElementCount)
            {
                throw new InvalidShapeException($"input '{inputName}' needs {Inputs[k].Shape.ElementCount} floats (shape {Inputs[k].Shape}), got {input.Length}.");
            }
            input.CopyTo(_plan.Input(k).Span);
            _plan.Execute();
            int o = OutputIndex(outputName);
            if (output.Length != Outputs[o].Shape.ElementCount)
            {
                throw new InvalidShapeException($"output '{outputName}' needs {Outputs[o].Shape.ElementCount} floats (shape {Outputs[o].Shape}), got {output.Length}.");
            }
            _plan.Output(o).Span.CopyTo(output);
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
        IReadOnlyList<Step> steps = _plan.Steps;
        var times = new double[steps.Count, runs];
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            for (int r = 0; r < runs; r++)
            {
                for (int i = 0; i < steps.Count; i++)
                {
                    long start = System.Diagnostics.Stopwatch.GetTimestamp();
                    steps[i].Execute();
                    times[i, r] = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                }
            }
        }
        return [.. Enumerable.Range(0, steps.Count).Select(i =>
        {
            double[] t = [.. Enumerable.Range(0, runs).Select(r => times[i, r]).Order()];
            return (NodePlans[i], t[runs / 2]);
        })];
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
            _plan.Dispose();
            foreach (IBackend b in _backends)
            {
                b.Dispose();
            }
        }
    }

    private int InputIndex(string name) => _inputIndex.TryGetValue(name, out int k) ? k
        : throw new InvalidModelException($"'{name}' is not an input of the model; inputs: {DescribeInputs()}.");

    private int OutputIndex(string name) => _outputIndex.TryGetValue(name, out int k) ? k
        : throw new InvalidModelException($"'{name}' is not an output of the model; outputs: {string.Join(", ", Outputs.Select(o => $"{o.Name}{o.Shape}"))}.");

    private string DescribeInputs() => string.Join(", ", Inputs.Select(i => $"{i.Name}{i.Shape}"));

    private static void CheckShape(TensorShape given, TensorShape expected, string what, string name)
    {
        if (given != expected)
        {
            throw new InvalidShapeException($"{what} '{name}' must have shape {expected}, got {given}.");
        }
    }
}
