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
    public static ConvEpilogue EpilogueFor(int i, int k, Random rng)
    {
        float[] Values(float lo, float hi) => Enumerable.Range(0, k).Select(_ => lo + (hi - lo) * rng.NextSingle()).ToArray();
        return (i % 6) switch
        {
            0 => ConvEpilogue.None,
            1 => new ConvEpilogue { Activation = Activation.Relu },
            2 => new ConvEpilogue { Scale = Values(0.5f, 2f), Shift = Values(-1f, 1f), Activation = Activation.Relu6 },
            3 => new ConvEpilogue { AddResidual = true, Activation = Activation.Relu },
            4 => new ConvEpilogue { Scale = Values(0.5f, 2f), Shift = Values(-1f, 1f), AddResidual = true, Activation = Activation.HardSwish },
            _ => new ConvEpilogue { Activation = Activation.LeakyRelu(0.1f) },
        };
    }

    public static IEnumerable<ConvCase> Cases(IEnumerable<Conv2dShape> shapes, int seed)
    {
        var rng = new Random(seed);
        int i = 0;
        foreach (Conv2dShape s in shapes)
        {
            yield return new ConvCase(s, i % 3 != 0, EpilogueFor(i, s.K, rng), seed * 1000 + i);
            i++;
        }
    }

    public static IEnumerable<TestCaseData> Edges(int count, int seed)
        => Cases(ShapeSets.Edges(count, seed), seed).Select((c, i) => new TestCaseData(c).SetName($"Conv2d({c}) #{i}"));
}
