using FastConv.Backends;
using FastConv.Ops;

namespace FastConv.Tests.Backends;

/// <summary>A conv problem with its epilogue and data seed; ToString names the whole problem.</summary>
public sealed record ConvCase(Conv2dShape Shape, bool Bias, ConvEpilogue Epilogue, int Seed)
{
    public override string ToString() => $"{Shape} bias={Bias} epilogue[{Epilogue}]";
}

/// <summary>Conv cases over the shared <c>edges</c> set, cycling through the epilogues a fused kernel must support.</summary>
public static class ConvCaseSource
{
    public static IEnumerable<ConvCase> Cases(IEnumerable<Conv2dShape> shapes, int seed)
    {
        var rng = new Random(seed);
        int i = 0;
        foreach (Conv2dShape s in shapes)
        {
            yield return new ConvCase(s, i % 3 != 0, ShapeSets.EdgeEpilogue(i, s.K, rng), seed * 1000 + i);
            i++;
        }
    }

    public static IEnumerable<TestCaseData> Edges(int count, int seed)
        => Cases(ShapeSets.Edges(count, seed), seed).Select((c, i) => new TestCaseData(c).SetName($"Conv2d({c}) #{i}"));
}
