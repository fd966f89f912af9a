using BenchmarkDotNet.Attributes;
using FastConv.Cli.Bench;
using FastConv.Cpu.Threading;

namespace FastConv.Bench;

/// <summary>
/// The machine's measured fp32 FMA ceiling on 1 and 2 threads, the 100 % that the report's "% of peak"
/// divides by. See <see cref="FmaPeak"/> for the kernel. Run: <c>--filter '*FmaPeak*'</c>.
/// </summary>
[MemoryDiagnoser]
public class FmaPeakBenchmarks
{
    private FmaPeak _peak = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup() => _peak = new FmaPeak(WorkerPool.ForThreads(Threads));

    /// <summary>FLOPs of one <see cref="Fma"/> call: <see cref="FmaPeak.FlopsPerCall"/>.</summary>
    [Benchmark]
    public float Fma() => _peak.Run();
}
