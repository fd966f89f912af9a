using System.Buffers;
using FastConv.Backends;
using FastConv.Graphs;
using FastConv.Graphs.Ops;

namespace FastConv.Compilation;

/// <summary>
/// The last compile stage, "plans": a compiled graph bound to memory and kernels. Each memory space's arena is
/// allocated once — the host arena pinned (page-locked, from the device backend, when values cross to a device), the
/// device arena from the device backend — every value becomes a view of its arena at its planned offset, and every node
/// is planned by its op definition on the backend the place pass chose, with its buffers bound: so
/// <see cref="Execute()"/> is one call per node (device work queued on the plan's stream, waited on once at the end) and
/// allocates nothing.
/// </summary>
public sealed class ExecutionPlan : IDisposable
{
    private readonly Step[] _steps;
    private readonly Tensor[] _inputs;
    private readonly Tensor[] _outputs;
    private readonly List<IDisposable> _owned;
    private readonly IDeviceStream? _stream;

    private readonly TransferStep?[] _inputTransfers;
    private readonly TransferStep?[] _outputTransfers;
    private readonly CapturedRun? _graphs;

    private ExecutionPlan(CompiledGraph compiled, Step[] steps, Tensor[] inputs, Tensor[] outputs, List<IDisposable> owned, IDeviceStream? stream, IDeviceBackend? device,
        GraphCaptureStats? graphs)
    {
        Compiled = compiled;
        _steps = steps;
        _inputs = inputs;
        _outputs = outputs;
        _owned = owned;
        _stream = stream;
        Device = device;
        // A graph input read only by one Copy up, an output written only by one Copy down: the copies IO binding can
        // point at the caller's own buffers.
        Graph g = compiled.Graph;
        _inputTransfers = [.. g.Inputs.Select(i => SoleTransfer(g, steps, n => n.Inputs.Contains(i.Name), n => n.OpType == FastConvOps.Copy && n.Inputs[0] == i.Name))];
        _outputTransfers = [.. g.Outputs.Select(o => SoleTransfer(g, steps, n => n.Outputs.Contains(o), n => n.OpType == FastConvOps.Copy && n.Outputs[0] == o))];
        TransfersPerRun = steps.OfType<TransferStep>().Aggregate(default(TransferCounters), (t, s) => s.ToDevice
            ? t with { HostToDevice = t.HostToDevice + 1, HostToDeviceBytes = t.HostToDeviceBytes + s.Bytes }
            : t with { DeviceToHost = t.DeviceToHost + 1, DeviceToHostBytes = t.DeviceToHostBytes + s.Bytes });
        if (graphs is not null)
        {
            graphs.NotCaptured = device is null || stream is null ? "every node runs on the host"
                : device is not IGraphCaptureBackend { SupportsGraphs: true } ? $"backend '{device.Name}' cannot capture graphs"
                : null;
            _graphs = graphs.NotCaptured is null ? new CapturedRun(steps, device!, (IGraphCaptureBackend)device!, stream!.Handle, graphs) : null;
        }
    }

    public CompiledGraph Compiled { get; }

    /// <summary>One step per node of the compiled graph, in execution order.</summary>
    public IReadOnlyList<Step> Steps => _steps;

    /// <summary>The device backend whose memory the graph uses, or null when everything stays on the host.</summary>
    public IDeviceBackend? Device { get; }

    /// <summary>The copies between host and device one run makes: the graph's Copy nodes (counted from the plan, not the driver).</summary>
    public TransferCounters TransfersPerRun { get; }

    /// <summary>The buffer of graph input <paramref name="k"/> (in <see cref="Graph.Inputs"/> order): copy an input here before <see cref="Execute()"/>.</summary>
    public Tensor Input(int k) => _inputs[k];

    /// <summary>The buffer of graph output <paramref name="k"/> (in <see cref="Graph.Outputs"/> order), valid after <see cref="Execute()"/>.</summary>
    public Tensor Output(int k) => _outputs[k];

    /// <summary>Whether graph input <paramref name="k"/> goes straight to the device (its only reader is a Copy up), so a run may take it from the caller's device or page-locked buffer.</summary>
    public bool CanBindInput(int k) => _inputTransfers[k] is not null;

    /// <summary>Whether graph output <paramref name="k"/> comes straight from the device (written by a Copy down), so a run may leave it in the caller's device or page-locked buffer.</summary>
    public bool CanBindOutput(int k) => _outputTransfers[k] is not null;

    /// <summary>
    /// For the next runs until <see cref="ClearBindings"/>: graph input <paramref name="k"/> is read from the caller's
    /// buffer at <paramref name="address"/> — device memory when <paramref name="onDevice"/>, else page-locked host memory.
    /// </summary>
    public void BindInput(int k, ulong address, bool onDevice) => Bind(_inputTransfers[k] ?? throw new InvalidOperationException($"graph input {k} is read on the host; bind a host tensor."), address, onDevice);

    /// <summary>For the next runs: graph output <paramref name="k"/> is written to the caller's buffer at <paramref name="address"/>.</summary>
    public void BindOutput(int k, ulong address, bool onDevice) => Bind(_outputTransfers[k] ?? throw new InvalidOperationException($"graph output {k} is made on the host; bind a host tensor."), address, onDevice);

