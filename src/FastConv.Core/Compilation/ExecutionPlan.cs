using FastConv.Backends;
using FastConv.Graphs;
using FastConv.Graphs.Ops;

namespace FastConv.Compilation;

/// <summary>
/// The last compile stage, "plans": a compiled graph bound to memory and kernels. The host arena is allocated once
/// (pinned), every value becomes a view of it at its planned offset, and every node is planned by its op definition on
/// the backend the place pass chose, with its buffers bound — so <see cref="Execute"/> is one virtual call per node and
/// allocates nothing.
/// </summary>
public sealed class ExecutionPlan : IDisposable
{
    private readonly Step[] _steps;
    private readonly Tensor[] _inputs;
    private readonly Tensor[] _outputs;

    private ExecutionPlan(CompiledGraph compiled, Step[] steps, float[] arena, Tensor[] inputs, Tensor[] outputs)
    {
        Compiled = compiled;
        _steps = steps;
        HostArena = arena;
        _inputs = inputs;
        _outputs = outputs;
    }

    public CompiledGraph Compiled { get; }

    /// <summary>One step per node of the compiled graph, in execution order.</summary>
    public IReadOnlyList<Step> Steps => _steps;

    /// <summary>The host arena every host value lives in.</summary>
    internal float[] HostArena { get; }

    /// <summary>The buffer of graph input <paramref name="k"/> (in <see cref="Graph.Inputs"/> order): copy an input here before <see cref="Execute"/>.</summary>
    public Tensor Input(int k) => _inputs[k];

    /// <summary>The buffer of graph output <paramref name="k"/> (in <see cref="Graph.Outputs"/> order), valid after <see cref="Execute"/>.</summary>
    public Tensor Output(int k) => _outputs[k];

    /// <summary>
    /// Plans every node of <paramref name="compiled"/> on the backend named in it (one of <paramref name="backends"/>).
    /// With <paramref name="memoryLimitBytes"/>, the arenas are checked against it before anything is allocated, and the
    /// plans' workspaces as they are made: past it, a <see cref="MemoryLimitExceededException"/> names the biggest
    /// consumers (and nothing planned so far is kept).
    /// </summary>
    public static ExecutionPlan Create(CompiledGraph compiled, IReadOnlyList<IBackend> backends, CancellationToken cancellation = default, long? memoryLimitBytes = null)
    {
        ArgumentNullException.ThrowIfNull(compiled);
        ArgumentNullException.ThrowIfNull(backends);
        Graph graph = compiled.Graph;
        MemoryPlan memory = compiled.Memory;
        if (memory.BytesOf(MemorySpace.Device) > 0)
        {
            throw new BackendUnavailableException(backends[0].Name, "it places values in device memory, which sessions do not run yet (device arenas come with device-resident sessions)");
        }
        var byName = backends.ToDictionary(b => b.Name, StringComparer.Ordinal);
        long hostBytes = memory.BytesOf(MemorySpace.Host);
        long limit = memoryLimitBytes ?? DefaultMemoryLimit();
        if (hostBytes > limit)
        {
            throw MemoryLimitExceededException.ForArena(graph, memory, limit, memoryLimitBytes is null);
        }
        if (hostBytes / sizeof(float) > Array.MaxLength)
        {
            throw new MemoryLimitExceededException($"the activations need {hostBytes:N0} bytes at once, more than one host arena can hold; use a smaller batch or smaller inputs.", hostBytes, limit);
        }
        float[] arena;
        try
        {
            arena = GC.AllocateUninitializedArray<float>((int)(hostBytes / sizeof(float)), pinned: true);
        }
        catch (OutOfMemoryException e)
        {
            throw new MemoryLimitExceededException($"the host arena of {hostBytes:N0} bytes could not be allocated (out of memory); use a smaller batch or smaller inputs, or free memory.", hostBytes, limit, e);
        }
        var values = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        Tensor Value(string name)
        {
            if (values.TryGetValue(name, out Tensor? t))
            {
                return t;
            }
            if (graph.Constants.TryGetValue(name, out GraphConstant? c))
            {
                t = c.ToTensor();
            }
            else
            {
                ValueInfo v = graph.Values[name];
                if (v.Type != ElementType.Float32)
                {
                    throw new UnsupportedModelException([$"value '{name}' is {v.Type}; sessions run float32 values."]);
                }
                BufferSlot slot = memory.Slots[name];
                TensorShape physical = v.PhysicalShape;
                t = Tensor.Wrap(arena.AsMemory((int)(slot.Offset / sizeof(float)), physical.ElementCount), physical);
            }
            values[name] = t;
            return t;
        }

        var steps = new List<Step>(graph.Nodes.Count);
        long workspace = 0;
        try
        {
            foreach (Node node in graph.Nodes)
            {
                cancellation.ThrowIfCancellationRequested();
                IBackend backend = byName[node.Backend ?? throw new InvalidModelException($"{node.Describe()}: not placed; compile the graph first.")];
                OpContext context = OpContext.For(node, graph);
                TensorShape[] outShapes = [.. node.Outputs.Where(o => o.Length > 0).Select(o => graph.Values[o].Shape)];
                var binding = new KernelBinding(context, backend, outShapes,
                    i => Value(node.Inputs[i]), i => Value(node.Outputs[i]),
                    i => i < node.Inputs.Length && graph.Values.TryGetValue(node.Inputs[i], out ValueInfo? v) ? v.Layout : TensorLayout.Nchw);
                steps.Add(OpRegistry.Get(node).Plan(binding));
                workspace += steps[^1].Plan?.WorkspaceBytes ?? 0;
                if (hostBytes + workspace > limit)
                {
                    throw MemoryLimitExceededException.ForPlans(steps, hostBytes, limit);
                }
            }
            Tensor[] inputs = [.. graph.Inputs.Select(i => Value(i.Name))];
            Tensor[] outputs = [.. graph.Outputs.Select(Value)];
            graph.Passes.Add(new PassRecord("plans", steps.Count));
            return new ExecutionPlan(compiled, [.. steps], arena, inputs, outputs);
        }
        catch
        {
            foreach (Step s in steps)
            {
                s.Dispose();
            }
            throw;
        }
    }

    /// <summary>
    /// The budget when none is given: 80 % of the memory this process may use (<see cref="GCMemoryInfo.TotalAvailableMemoryBytes"/>:
    /// physical memory, or the container's limit), so a model that cannot fit is refused with a typed error instead of
    /// the process dying in the allocation.
    /// </summary>
    public static long DefaultMemoryLimit() => (long)(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes * 0.8);

    /// <summary>Runs every step in order.</summary>
    public void Execute()
    {
        foreach (Step s in _steps)
        {
            s.Execute();
        }
    }

    public void Dispose()
    {
        foreach (Step s in _steps)
        {
            s.Dispose();
        }
    }
}
