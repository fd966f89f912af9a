using FastConv.Backends;
using FastConv.Graphs;
using FastConv.Graphs.Ops;
using FastConv.Ops;

namespace FastConv.Sessions;

/// <summary>How one node of a session was planned: which backend runs it and with what algorithm.</summary>
public sealed record SessionNodePlan(string Node, string Backend, string Algorithm, long WorkspaceBytes);

/// <summary>
/// A model planned once and run many times, shaped like ONNX Runtime's <c>InferenceSession</c>:
/// load → optimize (<see cref="GraphOptimizer"/>) → plan (a backend per node, falling back to <c>cpu</c> and
/// then <c>reference</c> for nodes the chosen backend does not run; all activations in one arena placed by
/// buffer liveness; weights packed once by the plans) → <see cref="Run(IReadOnlyList{string}, IReadOnlyList{Tensor}, IReadOnlyList{string}, IReadOnlyList{Tensor})"/>.
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
    private readonly Step[] _steps;
    private readonly float[] _arena;
    private readonly Dictionary<string, Tensor> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _inputIndex = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _outputIndex = new(StringComparer.Ordinal);
    private readonly Tensor[] _inputTensors;
    private readonly Tensor[] _outputTensors;
    private bool _disposed;

    /// <summary>Plans <paramref name="graph"/> (which is not modified: the optimizer works on a copy).</summary>
    public Session(Graph graph, SessionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(graph);
        Options = options ?? new SessionOptions();
        Graph optimized = GraphOptimizer.Optimize(graph, Options.Optimizer);
        Info = GraphInfo.Analyze(optimized);
        var backendOptions = new BackendOptions { Threads = Options.Threads, Exact = Options.Exact };
        (IBackend main, IReadOnlyList<string> skipped) = BackendRegistry.Resolve(Options.Backend, backendOptions);
        _backends.Add(main);
        BackendSkipped = skipped;
        try
        {
            // Fallbacks for nodes the chosen backend does not run: the CPU engine, then the oracle.
            foreach (string name in (string[])[BackendNames.Cpu, BackendNames.Reference])
            {
                if (main.Name != name && main.Name != BackendNames.Reference)
                {
                    _backends.Add(BackendRegistry.Create(name, backendOptions));
                }
            }
            Inputs = [.. optimized.Inputs];
            Outputs = [.. optimized.Outputs.Select(o => new GraphValue(o, Info.Shapes[o]))];
            (_arena, ArenaFloats) = PlanArena(optimized);
            _steps = new Step[Info.Nodes.Count];
            for (int i = 0; i < _steps.Length; i++)
            {
                _steps[i] = PlanNode(Info.Nodes[i], optimized);
            }
            _inputTensors = [.. Inputs.Select(v => _values[v.Name])];
            _outputTensors = [.. Outputs.Select(v => Value(optimized, v.Name))];
            for (int i = 0; i < Inputs.Count; i++)
            {
                _inputIndex[Inputs[i].Name] = i;
            }
            for (int i = 0; i < Outputs.Count; i++)
            {
                _outputIndex[Outputs[i].Name] = i;
            }
            NodePlans = [.. _steps.Select(s => new SessionNodePlan(s.Node, s.Backend, s.Algorithm, s.Plan?.WorkspaceBytes ?? 0))];
        }
        catch
        {
            foreach (Step? s in _steps ?? [])
            {
                s?.Dispose();
            }
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

    /// <summary>The optimized graph as planned: shapes, parameters and FLOPs per node.</summary>
    public GraphInfo Info { get; }

    /// <summary>The backend the options asked for (resolved from <c>auto</c>).</summary>
    public string BackendName => _backends[0].Name;

    /// <summary>For <c>auto</c>: why better backends were passed over (empty when the first choice was taken).</summary>
    public IReadOnlyList<string> BackendSkipped { get; }

    public IReadOnlyList<GraphValue> Inputs { get; }
    public IReadOnlyList<GraphValue> Outputs { get; }

    /// <summary>Each node's backend and algorithm, in execution order.</summary>
    public IReadOnlyList<SessionNodePlan> NodePlans { get; }

    /// <summary>Size of the activation arena in floats (every input, intermediate and output, placed by liveness).</summary>
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
                inputs[i].Span.CopyTo(_inputTensors[k].Span);
            }
            Execute();
            for (int i = 0; i < outputNames.Count; i++)
            {
                int k = OutputIndex(outputNames[i]);
                CheckShape(outputs[i].Shape, Outputs[k].Shape, "output", outputNames[i]);
                _outputTensors[k].Span.CopyTo(outputs[i].Span);
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
            input.CopyTo(_inputTensors[k].Span);
            Execute();
            int o = OutputIndex(outputName);
            if (output.Length != Outputs[o].Shape.ElementCount)
            {
                throw new InvalidShapeException($"output '{outputName}' needs {Outputs[o].Shape.ElementCount} floats (shape {Outputs[o].Shape}), got {output.Length}.");
            }
            _outputTensors[o].Span.CopyTo(output);
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
        var times = new double[_steps.Length, runs];
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            for (int r = 0; r < runs; r++)
            {
                for (int i = 0; i < _steps.Length; i++)
                {
                    long start = System.Diagnostics.Stopwatch.GetTimestamp();
                    _steps[i].Execute();
                    times[i, r] = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                }
            }
        }
        return [.. Enumerable.Range(0, _steps.Length).Select(i =>
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
            foreach (Step s in _steps)
            {
                s.Dispose();
            }
            foreach (IBackend b in _backends)
            {
                b.Dispose();
            }
        }
    }

    private void Execute()
    {
        foreach (Step s in _steps)
        {
            s.Execute();
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

    private (float[] Arena, int Floats) PlanArena(Graph graph)
    {
        int n = graph.Nodes.Count;
        var first = new Dictionary<string, int>(StringComparer.Ordinal);
        var last = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (GraphValue input in graph.Inputs)
        {
            first[input.Name] = -1;
            last[input.Name] = -1;
        }
        for (int i = 0; i < n; i++)
        {
            Node node = graph.Nodes[i];
            foreach (string name in node.Inputs)
            {
                if (name.Length > 0 && !graph.Constants.ContainsKey(name))
                {
                    last[name] = i;
                }
            }
            foreach (string name in node.Outputs)
            {
                if (name.Length > 0)
                {
                    first[name] = i;
                    last[name] = Math.Max(last.GetValueOrDefault(name, i), i);
                }
            }
        }
        foreach (string o in graph.Outputs)
        {
            if (first.ContainsKey(o))
            {
                last[o] = n;
            }
        }
        var requests = first.Keys.Select(name => new ArenaRequest(name, Info.Shapes[name].ElementCount, first[name], last[name])).ToList();
        (Dictionary<string, int> offsets, int total) = ArenaPlanner.Plan(requests);
        var arena = GC.AllocateUninitializedArray<float>(total, pinned: true);
        foreach (ArenaRequest r in requests)
        {
            _values[r.Name] = Tensor.Wrap(arena.AsMemory(offsets[r.Name], r.Floats), Info.Shapes[r.Name]);
        }
        return (arena, total);
    }

    private Tensor Value(Graph graph, string name)
    {
        if (_values.TryGetValue(name, out Tensor? t))
        {
            return t;
        }
        if (graph.Constants.TryGetValue(name, out GraphConstant? c))
        {
            t = c.ToTensor();
            _values[name] = t;
            return t;
        }
        throw new InvalidModelException($"value '{name}' has no buffer.");
    }

    private (T Plan, string Backend) Choose<T>(Node node, Func<IBackend, T?> plan) where T : class
    {
        foreach (IBackend b in _backends)
        {
            T? p = plan(b);
            if (p is not null)
            {
                return (p, b.Name);
            }
        }
        throw new UnsupportedModelException([$"{node.Describe()}: no backend of this session ({string.Join(", ", _backends.Select(b => b.Name))}) runs it."]);
    }

    private Step PlanNode(NodeInfo info, Graph graph)
    {
        Node node = info.Node;
        var context = OpContext.For(node, graph, Info.Shapes);
        Tensor In(int i) => Value(graph, node.Inputs[i]);
        Tensor? Opt(int i) => node.HasInput(i) ? In(i) : null;
        Tensor y = Value(graph, node.Outputs[0]);
        string name = node.Describe();
        TensorShape x0 = context.Shape(0, "input");

        Step Unary(Func<IBackend, IUnaryPlan?> plan, Tensor? x = null)
        {
            var (p, b) = Choose(node, plan);
            return new UnaryStep(name, b, p, x ?? In(0), y);
        }

        switch (node.OpType)
        {
            case "Conv":
            case OpAttributes.FusedConv:
            {
                Conv2dParams p = OpAttributes.Conv(node, x0, context.Shape(1, "W"));
                var shape = Conv2dShape.From(x0, context.Shape(1, "W"), p, context.Has(2) ? context.Shape(2, "B") : null);
                var epilogue = ConvEpilogue.None;
                Tensor? residual = null;
                if (node.OpType == OpAttributes.FusedConv)
                {
                    residual = Opt(3);
                    epilogue = new ConvEpilogue { AddResidual = residual is not null, Activation = OpAttributes.FusedActivation(node) };
                }
                IBackend main = _backends[0];
                IConv2dPlan plan = main.PlanConv2d(shape, context.RequireConstant(1, "W").ToTensor(), context.Constant(2)?.ToTensor(), epilogue);
                return new ConvStep(name, main.Name, plan, In(0), y, residual);
            }
            case "ConvTranspose":
            {
                TensorShape w = context.Shape(1, "W");
                var shape = ConvTranspose2dShape.From(x0, w, OpAttributes.ConvTranspose(node, x0, w), context.Has(2) ? context.Shape(2, "B") : null);
                Tensor wt = context.RequireConstant(1, "W").ToTensor();
                Tensor? bt = context.Constant(2)?.ToTensor();
                return Unary(b => b.PlanConvTranspose2d(shape, wt, bt));
            }
            case "MaxPool":
            case "AveragePool":
            {
                var shape = Pool2dShape.From(x0, OpAttributes.Pool(node, x0), node.OpType);
                return Unary(b => b.PlanPool2d(shape, node.OpType == "MaxPool"));
            }
            case "GlobalAveragePool":
            case "GlobalMaxPool":
                return Unary(b => b.PlanGlobalPool(x0, node.OpType == "GlobalMaxPool"));
            case "Relu":
            case "LeakyRelu":
            case "Clip":
            case "Sigmoid":
            case "Tanh":
            case "HardSigmoid":
            case "HardSwish":
            {
                Activation a = OpAttributes.AsActivation(node, context.Constant(1), context.Constant(2))!.Value;
                return Unary(b => b.PlanActivation(a, x0));
            }
            case "Gelu":
            {
                var p = new GeluParams { Approximate = node.GetString("approximate", "none") == "tanh" ? GeluApproximation.Tanh : GeluApproximation.None };
                return Unary(b => b.PlanGelu(x0, p));
            }
            case "Sqrt":
                return Unary(b => b.PlanSqrt(x0));
            case "PRelu":
            {
                Tensor slope = context.RequireConstant(1, "slope").ToTensor();
                return Unary(b => b.PlanPRelu(x0, slope));
            }
            case "BatchNormalization":
            {
                Tensor g = context.RequireConstant(1, "scale").ToTensor(), bt = context.RequireConstant(2, "B").ToTensor();
                Tensor m = context.RequireConstant(3, "mean").ToTensor(), v = context.RequireConstant(4, "var").ToTensor();
                float eps = node.GetFloat("epsilon", 1e-5f);
                return Unary(b => b.PlanBatchNormalization(x0, g, bt, m, v, eps));
            }
            case "Gemm":
            {
                Tensor bw = context.RequireConstant(1, "B").ToTensor();
                Tensor? c = context.Constant(2)?.ToTensor();
                GemmParams p = OpAttributes.Gemm(node);
                return Unary(b => b.PlanGemm(x0, bw, c, p));
            }
            case "MatMul":
            {
                TensorShape bShape = context.Shape(1, "B");
                if (context.Constant(1) is { } bc && bShape.Rank == 2 && x0.Rank >= 2 && context.Constant(0) is null)
                {
                    // A constant right operand is a fully-connected layer: run it as Gemm on A seen as [rows, K].
                    var a2 = TensorShape.Of(x0.ElementCount / x0[^1], x0[^1]);
                    Tensor bw = bc.ToTensor();
                    var (p, backend) = Choose(node, b => b.PlanGemm(a2, bw, null, GemmParams.Default));
                    return new UnaryStep(name, backend, p, In(0).Reshape(a2), y.Reshape(p.OutputShape));
                }
                var (mp, mb) = Choose(node, b => b.PlanMatMul(x0, bShape));
                return new BinaryStep(name, mb, mp, In(0), In(1), y);
            }
            case "Softmax":
            {
                int axis = OpAttributes.SoftmaxAxis(node);
                if (node.Opset is > 0 and < 13)
                {
                    // Before opset 13 Softmax flattens to 2-D at axis and normalizes each row.
                    int a = x0.NormalizeAxis(axis, "Softmax");
                    int outer = 1;
                    for (int d = 0; d < a; d++)
                    {
                        outer *= x0[d];
                    }
                    var flat = TensorShape.Of(outer, outer == 0 ? 0 : x0.ElementCount / outer);
                    var (p, backend) = Choose(node, b => b.PlanSoftmax(flat, 1));
                    return new UnaryStep(name, backend, p, In(0).Reshape(flat), y.Reshape(flat));
                }
                return Unary(b => b.PlanSoftmax(x0, axis));
            }
            case "Add":
            case "Sub":
            case "Mul":
            case "Div":
            case "Pow":
            {
                var op = Enum.Parse<BinaryOpKind>(node.OpType);
                TensorShape bShape = context.Shape(1, "B");
                var (p, backend) = Choose(node, b => b.PlanBinary(op, x0, bShape));
                return new BinaryStep(name, backend, p, In(0), In(1), y);
            }
            case "Concat":
            {
                int[] present = [.. Enumerable.Range(0, node.Inputs.Length).Where(node.HasInput)];
                TensorShape[] shapes = [.. present.Select(i => context.Shape(i, "input"))];
                int axis = (int)node.GetInt("axis", 0);
                var (p, backend) = Choose(node, b => b.PlanConcat(shapes, axis));
                return new NaryStep(name, backend, p, [.. present.Select(In)], y);
            }
            case "Flatten":
            case "Reshape":
            case "Identity":
            case "Dropout":
                return new CopyStep(name, In(0), y);
            case "Transpose":
            {
                int[] perm = TransposeOp.Perm(node, x0);
                return Unary(b => b.PlanTranspose(x0, perm));
            }
            case "Pad":
            {
                PadParams p = PadOp.Params(context);
                return Unary(b => b.PlanPad(x0, p));
            }
            case "Resize":
            {
                ResizeParams p = ResizeOp.Params(context);
                return Unary(b => b.PlanResize(x0, p));
            }
            case "ReduceMean":
            {
                int[] axes = OpAttributes.ReduceAxes(node, x0, context.Constant(1));
                bool keep = node.GetInt("keepdims", 1) != 0;
                return Unary(b => b.PlanReduceMean(x0, axes, keep));
            }
            default:
                throw new UnsupportedModelException([$"{name}: op type '{node.OpType}' has no session planner."]);
        }
    }
}