    /// <summary>Back to the plan's own host arena for every input and output.</summary>
    public void ClearBindings()
    {
        foreach (TransferStep? t in _inputTransfers.Concat(_outputTransfers))
        {
            if (t is not null)
            {
                t.Override = 0;
                t.OnDevice = false;
            }
        }
    }

    private static void Bind(TransferStep t, ulong address, bool onDevice)
    {
        t.Override = address;
        t.OnDevice = onDevice;
    }

    private static TransferStep? SoleTransfer(Graph g, Step[] steps, Func<Node, bool> touches, Func<Node, bool> isTheCopy)
    {
        int[] touching = [.. Enumerable.Range(0, g.Nodes.Count).Where(i => touches(g.Nodes[i]))];
        return touching.Length == 1 && isTheCopy(g.Nodes[touching[0]]) ? steps[touching[0]] as TransferStep : null;
    }

    /// <summary>
    /// Plans every node of <paramref name="compiled"/> on the backend named in it (one of <paramref name="backends"/>),
    /// sharing what plans derive from the weights with the graph's other execution plans (<see cref="CompiledGraph.Sharing"/>).
    /// With <paramref name="memoryLimitBytes"/>, the arenas are checked against it before anything is allocated, and the
    /// plans' workspaces as they are made: past it, a <see cref="MemoryLimitExceededException"/> names the biggest
    /// consumers (and nothing planned so far is kept).
    /// </summary>
    /// <remarks>
    /// With <paramref name="graphs"/>, runs on a device backend that can capture are recorded into graphs on the first
    /// run and replayed afterwards (<see cref="CapturedRun"/>); what happened is counted there.
    /// </remarks>
    public static ExecutionPlan Create(CompiledGraph compiled, IReadOnlyList<IBackend> backends, CancellationToken cancellation = default, long? memoryLimitBytes = null,
        GraphCaptureStats? graphs = null)
    {
        ArgumentNullException.ThrowIfNull(compiled);
        ArgumentNullException.ThrowIfNull(backends);
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        // Every context of this graph shares the weights its plans pack (each still has its own arena and scratch).
        using PlanSharing.Scope sharing = compiled.Sharing.Enter();
        Graph graph = compiled.Graph;
        MemoryPlan memory = compiled.Memory;
        var byName = backends.ToDictionary(b => b.Name, StringComparer.Ordinal);
        long hostBytes = memory.BytesOf(MemorySpace.Host), deviceBytes = memory.BytesOf(MemorySpace.Device);
        long limit = memoryLimitBytes ?? DefaultMemoryLimit();
        if (hostBytes + deviceBytes > limit)
        {
            throw MemoryLimitExceededException.ForArena(graph, memory, limit, memoryLimitBytes is null);
        }
        if (hostBytes / sizeof(float) > Array.MaxLength)
        {
            throw new MemoryLimitExceededException($"the activations need {hostBytes:N0} bytes at once, more than one host arena can hold; use a smaller batch or smaller inputs.", hostBytes, limit);
        }
        IDeviceBackend? device = graph.Nodes.Any(n => byName[n.Backend!].Memory == MemorySpace.Device)
            ? backends.OfType<IDeviceBackend>().FirstOrDefault() ?? throw new BackendUnavailableException(backends[0].Name, "it places values in device memory but is not a device backend")
            : null;
        var owned = new List<IDisposable>();
        var steps = new List<Step>(graph.Nodes.Count);
        try
        {
            Memory<float> hostArena;
            nint hostBase;
            IDeviceStream? stream = null;
            ulong deviceBase = 0;
            if (device is null)
            {
                float[] arena = AllocateHost(hostBytes, limit);
                hostArena = arena;
                hostBase = 0; // no transfers: no one needs its address
            }
            else
            {
                // Page-locked, so the graph's Copy nodes are asynchronous DMA on the run's stream.
                IDeviceBuffer pinned = device.AllocateHostArena(Math.Max(hostBytes, sizeof(float)));
                owned.Add(pinned);
                hostBase = (nint)pinned.Address;
                var manager = new UnmanagedFloatMemory(hostBase, (int)(hostBytes / sizeof(float)));
                hostArena = manager.Memory;
                IDeviceBuffer deviceArena = device.AllocateArena(Math.Max(deviceBytes, sizeof(float)));
                owned.Add(deviceArena);
                deviceBase = deviceArena.Address;
                stream = device.CreateStream();
                owned.Add(stream);
            }

            var values = new Dictionary<string, BoundValue>(StringComparer.Ordinal);
            BoundValue Value(string name)
            {
                if (values.TryGetValue(name, out BoundValue v))
                {
                    return v;
                }
                if (graph.Constants.TryGetValue(name, out GraphConstant? c))
                {
                    v = BoundValue.OnHost(c.ToTensor());
                }
                else
                {
                    ValueInfo info = graph.Values[name];
                    if (info.Type != ElementType.Float32)
                    {
                        throw new UnsupportedModelException([$"value '{name}' is {info.Type}; sessions run float32 values."]);
                    }
                    BufferSlot slot = memory.Slots[name];
                    TensorShape physical = info.PhysicalShape;
                    v = slot.Space == MemorySpace.Device
                        ? BoundValue.OnDevice(deviceBase + (ulong)slot.Offset, physical)
                        : BoundValue.OnHost(Tensor.Wrap(hostArena.Slice((int)(slot.Offset / sizeof(float)), physical.ElementCount), physical), hostBase + (nint)slot.Offset);
                }
                values[name] = v;
                return v;
            }

            long workspace = 0;
            nint streamHandle = stream?.Handle ?? 0;
            foreach (Node node in graph.Nodes)
            {
                cancellation.ThrowIfCancellationRequested();
                IBackend backend = byName[node.Backend ?? throw new InvalidModelException($"{node.Describe()}: not placed; compile the graph first.")];
                OpContext context = OpContext.For(node, graph);
                TensorShape[] outShapes = [.. node.Outputs.Where(o => o.Length > 0).Select(o => graph.Values[o].Shape)];
                var binding = new KernelBinding(context, backend, outShapes,
                    i => Value(node.Inputs[i]), i => Value(node.Outputs[i]),
                    i => i < node.Inputs.Length && graph.Values.TryGetValue(node.Inputs[i], out ValueInfo? v) ? v.Layout : TensorLayout.Nchw,
                    streamHandle);
                steps.Add(OpRegistry.Get(node).Plan(binding));
                workspace += steps[^1].Plan?.WorkspaceBytes ?? 0;
                if (hostBytes + deviceBytes + workspace > limit)
                {
                    throw MemoryLimitExceededException.ForPlans(steps, hostBytes + deviceBytes, limit);
                }
            }
            Tensor[] inputs = [.. graph.Inputs.Select(i => Value(i.Name).Host!)];
            Tensor[] outputs = [.. graph.Outputs.Select(o => Value(o).Host ?? throw new InvalidModelException($"graph output '{o}' is left in device memory; the place pass copies outputs to the host."))];
            if (!graph.Passes.Any(p => p.Name == "plans"))
            {
                // Once per compiled graph: the session's further execution contexts plan it again, as copies.
                graph.Passes.Add(new PassRecord("plans", steps.Count, "", System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds));
            }
            return new ExecutionPlan(compiled, [.. steps], inputs, outputs, owned, stream, device, graphs);
        }
        catch
        {
            foreach (Step s in steps)
            {
                s.Dispose();
            }
            foreach (IDisposable d in Enumerable.Reverse(owned))
            {
                d.Dispose();
            }
            throw;
        }
    }

