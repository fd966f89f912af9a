using System.Diagnostics;
using System.Diagnostics.Metrics;
using FastConv.Backends;
using FastConv.Compilation;
using FastConv.Graphs;
using FastConv.Graphs.Ops;
using FastConv.Onnx;
using Microsoft.Extensions.Logging;

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
/// A model compiled once per input shape and run many times, at once from many threads, shaped like ONNX Runtime's
/// <c>InferenceSession</c>: the graph goes through the compile passes (<see cref="GraphCompiler"/>: infer → fold →
/// fuse → place → layout → memory), then every node is planned on the backend the place pass chose
/// (<see cref="ExecutionPlan"/>): the chosen backend first, the <c>cpu</c> engine and then the <c>reference</c> for
/// nodes it does not run; all activations in one arena per memory space placed by liveness.
/// <para>
/// <b>Concurrency.</b> <c>Run</c> is safe from any number of threads, with no session-wide lock on the way: each run
/// takes an execution context — an <see cref="ExecutionPlan"/> with its own arenas, its plans' scratch and, on a GPU, its
/// own stream — from the session's pool, and gives it back. Contexts are made on demand, up to
/// <see cref="FastConvSessionOptions.MaxConcurrency"/>; a caller beyond that waits for one. Each context packs its own
/// copy of the weights (the plans own them), so memory grows with the contexts in use at once.
/// </para>
/// <para>
/// <b>Dynamic shapes.</b> A model with dynamic input dimensions (an ONNX <c>dim_param</c>) keeps them symbolic until a
/// run: a run with new input shapes infers the graph for them (shape sub-graphs folded anew), compiles and plans it,
/// and keeps the plan for those shapes (up to <see cref="FastConvSessionOptions.MaxShapePlans"/>, least recently used
/// dropped first, and only once no run uses it).
/// </para>
/// <para>
/// Runs with caller-owned inputs and outputs (tensors or spans) allocate nothing on the managed heap once a context
/// exists for their shapes (on backends whose plans allocate nothing, e.g. <c>cpu</c>). Runs are measured
/// (<see cref="MeterName"/>: <c>fastconv.run.duration</c>, <c>fastconv.runs</c>, <c>fastconv.run.failures</c>) and traced
/// (<see cref="ActivitySourceName"/>: <c>fastconv.plan</c>, <c>fastconv.run</c>), so OpenTelemetry picks them up;
/// <see cref="FastConvSessionOptions.Logger"/> hears about planning and the backend chosen, and why.
/// </para>
/// </summary>
public sealed partial class FastConvSession : IDisposable
{
    /// <summary>The <see cref="Meter"/> of every session: run duration (ms), runs, failures, tagged with the backend and the model.</summary>
    public const string MeterName = "FastConv";

    /// <summary>The <see cref="System.Diagnostics.ActivitySource"/> of every session: <c>fastconv.plan</c> and <c>fastconv.run</c>.</summary>
    public const string ActivitySourceName = "FastConv";

    private static readonly Meter s_meter = new(MeterName);
    private static readonly Histogram<double> s_duration = s_meter.CreateHistogram<double>("fastconv.run.duration", "ms", "Duration of a session run.");
    private static readonly Counter<long> s_runs = s_meter.CreateCounter<long>("fastconv.runs", "{run}", "Runs that completed.");
    private static readonly Counter<long> s_failures = s_meter.CreateCounter<long>("fastconv.run.failures", "{run}", "Runs that threw.");
    private static readonly ActivitySource s_activities = new(ActivitySourceName);

    private readonly Lock _gate = new(); // the shape cache's edits and disposal; never held while a graph runs
    private readonly List<IBackend> _backends = [];
    private readonly Graph _graph;
    private readonly Graph? _generic;
    private readonly LinkedList<Compiled> _plans = new(); // most recently used first
    private readonly Dictionary<string, int> _inputIndex = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _outputIndex = new(StringComparer.Ordinal);
    private readonly KeyValuePair<string, object?> _backendTag, _modelTag;
    private readonly ILogger? _logger;
    private volatile Compiled? _current;
    private int _disposed;

