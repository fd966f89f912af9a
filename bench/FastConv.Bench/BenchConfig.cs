using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace FastConv.Bench;

/// <summary>
/// The benchmarks' configuration: the quick job (unless the command line names a job), the filter that
/// keeps <c>FastConvExact</c> only where it differs from <c>FastConv</c>, the GFLOP/s and GB/s columns,
/// and the exporter that writes <c>docs/cpu-benchmarks.md</c>.
/// </summary>
internal static class BenchConfig
{
    /// <summary>
    /// About 440 cases must fit in ~20 minutes on 2 cores, so ~2–3 s each: one warm-up and five measured
    /// iterations of ≥ 150 ms (ops longer than that run once per iteration, the median of five is stable to a
    /// few % on an idle machine), no unrolling (every op here is at least 10 µs, where the call overhead unrolling
    /// hides is under 0.1 %), and in-process so no case pays a process start, a JIT of a fresh process or a build
    /// of a generated project. The generous timeout covers a layer that still falls back to the scalar reference.
    /// </summary>
    public static Job Quick { get; } = Job.Default
        .WithWarmupCount(1)
        .WithIterationCount(5)
        .WithIterationTime(Perfolizer.Horology.TimeInterval.FromMilliseconds(150))
        .WithUnrollFactor(1)
        .WithToolchain(new InProcessEmitToolchain(TimeSpan.FromHours(2), logOutput: true))
        .WithId("quick");

    public static IConfig Create(string[] args)
    {
        IConfig config = DefaultConfig.Instance
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddFilter(new SimpleFilter(ExactVariantApplies))
            .AddColumn(new WorkColumn(gflops: true), new WorkColumn(gflops: false))
            .AddExporter(new CpuBenchmarkReportExporter())
            .WithOrderer(new BenchmarkDotNet.Order.DefaultOrderer(BenchmarkDotNet.Order.SummaryOrderPolicy.Declared));
        bool jobOnCommandLine = args.Any(a => a is "--job" or "-j" || a.StartsWith("--job=", StringComparison.Ordinal));
        return jobOnCommandLine ? config : config.AddJob(Quick.AsDefault());
    }

    /// <summary>FastConvExact times the same plan as FastConv except on dense 3×3 stride-1 layers, where Fast may pick Winograd.</summary>
    private static bool ExactVariantApplies(BenchmarkCase b)
    {
        if (b.Descriptor.WorkloadMethod.Name != nameof(Conv2dBenchmarks.FastConvExact))
        {
            return true;
        }
        return BenchCatalog.Describe(b) is { Shape: { } shape } && Conv2dBenchmarks.IsWinogradCandidate(shape);
    }

    /// <summary>A summary column: GFLOP/s for conv and FMA cases, GB/s for pool, relu and copy.</summary>
    private sealed class WorkColumn(bool gflops) : IColumn
    {
        public string Id => gflops ? "FastConv.GFLOPs" : "FastConv.GBs";
        public string ColumnName => gflops ? "GFLOP/s" : "GB/s";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => gflops ? 0 : 1;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => gflops
            ? "2·N·K·(C/groups)·R·S·P·Q per call / median time (FMA peak: FLOPs of the loop)"
            : "bytes read + written per call / median time";

        public bool IsAvailable(Summary summary) => true;

        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            if (BenchCatalog.Describe(benchmarkCase) is not { } info || summary[benchmarkCase]?.ResultStatistics is not { } stats)
            {
                return "-";
            }
            double work = gflops ? info.Flops : info.Bytes;
            return work > 0 && (gflops || info.Shape is null) ? (work / stats.Median).ToString("F1", System.Globalization.CultureInfo.InvariantCulture) : "-";
        }
    }
}