    private static float[] AllocateHost(long bytes, long limit)
    {
        try
        {
            return GC.AllocateUninitializedArray<float>((int)(bytes / sizeof(float)), pinned: true);
        }
        catch (OutOfMemoryException e)
        {
            throw new MemoryLimitExceededException($"the host arena of {bytes:N0} bytes could not be allocated (out of memory); use a smaller batch or smaller inputs, or free memory.", bytes, limit, e);
        }
    }

    /// <summary>
    /// The budget when none is given: 80 % of the memory this process may use (<see cref="GCMemoryInfo.TotalAvailableMemoryBytes"/>:
    /// physical memory, or the container's limit), so a model that cannot fit is refused with a typed error instead of
    /// the process dying in the allocation.
    /// </summary>
    public static long DefaultMemoryLimit() => (long)(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes * 0.8);

    /// <summary>Runs every step in order; device work is queued on the plan's stream and waited for once, at the end.</summary>
    public void Execute()
    {
        Device?.MakeCurrent();
        if (_graphs is not null)
        {
            _graphs.Execute(default);
            _stream!.Synchronize();
            return;
        }
        foreach (Step s in _steps)
        {
            s.Execute();
        }
        _stream?.Synchronize();
    }

    /// <summary>
    /// Runs every step in order, checking <paramref name="cancellation"/> between steps; a cancelled run leaves the
    /// outputs undefined (device work already queued is waited for, so the plan can run again).
    /// </summary>
    public void Execute(CancellationToken cancellation)
    {
        if (!cancellation.CanBeCanceled)
        {
            Execute();
            return;
        }
        Device?.MakeCurrent();
        try
        {
            if (_graphs is not null)
            {
                _graphs.Execute(cancellation);
                return;
            }
            foreach (Step s in _steps)
            {
                cancellation.ThrowIfCancellationRequested();
                s.Execute();
            }
        }
        finally
        {
            _stream?.Synchronize();
        }
    }

    /// <summary>Waits for the device work queued so far (profiling times each step to its end); nothing on the host.</summary>
    public void Synchronize() => _stream?.Synchronize();

    public void Dispose()
    {
        try
        {
            _stream?.Synchronize();
        }
        catch (FastConvException)
        {
            // A dead device must not keep the memory from going back.
        }
        _graphs?.Dispose();
        foreach (Step s in _steps)
        {
            s.Dispose();
        }
        foreach (IDisposable d in Enumerable.Reverse(_owned))
        {
            d.Dispose();
        }
    }
}