    /// <summary>
    /// Compiles and plans <paramref name="graph"/> (which is not modified: the passes work on a copy). A graph with
    /// dynamic inputs that have no size yet is planned at its first run (or for <see cref="FastConvSessionOptions.InputShapes"/>).
    /// </summary>
    public FastConvSession(Graph graph, FastConvSessionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(graph);
        Options = options ?? new FastConvSessionOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(Options.MaxConcurrency, 1, nameof(FastConvSessionOptions.MaxConcurrency));
        _logger = Options.Logger;
        var backendOptions = new BackendOptions { Threads = Options.Threads, Exact = Options.Exact };
        (IBackend main, IReadOnlyList<string> skipped) = BackendRegistry.Resolve(Options.Backend, backendOptions);
        _backends.Add(main);
        BackendSkipped = skipped;
        _backendTag = new("fastconv.backend", main.Name);
        _modelTag = new("fastconv.model", graph.Name);
        try
        {
            if (_logger is not null)
            {
                LogBackend(_logger, graph.Name, main.Name, Options.Backend, skipped.Count == 0 ? "first choice" : string.Join("; ", skipped));
            }
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
            Compiled? first = Options.InputShapes is { Count: > 0 } shapes ? Compile(Bind(shapes))
                : graph.Inputs.All(i => i.IsBound) ? Compile(graph)
                : null;
            if (first is not null)
            {
                _plans.AddFirst(first);
                Switch(first);
            }
        }
        catch
        {
            foreach (Compiled c in _plans)
            {
                c.Release();
            }
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

    /// <summary>Loads a serialized ONNX model (external data is not allowed) and plans it.</summary>
    public static FastConvSession Load(byte[] model, FastConvSessionOptions? options = null, IReadOnlyDictionary<string, TensorShape>? inputShapes = null)
        => new(OnnxModel.Load(model, inputShapes), options);

    /// <summary>
    /// Loads an ONNX model from <paramref name="model"/> (read to its end, at most <see cref="FastConv.IO.FileLimits.MaxModelBytes"/>;
    /// external data is not allowed) and plans it.
    /// </summary>
    public static FastConvSession Load(Stream model, FastConvSessionOptions? options = null, IReadOnlyDictionary<string, TensorShape>? inputShapes = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        long cap = FastConv.IO.FileLimits.MaxModelBytes;
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int n;
        while ((n = model.Read(chunk)) > 0)
        {
            if (buffer.Length + n > cap)
            {
                throw new InvalidModelException($"the model stream holds more than {cap:N0} bytes ({FastConv.IO.FileLimits.MaxModelBytesVariable} raises the cap).");
            }
            buffer.Write(chunk, 0, n);
        }
        return Load(buffer.ToArray(), options, inputShapes);
    }

    public FastConvSessionOptions Options { get; }

    /// <summary>The compiled graph of the latest planned shapes: shapes, parameters and FLOPs per node (counted on first use).</summary>
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
    public TransferCounters TransfersPerRun => Current.TransfersPerRun;

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

    /// <summary>What graph capture did for the latest planned shapes (<see cref="FastConvSessionOptions.CaptureGraphs"/>); null when it is off.</summary>
    public GraphCaptureStats? Graphs => Current.Graphs;

    /// <summary>Execution contexts made so far for the latest planned shapes (at most <see cref="FastConvSessionOptions.MaxConcurrency"/>).</summary>
    public int ExecutionContexts => Current.Contexts;

    private Compiled Current => _current ?? throw new InvalidShapeException(
        $"the model has dynamic inputs ({string.Join(", ", _graph.Inputs.Select(i => $"{i.Name}{i.Declared}"))}) and has not been planned for any sizes yet; run it, or give FastConvSessionOptions.InputShapes.");

    /// <summary>Runs the model on named inputs and returns new output tensors (allocates the outputs; see the other overloads to avoid that).</summary>
    public IReadOnlyDictionary<string, Tensor> Run(IReadOnlyDictionary<string, Tensor> inputs, CancellationToken cancellation = default)
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
        Compiled c = Acquire(names, values);
        try
        {
            Tensor[] outputs = [.. c.Outputs.Select(o => Tensor.Allocate(o.Shape))];
            string[] outNames = [.. c.Outputs.Select(o => o.Name)];
            RunOn(c, names, values, outNames, outputs, cancellation);
            var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            for (int i = 0; i < outputs.Length; i++)
            {
                result[outNames[i]] = outputs[i];
            }
            return result;
        }
        finally
        {
            c.Release();
        }
    }

    /// <summary>
    /// Runs the model with caller-owned tensors, as ONNX Runtime's <c>Run(inputNames, inputValues, outputNames,
    /// outputValues)</c>: every model input is given once; each named output is written into the matching
    /// pre-allocated tensor (of the output's shape for these inputs). Allocates nothing once a context exists for the
    /// inputs' shapes. <paramref name="cancellation"/> is checked between nodes.
    /// </summary>
    public void Run(IReadOnlyList<string> inputNames, IReadOnlyList<Tensor> inputs, IReadOnlyList<string> outputNames, IReadOnlyList<Tensor> outputs,
        CancellationToken cancellation = default)
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
        Compiled c = Acquire(inputNames, inputs);
        try
        {
            RunOn(c, inputNames, inputs, outputNames, outputs, cancellation);
        }
        finally
        {
            c.Release();
        }
    }

