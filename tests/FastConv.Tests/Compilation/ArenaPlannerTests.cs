using CsCheck;
using FastConv.Compilation;

namespace FastConv.Tests.Compilation;

/// <summary>
/// The arena planner against the all-pairs version it replaced (greedy by size, first fit among the buffers live at the
/// same time): identical offsets on random lifetimes, and no two buffers live together ever overlap in memory.
/// </summary>
public sealed class ArenaPlannerTests
{
    private static Dictionary<string, long> AllPairs(IReadOnlyList<ArenaRequest> requests)
    {
        var placed = new List<(ArenaRequest R, long Offset)>();
        var offsets = new Dictionary<string, long>();
        foreach (var (r, _) in requests.Select((r, i) => (r, i)).OrderByDescending(p => p.r.Bytes).ThenBy(p => p.r.FirstStep).ThenBy(p => p.i))
        {
            long size = ArenaPlanner.Align(r.Bytes);
            long offset = 0;
            foreach (var (start, end) in placed.Where(p => p.R.FirstStep <= r.LastStep && r.FirstStep <= p.R.LastStep)
                         .Select(p => (p.Offset, p.Offset + ArenaPlanner.Align(p.R.Bytes))).OrderBy(b => b.Item1))
            {
                if (offset + size <= start)
                {
                    break;
                }
                offset = Math.Max(offset, end);
            }
            placed.Add((r, offset));
            offsets[r.Name] = offset;
        }
        return offsets;
    }

    [Test]
    public void SameOffsetsAsTheAllPairsPlannerAndNoLiveOverlap()
    {
        Gen.Int[1, 60].SelectMany(n => Gen.Select(Gen.Int[1, 5000], Gen.Int[-1, 40], Gen.Int[0, 12]).Array[n])
            .Sample(items =>
            {
                var requests = items.Select((t, i) => new ArenaRequest($"v{i}", t.Item1, t.Item2, t.Item2 + t.Item3)).ToList();
                (Dictionary<string, long> offsets, long total) = ArenaPlanner.Plan(requests);
                Assert.That(offsets, Is.EqualTo(AllPairs(requests)));
                foreach (ArenaRequest a in requests)
                {
                    Assert.That(offsets[a.Name] % ArenaPlanner.Alignment, Is.Zero);
                    Assert.That(offsets[a.Name] + a.Bytes, Is.LessThanOrEqualTo(total));
                    foreach (ArenaRequest b in requests.Where(b => b != a && b.FirstStep <= a.LastStep && a.FirstStep <= b.LastStep))
                    {
                        bool apart = offsets[a.Name] + a.Bytes <= offsets[b.Name] || offsets[b.Name] + b.Bytes <= offsets[a.Name];
                        Assert.That(apart, $"{a} at {offsets[a.Name]} and {b} at {offsets[b.Name]} are live together and overlap");
                    }
                }
            }, iter: 300);
    }

    [Test]
    public void AChainNeedsTwoBuffers()
    {
        var requests = Enumerable.Range(0, 10_000).Select(i => new ArenaRequest($"v{i}", 1000, i - 1, i)).ToList();
        (_, long total) = ArenaPlanner.Plan(requests);
        Assert.That(total, Is.EqualTo(2 * ArenaPlanner.Align(1000)));
    }
}
