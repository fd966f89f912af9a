using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Ops;

namespace FastConv.Tests.Backends;

/// <summary>
/// Every CPU conv algorithm of <see cref="Conv2dAlgorithms.All"/>, forced, at every SIMD level this machine
/// runs, on every case of the edges set (plus the real-network shapes shrunk) that the algorithm supports,
/// against the reference. A new algorithm is tested by registering it; nothing to add here.
/// </summary>
public sealed class CpuConvAlgorithmTests
{
    private static readonly SimdLevel[] Levels = Enum.GetValues<SimdLevel>().Where(l => l <= CpuFeatures.Detected).ToArray();

    /// <summary>The edges set plus each real-network layer kind at small H, W (same C, K, R, S, stride, groups).</summary>
    public static IEnumerable<ConvCase> AllCases()
    {
        foreach (ConvCase c in ConvCaseSource.Cases(ShapeSets.Edges(120, seed: 23), 23))
        {
            yield return c;
        }
        var shrunk = ShapeSets.Vgg16.Take(4).Concat(ShapeSets.ResNet50.Where(l => l.C <= 256)).Concat(ShapeSets.MobileNet.Where(l => l.C <= 192))
            .Select(l => new Conv2dShape(2, l.C, Math.Min(l.H, 9), Math.Min(l.W, 11), l.K, l.R, l.S, l.Params));
        foreach (ConvCase c in ConvCaseSource.Cases(shrunk, 29))
        {
            yield return c;
        }
    }

    public static IEnumerable<TestCaseData> Cases()
    {
        var cases = AllCases().ToList();
        foreach (IConv2dAlgorithm algorithm in Conv2dAlgorithms.All)
        {
            foreach (SimdLevel level in Levels)
            {
                var context = new CpuContext(level, Cpu.Threading.WorkerPool.ForThreads(2), new CpuBackendOptions { Simd = level, Threads = 2, ConvAlgorithm = algorithm.Name });
                int i = 0;
                foreach (ConvCase c in cases.Where(c => algorithm.Supports(c.Shape, context)))
                {
                    yield return new TestCaseData(algorithm.Name, level, c).SetName($"{algorithm.Name}/{level}: Conv2d({c}) #{i++}");
                }
            }
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesReference(string algorithm, SimdLevel level, ConvCase c)
    {
        using var backend = new CpuBackend(new CpuBackendOptions { Simd = level, Threads = 2, ConvAlgorithm = algorithm });
        BackendConformanceTests.CheckConv(backend, c, plan => CpuConvErrorFactors.For(plan.Algorithm));
    }
}