    /// <summary>Page-locked host memory for an input or output of <paramref name="shape"/> (IO binding); needs a device backend.</summary>
    public PinnedBuffer AllocatePinned(TensorShape shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        return new PinnedBuffer(Device.AllocateHostArena(Math.Max((long)shape.ElementCount * sizeof(float), sizeof(float))), shape);
    }

    /// <summary>Device memory for an input or output of <paramref name="shape"/> that stays on the device (IO binding); needs a device backend.</summary>
    public DeviceBuffer AllocateDevice(TensorShape shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        IDeviceBackend device = Device;
        return new DeviceBuffer(device, device.AllocateArena(Math.Max((long)shape.ElementCount * sizeof(float), sizeof(float))), shape);
    }

    /// <summary>
    /// Runs the model with the buffers of <paramref name="binding"/>: host tensors are copied in and out as usual; page-locked
    /// and device buffers are read and written by the graph's own copies between host and device, with nothing staged through
    /// the session's arena (device ones move nothing across the bus). Every input must be bound; unbound outputs are not copied out.
    /// </summary>
    public void Run(IoBinding binding, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(binding);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        int n = _graph.Inputs.Count;
        string[] names = new string[n];
        TensorShape[] shapes = new TensorShape[n];
        for (int i = 0; i < n; i++)
        {
            string name = _graph.Inputs[i].Name;
            IoBinding.Bound b = binding.Inputs.TryGetValue(name, out IoBinding.Bound v) ? v : throw new InvalidModelException($"input '{name}' is not bound; the model needs {DescribeInputs()}.");
            b.ThrowIfFreed("input", name);
            names[i] = name;
            shapes[i] = b.Shape;
        }
        Compiled c = Acquire(names, shapes, static s => s);
        try
        {
            foreach (var (name, b) in binding.Outputs)
            {
                b.ThrowIfFreed("output", name);
                CheckShape(b.Shape, c.Outputs[OutputIndex(name)].Shape, "output", name);
            }
            long start = Stopwatch.GetTimestamp();
            using Activity? activity = s_activities.StartActivity("fastconv.run");
            ExecutionPlan plan = c.Rent(cancellation);
            try
            {
                for (int i = 0; i < n; i++)
                {
                    IoBinding.Bound b = binding.Inputs[names[i]];
                    if (b.Address != 0)
                    {
                        RequireBindable(plan.CanBindInput(i), "input", names[i]);
                        plan.BindInput(i, b.Address, b.OnDevice);
                    }
                    else
                    {
                        b.Host!.Span.CopyTo(plan.Input(i).Span);
                    }
                }
                foreach (var (name, b) in binding.Outputs)
                {
                    if (b.Address != 0)
                    {
                        int k = OutputIndex(name);
                        RequireBindable(plan.CanBindOutput(k), "output", name);
                        plan.BindOutput(k, b.Address, b.OnDevice);
                    }
                }
                plan.Execute(cancellation);
                foreach (var (name, b) in binding.Outputs)
                {
                    if (b.Address == 0)
                    {
                        plan.Output(OutputIndex(name)).Span.CopyTo(b.Host!.Span);
                    }
                }
            }
            catch
            {
                s_failures.Add(1, _backendTag, _modelTag);
                throw;
            }
            finally
            {
                plan.ClearBindings();
                c.Return(plan);
            }
            Measure(start);
        }
        finally
        {
            c.Release();
        }
    }

    private IDeviceBackend Device => _backends[0] as IDeviceBackend
        ?? throw new BackendUnavailableException(BackendName, "page-locked and device buffers need a device backend (cuda, cuda-emu, cudnn, cublas)");

    private static void RequireBindable(bool bindable, string what, string name)
    {
        if (!bindable)
        {
            throw new InvalidModelException($"{what} '{name}' is {(what == "input" ? "read" : "made")} on the host in this plan (a node runs it on the cpu), so it cannot be bound to a page-locked or device buffer; bind a host tensor.");
        }
    }

