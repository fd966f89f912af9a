using FastConv.Backends;
using FastConv.Graphs;

namespace FastConv.Compilation;

/// <summary>Where one value lives during a run: its memory space, its byte offset in that space's arena, its size.</summary>
public readonly record struct BufferSlot(MemorySpace Space, long Offset, long Bytes);

/// <summary>The memory pass's result: a slot for every run-time value and the size of each memory space's arena.</summary>
public sealed class MemoryPlan
{
    internal MemoryPlan(IReadOnlyDictionary<string, BufferSlot> slots, IReadOnlyDictionary<MemorySpace, long> arenaBytes)
    {
        Slots = slots;
        ArenaBytes = arenaBytes;
    }

    /// <summary>Every run-time value (graph inputs, node outputs) and its place.</summary>
    public IReadOnlyDictionary<string, BufferSlot> Slots { get; }

    /// <summary>Bytes of each memory space's arena (spaces with no value are absent).</summary>
    public IReadOnlyDictionary<MemorySpace, long> ArenaBytes { get; }

    public long BytesOf(MemorySpace space) => ArenaBytes.TryGetValue(space, out long b) ? b : 0;
}

/// <summary>
/// The memory pass: one arena per memory space (host, device), every run-time value placed in its space's arena by
/// liveness (<see cref="ArenaPlanner"/>, O(n log n)). A value lives from the node that writes it (graph inputs: from
/// before the first node) to its last reader (graph outputs: to after the last node); its size is that of its physical
/// shape (<see cref="ValueInfo.PhysicalShape"/>, a blocked layout rounds channels up to whole blocks).
/// </summary>
public static class MemoryPass
{
    public const string Name = "memory";

    public static MemoryPlan Run(Graph graph, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(graph);
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
            cancellation.ThrowIfCancellationRequested();
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
        var slots = new Dictionary<string, BufferSlot>(first.Count, StringComparer.Ordinal);
        var arenas = new Dictionary<MemorySpace, long>();
        foreach (var space in first.Keys.GroupBy(name => Info(graph, name).Memory))
        {
            var requests = space.Select(name =>
            {
                ValueInfo v = Info(graph, name);
                return new ArenaRequest(name, (long)v.PhysicalShape.ElementCount * ElementBytes(v.Type), first[name], last[name]);
            }).ToList();
            (Dictionary<string, long> offsets, long total) = ArenaPlanner.Plan(requests);
            foreach (ArenaRequest r in requests)
            {
                slots[r.Name] = new BufferSlot(space.Key, offsets[r.Name], r.Bytes);
            }
            arenas[space.Key] = total;
        }
        return new MemoryPlan(slots, arenas);
    }

    public static int ElementBytes(ElementType type) => type == ElementType.Int64 ? 8 : 4;

    private static ValueInfo Info(Graph graph, string name) =>
        graph.Values.TryGetValue(name, out ValueInfo? v) ? v
        : throw new InvalidModelException($"graph '{graph.Name}': value '{name}' has no shape; run the infer pass before the memory pass.");
}
