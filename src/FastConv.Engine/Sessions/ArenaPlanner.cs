namespace FastConv.Sessions;

/// <summary>One buffer to place: its size in floats and the steps during which it must hold its value.</summary>
internal sealed record ArenaRequest(string Name, int Floats, int FirstStep, int LastStep);

/// <summary>
/// Places every activation of a session in one arena by buffer liveness: two buffers may share memory when the
/// step ranges in which they hold values do not overlap. Greedy by size (largest first), each at the lowest
/// offset that overlaps no already placed buffer that is live at the same time — the "greedy by size" offset
/// planner of TensorFlow Lite, close to optimal on CNN chains. Offsets are multiples of 16 floats (64 bytes),
/// so each buffer starts on its own cache line relative to the arena.
/// </summary>
internal static class ArenaPlanner
{
    public const int Alignment = 16;

    public static (Dictionary<string, int> Offsets, int TotalFloats) Plan(IReadOnlyList<ArenaRequest> requests)
    {
        var placed = new List<(ArenaRequest Request, int Offset)>();
        var offsets = new Dictionary<string, int>(StringComparer.Ordinal);
        long total = 0;
        foreach (ArenaRequest r in requests.OrderByDescending(r => r.Floats).ThenBy(r => r.FirstStep))
        {
            int size = Align(r.Floats);
            // Intervals in memory taken by buffers live at the same time as r, sorted by offset.
            var busy = placed
                .Where(p => p.Request.FirstStep <= r.LastStep && r.FirstStep <= p.Request.LastStep)
                .Select(p => (Start: (long)p.Offset, End: (long)p.Offset + Align(p.Request.Floats)))
                .OrderBy(b => b.Start)
                .ToList();
            long offset = 0;
            foreach (var (start, end) in busy)
            {
                if (offset + size <= start)
                {
                    break;
                }
                offset = Math.Max(offset, end);
            }
            if (offset + size > Array.MaxLength)
            {
                throw new InvalidModelException($"the activations need more than {Array.MaxLength} floats at once (buffer '{r.Name}' of {r.Floats} floats at offset {offset}); use a smaller batch.");
            }
            placed.Add((r, (int)offset));
            offsets[r.Name] = (int)offset;
            total = Math.Max(total, offset + size);
        }
        return (offsets, (int)total);
    }

    private static int Align(int floats) => (int)Math.Min(Array.MaxLength, ((long)floats + Alignment - 1) / Alignment * Alignment);
}