    /// <summary>Runs the model on named inputs on a worker thread; cancelling stops it between nodes.</summary>
    public Task<IReadOnlyDictionary<string, Tensor>> RunAsync(IReadOnlyDictionary<string, Tensor> inputs, CancellationToken cancellation = default) =>
        Task.Run(() => Run(inputs, cancellation), cancellation);

    /// <summary>Runs the model with caller-owned tensors on a worker thread; cancelling stops it between nodes.</summary>
    public Task RunAsync(IReadOnlyList<string> inputNames, IReadOnlyList<Tensor> inputs, IReadOnlyList<string> outputNames, IReadOnlyList<Tensor> outputs,
        CancellationToken cancellation = default) =>
        Task.Run(() => Run(inputNames, inputs, outputNames, outputs, cancellation), cancellation);

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
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_graph.Inputs.Count != 1)
        {
            throw new InvalidModelException($"the model has {_graph.Inputs.Count} inputs ({DescribeInputs()}); use Run with named tensors.");
        }
        Compiled c = Current;
        if (!c.TryAcquire())
        {
            c = Acquire([inputName], [Tensor.Allocate(c.Inputs[0].Shape)]);
        }
        try
        {
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
            long start = Stopwatch.GetTimestamp();
            using Activity? activity = s_activities.StartActivity("fastconv.run");
            ExecutionPlan plan = c.Rent(default);
            try
            {
                input.CopyTo(plan.Input(k).Span);
                plan.Execute();
                plan.Output(o).Span.CopyTo(output);
            }
            catch
            {
                s_failures.Add(1, _backendTag, _modelTag);
                throw;
            }
            finally
            {
                c.Return(plan);
            }
            Measure(start);
        }
        finally
        {
            c.Release();
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
        Compiled c = Acquire([.. _graph.Inputs.Select(i => i.Name)], [.. _graph.Inputs.Select(i => inputs[i.Name])]);
        try
        {
            ExecutionPlan plan = c.Rent(default);
            try
            {
                IReadOnlyList<Step> steps = plan.Steps;
                var times = new double[steps.Count, runs];
                plan.Device?.MakeCurrent();
                for (int r = 0; r < runs; r++)
                {
                    for (int i = 0; i < steps.Count; i++)
                    {
                        long start = Stopwatch.GetTimestamp();
                        steps[i].Execute();
                        plan.Synchronize(); // device work is queued: time it to its end
                        times[i, r] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                    }
                }
                return [.. Enumerable.Range(0, steps.Count).Select(i =>
                {
                    double[] t = [.. Enumerable.Range(0, runs).Select(r => times[i, r]).Order()];
                    return (c.NodePlans[i], t[runs / 2]);
                })];
            }
            finally
            {
                c.Return(plan);
            }
        }
        finally
        {
            c.Release();
        }
    }

    /// <summary>
    /// Frees every plan, arena and backend. Runs already going finish first on their own contexts (which are freed as
    /// they come back); a run that starts afterwards throws <see cref="ObjectDisposedException"/>.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        lock (_gate)
        {
            foreach (Compiled c in _plans)
            {
                c.Release();
            }
            _plans.Clear();
            _current = null;
        }
        foreach (IBackend b in _backends)
        {
            b.Dispose();
        }
    }

    private void RunOn(Compiled c, IReadOnlyList<string> inputNames, IReadOnlyList<Tensor> inputs, IReadOnlyList<string> outputNames, IReadOnlyList<Tensor> outputs,
        CancellationToken cancellation)
    {
        for (int i = 0; i < outputNames.Count; i++)
        {
            int k = OutputIndex(outputNames[i]);
            CheckShape(outputs[i].Shape, c.Outputs[k].Shape, "output", outputNames[i]);
        }
        long start = Stopwatch.GetTimestamp();
        using Activity? activity = s_activities.StartActivity("fastconv.run");
        ExecutionPlan plan = c.Rent(cancellation);
        try
        {
            for (int i = 0; i < inputNames.Count; i++)
            {
                inputs[i].Span.CopyTo(plan.Input(InputIndex(inputNames[i])).Span);
            }
            plan.Execute(cancellation);
            for (int i = 0; i < outputNames.Count; i++)
            {
                plan.Output(OutputIndex(outputNames[i])).Span.CopyTo(outputs[i].Span);
            }
        }
        catch
        {
            s_failures.Add(1, _backendTag, _modelTag);
            throw;
        }
        finally
        {
            c.Return(plan);
        }
        Measure(start);
    }

    private void Measure(long start)
    {
        s_runs.Add(1, _backendTag, _modelTag);
        if (s_duration.Enabled)
        {
            s_duration.Record(Stopwatch.GetElapsedTime(start).TotalMilliseconds, _backendTag, _modelTag);
        }
    }

    /// <summary>
    /// The plan for the given inputs' shapes, leased (give it back with <see cref="Compiled.Release"/>): the latest one
    /// when they match, read without a lock; else a kept one or a new one, under the shape cache's lock.
    /// </summary>
    private Compiled Acquire(IReadOnlyList<string> names, IReadOnlyList<Tensor> inputs) => Acquire(names, inputs, static t => t.Shape);

    private Compiled Acquire<T>(IReadOnlyList<string> names, IReadOnlyList<T> inputs, Func<T, TensorShape> shapeOf)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_current is { } c && Matches(c, names, inputs, shapeOf) && c.TryAcquire())
        {
            return c;
        }
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            for (LinkedListNode<Compiled>? n = _plans.First; n is not null; n = n.Next)
            {
                if (Matches(n.Value, names, inputs, shapeOf) && n.Value.TryAcquire())
                {
                    _plans.Remove(n);
                    _plans.AddFirst(n);
                    Switch(n.Value);
                    return n.Value;
                }
            }
            if (_generic is null)
            {
                // A fixed-shape model: say which input is wrong.
                Compiled fixedPlan = Current;
                for (int i = 0; i < names.Count; i++)
                {
                    CheckShape(shapeOf(inputs[i]), fixedPlan.Inputs[InputIndex(names[i])].Shape, "input", names[i]);
                }
                throw new InvalidOperationException("a fixed-shape model's plan matched no input shape check");
            }
            var shapes = new Dictionary<string, TensorShape>(StringComparer.Ordinal);
            for (int i = 0; i < names.Count; i++)
            {
                shapes[names[i]] = shapeOf(inputs[i]);
            }
            Compiled created = Compile(Bind(shapes));
            created.TryAcquire();
            _plans.AddFirst(created);
            while (_plans.Count > Math.Max(1, Options.MaxShapePlans))
            {
                Compiled evicted = _plans.Last!.Value;
                _plans.RemoveLast();
                evicted.Release(); // freed once the runs using it are done
            }
            Switch(created);
            return created;
        }
    }

    private void Switch(Compiled c)
    {
        _current = c;
        Inputs = c.Inputs;
        Outputs = c.Outputs;
    }

    private bool Matches<T>(Compiled c, IReadOnlyList<string> names, IReadOnlyList<T> inputs, Func<T, TensorShape> shapeOf)
    {
        for (int i = 0; i < names.Count; i++)
        {
            if (shapeOf(inputs[i]) != c.Inputs[InputIndex(names[i])].Shape)
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
        long start = Stopwatch.GetTimestamp();
        using Activity? activity = s_activities.StartActivity("fastconv.plan");
        IBackend reference = _backends.First(b => b.Name == BackendNames.Reference);
        CompiledGraph compiled = GraphCompiler.Compile(graph, new CompileOptions
        {
            Backends = _backends,
            Evaluator = reference,
            Optimizer = Options.Optimizer,
            MaxNodes = Options.MaxNodes,
            Cancellation = Options.Cancellation,
        });
        GraphCaptureStats? graphs = Options.CaptureGraphs ? new GraphCaptureStats() : null;
        ExecutionPlan MakeContext() => ExecutionPlan.Create(compiled, _backends, Options.Cancellation, Options.MemoryLimitBytes, graphs);
        var c = new Compiled(compiled, MakeContext(), MakeContext, Options.MaxConcurrency) { Graphs = graphs };
        if (_logger is not null)
        {
            LogPlanned(_logger, graph.Name, string.Join(", ", c.Inputs.Select(i => $"{i.Name}{i.Shape}")), Stopwatch.GetElapsedTime(start).TotalMilliseconds,
                c.NodePlans.Count, string.Join(", ", c.NodePlans.GroupBy(p => p.Backend).Select(g => $"{g.Key} {g.Count()}")),
                string.Join(", ", c.Plan.ArenaBytes.Select(a => $"{a.Key} {a.Value:N0} B")));
        }
        activity?.SetTag("fastconv.nodes", c.NodePlans.Count);
        return c;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Model {Model}: backend {Backend} (asked for {Requested}; {Why})")]
    private static partial void LogBackend(ILogger logger, string model, string backend, string requested, string why);

    [LoggerMessage(Level = LogLevel.Information, Message = "Model {Model} planned for {Shapes} in {Milliseconds:F1} ms: {Nodes} nodes ({Backends}); arenas {Arenas}")]
    private static partial void LogPlanned(ILogger logger, string model, string shapes, double milliseconds, int nodes, string backends, string arenas);

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

    /// <summary>
    /// One compiled graph, for one set of input shapes, and its pool of execution contexts (each an
    /// <see cref="ExecutionPlan"/>: arenas, plans, stream). Leases count the runs using it (plus one while the session
    /// keeps it): it is freed when the last goes.
    /// </summary>
    private sealed class Compiled
    {
        private readonly Lazy<GraphInfo> _info;
        private readonly Func<ExecutionPlan> _create;
        private readonly ExecutionPlan?[] _idle;
        private readonly SemaphoreSlim _slots;
        private int _created = 1;
        private int _leases = 1;

        public Compiled(CompiledGraph compiled, ExecutionPlan first, Func<ExecutionPlan> create, int maxContexts)
        {
            _create = create;
            _idle = new ExecutionPlan?[maxContexts];
            _idle[0] = first;
            _slots = new SemaphoreSlim(maxContexts, maxContexts);
            Graph g = compiled.Graph;
            _info = new Lazy<GraphInfo>(() => GraphInfo.Analyze(g));
            Inputs = [.. g.Inputs];
            Outputs = [.. g.Outputs.Select(o => new GraphValue(o, g.ShapeOf(o)))];
            NodePlans = [.. g.Nodes.Select((n, i) => new SessionNodePlan(first.Steps[i].Node, n.Name.Length > 0 ? n.Name : n.Outputs[0], n.OpType,
                first.Steps[i].Backend, first.Steps[i].Algorithm,
                n.Outputs.Length > 0 && g.Values.TryGetValue(n.Outputs[0], out ValueInfo? v) ? v.Layout.ToString() : TensorLayout.Nchw.ToString(),
                first.Steps[i].Plan?.WorkspaceBytes ?? 0))];
            Plan = new SessionPlan([.. g.Passes], NodePlans, g.Nodes.Count(n => n.OpType == FastConvOps.Copy), g.Nodes.Count(n => n.OpType == FastConvOps.Reorder),
                compiled.Memory.ArenaBytes);
            ArenaFloats = (int)(compiled.Memory.BytesOf(MemorySpace.Host) / sizeof(float));
            TransfersPerRun = first.TransfersPerRun;
        }

        public GraphInfo Info => _info.Value;
        public IReadOnlyList<GraphValue> Inputs { get; }
        public IReadOnlyList<GraphValue> Outputs { get; }
        public IReadOnlyList<SessionNodePlan> NodePlans { get; }
        public SessionPlan Plan { get; }
        public int ArenaFloats { get; }
        public TransferCounters TransfersPerRun { get; }
        public GraphCaptureStats? Graphs { get; init; }
        public int Contexts => Volatile.Read(ref _created);

        /// <summary>Takes a lease unless the plan is already freed.</summary>
        public bool TryAcquire()
        {
            while (true)
            {
                int leases = Volatile.Read(ref _leases);
                if (leases == 0)
                {
                    return false;
                }
                if (Interlocked.CompareExchange(ref _leases, leases + 1, leases) == leases)
                {
                    return true;
                }
            }
        }

        /// <summary>Gives a lease back; the last one frees every context.</summary>
        public void Release()
        {
            if (Interlocked.Decrement(ref _leases) == 0)
            {
                foreach (ExecutionPlan? p in _idle)
                {
                    p?.Dispose();
                }
                _slots.Dispose();
            }
        }

        /// <summary>An idle context, or a new one while fewer than the maximum exist; waits when all are in use.</summary>
        public ExecutionPlan Rent(CancellationToken cancellation)
        {
            _slots.Wait(cancellation);
            for (int i = 0; i < _idle.Length; i++)
            {
                if (Interlocked.Exchange(ref _idle[i], null) is { } plan)
                {
                    return plan;
                }
            }
            try
            {
                ExecutionPlan plan = _create();
                Interlocked.Increment(ref _created);
                return plan;
            }
            catch
            {
                _slots.Release();
                throw;
            }
        }

        public void Return(ExecutionPlan plan)
        {
            for (int i = 0; i < _idle.Length; i++)
            {
                if (Interlocked.CompareExchange(ref _idle[i], plan, null) is null)
                {
                    _slots.Release();
                    return;
                }
            }
            plan.Dispose(); // cannot happen: there is a free slot for every context taken
            _slots.Release();
        }
    }
}
