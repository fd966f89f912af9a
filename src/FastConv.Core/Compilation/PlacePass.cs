using FastConv.Backends;
using FastConv.Graphs;
using FastConv.Graphs.Ops;

namespace FastConv.Compilation;

/// <summary>
/// The place pass: gives every node a backend — the first of the session's backends (in order of preference: the
/// chosen one, then the cpu and reference fallbacks) whose planner the op needs (<see cref="OpDefinition.CanRun"/>) —
/// and records in each value the memory space of the backend that writes it. Wherever a value is read in another space
/// than the one it was written in, a <see cref="FastConvOps.Copy"/> node is inserted (one per value and space, shared
/// by its readers); graph inputs arrive on the host and graph outputs leave from it. So every transfer of a run is a
/// node of the graph, never hidden in a plan.
/// </summary>
public static class PlacePass
{
    public const string Name = "place";

    public static void Run(Graph graph, IReadOnlyList<IBackend> backends, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(backends);
        if (backends.Count == 0)
        {
            throw new ArgumentException("the place pass needs at least one backend.", nameof(backends));
        }
        var byName = backends.ToDictionary(b => b.Name, StringComparer.Ordinal);
        var unplaced = new List<string>();
        foreach (Node node in graph.Nodes)
        {
            cancellation.ThrowIfCancellationRequested();
            if (node.Backend is { } given && byName.ContainsKey(given))
            {
                continue; // placed by an earlier run of the pass (or by hand, for tests)
            }
            OpContext context = OpContext.For(node, graph);
            OpDefinition definition = OpRegistry.Get(node);
            IBackend? chosen = backends.FirstOrDefault(b => definition.CanRun(b, context));
            if (chosen is null)
            {
                unplaced.Add($"{node.Describe()}: no backend of this session ({string.Join(", ", backends.Select(b => b.Name))}) runs it.");
                continue;
            }
            node.Backend = chosen.Name;
        }
        if (unplaced.Count > 0)
        {
            throw new UnsupportedModelException(unplaced);
        }
        InsertCopies(graph, byName);
    }

    private static void InsertCopies(Graph graph, Dictionary<string, IBackend> byName)
    {
        IBackend? device = byName.Values.FirstOrDefault(b => b.Memory == MemorySpace.Device);
        foreach (Node node in graph.Nodes)
        {
            MemorySpace space = byName[node.Backend!].Memory;
            foreach (string o in node.Outputs)
            {
                if (o.Length > 0 && graph.Values.TryGetValue(o, out ValueInfo? v))
                {
                    graph.Values[o] = v with { Memory = space };
                }
            }
        }
        if (device is null)
        {
            return; // every backend works on host memory: nothing crosses
        }
        var names = new HashSet<string>(graph.Values.Keys.Concat(graph.Constants.Keys), StringComparer.Ordinal);
        var outputs = new HashSet<string>(graph.Outputs, StringComparer.Ordinal);
        var copies = new Dictionary<(string, MemorySpace), string>();
        var result = new List<Node>(graph.Nodes.Count + 4);
        // Graph outputs written on the device: the producer writes a device twin; a Copy after it writes the output.
        var twins = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string o in graph.Outputs)
        {
            if (graph.Values.TryGetValue(o, out ValueInfo? v) && v.Memory == MemorySpace.Device)
            {
                twins[o] = Fresh(names, o + "@device");
            }
        }
        foreach (Node node in graph.Nodes)
        {
            MemorySpace need = byName[node.Backend!].Memory;
            for (int i = 0; i < node.Inputs.Length; i++)
            {
                string input = node.Inputs[i];
                if (input.Length == 0 || graph.Constants.ContainsKey(input))
                {
                    continue; // constants are the plans' business (weights are uploaded once, at plan time)
                }
                if (twins.TryGetValue(input, out string? twin))
                {
                    input = node.Inputs[i] = twin;
                }
                ValueInfo v = graph.Values[input];
                if (v.Memory == need)
                {
                    continue;
                }
                if (!copies.TryGetValue((input, need), out string? copy))
                {
                    copy = Fresh(names, $"{input}@{(need == MemorySpace.Device ? "device" : "host")}");
                    copies[(input, need)] = copy;
                    result.Add(CopyNode(input, copy, need, device.Name));
                    graph.Values[copy] = v with { Name = copy, Memory = need };
                }
                node.Inputs[i] = copy;
            }
            result.Add(node);
            for (int i = 0; i < node.Outputs.Length; i++)
            {
                if (twins.TryGetValue(node.Outputs[i], out string? twin))
                {
                    string output = node.Outputs[i];
                    node.Outputs[i] = twin;
                    ValueInfo v = graph.Values[output];
                    graph.Values[twin] = v with { Name = twin };
                    graph.Values[output] = v with { Memory = MemorySpace.Host };
                    result.Add(CopyNode(twin, output, MemorySpace.Host, device.Name));
                }
            }
        }
        graph.Nodes.Clear();
        foreach (Node n in result)
        {
            graph.Nodes.Add(n);
        }
    }

    private static Node CopyNode(string from, string to, MemorySpace space, string backend) =>
        new(FastConvOps.Copy, $"copy {from} to {(space == MemorySpace.Device ? "device" : "host")}", [from], [to],
            new Dictionary<string, AttributeValue> { ["to"] = CopyOp.Attribute(space) }) { Backend = backend };

    /// <summary>A value name not used in the graph.</summary>
    internal static string Fresh(HashSet<string> taken, string hint)
    {
        string name = hint;
        for (int i = 1; !taken.Add(name); i++)
        {
            name = $"{hint}{i}";
        }
        return name;
    }
}
