using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Reports;
using FastConv.Cli.Bench;
using FastConv.Cpu;
using Microsoft.ML.OnnxRuntime;

namespace FastConv.Bench;

/// <summary>One measured case as stored between runs (times in nanoseconds per call).</summary>
internal sealed record ResultRow(
    string Set, string Layer, int Threads, int Batch, string Method,
    double MedianNs, double MeanNs, double StdDevNs, int Iterations, long? AllocatedBytes,
    double Flops, double Bytes, string? Algorithm, DateTimeOffset When, bool Failed = false)
{
    public string Key => $"{Set}|{Layer}|{Threads}|{Batch}|{Method}";
}

/// <summary>The machine the rows were measured on.</summary>
internal sealed record MachineInfo(string Cpu, int LogicalCores, string Os, string Dotnet, string OrtVersion, string Simd, string SimdWhy, string Job);

/// <summary>All rows measured so far (sets may be run one at a time; a re-run replaces its own rows).</summary>
internal sealed record ResultStore(MachineInfo? Machine, List<ResultRow> Rows)
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static ResultStore Load(string path)
        => File.Exists(path) ? JsonSerializer.Deserialize<ResultStore>(File.ReadAllText(path), Json) ?? new(null, []) : new(null, []);

    public void Save(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, JsonSerializer.Serialize(this, Json));
    }

    public ResultStore Merge(MachineInfo machine, IEnumerable<ResultRow> fresh)
    {
        var byKey = Rows.ToDictionary(r => r.Key);
        foreach (ResultRow r in fresh)
        {
            byKey[r.Key] = r;
        }
        return new ResultStore(machine, [.. byKey.Values]);
    }
}

/// <summary>Where the report reads and writes, found from the repository root (the folder holding FastConv.sln).</summary>
internal static class ReportPaths
{
    public static string Root { get; } = FindRoot();

    /// <summary>The accumulated rows (git-ignored with the rest of BenchmarkDotNet's artifacts); delete it to start a fresh table.</summary>
    public static string Rows => Path.Combine(Root, "BenchmarkDotNet.Artifacts", "fastconv-cpu-rows.json");

    public static string Markdown => Path.Combine(Root, "docs", "cpu-benchmarks.md");

    private static string FindRoot()
    {
        foreach (string start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (DirectoryInfo? d = new(start); d is not null; d = d.Parent)
            {
                if (File.Exists(Path.Combine(d.FullName, "FastConv.sln")))
                {
                    return d.FullName;
                }
            }
        }
        return Directory.GetCurrentDirectory();
    }
}

/// <summary>
/// BenchmarkDotNet exporter: after a run, merges its cases into <see cref="ReportPaths.Rows"/> and rewrites
/// <c>docs/cpu-benchmarks.md</c> from every row stored so far (so running the sets one by one builds one table).
/// </summary>
internal sealed class CpuBenchmarkReportExporter : IExporter
{
    public string Name => "fastconv-cpu-markdown";

    public void ExportToLog(Summary summary, ILogger logger)
    {
    }

    public IEnumerable<string> ExportToFiles(Summary summary, ILogger consoleLogger)
    {
        var rows = new List<ResultRow>();
        foreach (BenchmarkReport report in summary.Reports)
        {
            if (BenchCatalog.Describe(report.BenchmarkCase) is not { } info)
            {
                continue;
            }
            if (report.ResultStatistics is not { } stats || !report.Success)
            {
                // The output check in GlobalSetup threw (or the run did): say so in the table rather than drop the row.
                rows.Add(new ResultRow(info.Set, info.Layer, info.Threads, info.Batch, info.Method, 0, 0, 0, 0, null,
                    info.Flops, info.Bytes, BenchCatalog.Algorithm(info), DateTimeOffset.UtcNow, Failed: true));
                continue;
            }
            long? allocated = report.GcStats.GetBytesAllocatedPerOperation(report.BenchmarkCase);
            rows.Add(new ResultRow(info.Set, info.Layer, info.Threads, info.Batch, info.Method,
                stats.Median, stats.Mean, stats.StandardDeviation, stats.N, allocated,
                info.Flops, info.Bytes, BenchCatalog.Algorithm(info), DateTimeOffset.UtcNow));
        }
        if (rows.Count == 0)
        {
            return [];
        }
        string job = string.Join(", ", summary.BenchmarksCases.Select(b => b.Job.DisplayInfo).Distinct());
        ResultStore store = ResultStore.Load(ReportPaths.Rows).Merge(CpuBenchmarkReport.Machine(job), rows);
        store.Save(ReportPaths.Rows);
        CpuBenchmarkReport.Write(store, ReportPaths.Markdown);
        consoleLogger.WriteLineInfo($"FastConv CPU report: {ReportPaths.Markdown} ({store.Rows.Count} rows stored in {ReportPaths.Rows})");
        return [ReportPaths.Markdown, ReportPaths.Rows];
    }
}

/// <summary>Renders the stored rows as the Markdown table of issue 4 (FastConv vs ORT, GFLOP/s, % of peak, GB/s).</summary>
internal static class CpuBenchmarkReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static MachineInfo Machine(string job) => new(
        CpuFeatures.CpuModel(),
        Environment.ProcessorCount,
        RuntimeInformation.OSDescription,
        RuntimeInformation.FrameworkDescription,
        OrtEnv.Instance().GetVersionString(),
        CpuFeatures.Current.ToString(),
        CpuFeatures.Explain(),
        job);

    /// <summary><c>FastConv.Bench report</c>: rewrites the Markdown from the stored rows without measuring anything.</summary>
    public static int Run(string[] args)
    {
        string rows = Option(args, "--rows") ?? ReportPaths.Rows;
        string output = Option(args, "--out") ?? ReportPaths.Markdown;
        ResultStore store = ResultStore.Load(rows);
        if (store.Rows.Count == 0)
        {
            Console.Error.WriteLine($"No benchmark rows in {rows}; run the benchmarks first (see bench/FastConv.Bench/Conv2dBenchmarks.cs).");
            return 1;
        }
        Write(store, output);
        Console.WriteLine($"Wrote {output} from {store.Rows.Count} rows of {rows}.");
        return 0;
    }

    private static string? Option(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    public static void Write(ResultStore store, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, Render(store));
    }

    public static string Render(ResultStore store)
    {
        var rows = store.Rows;
        ResultRow? Find(string set, string layer, int threads, int batch, string method)
            => rows.FirstOrDefault(r => r.Set == set && r.Layer == layer && r.Threads == threads && r.Batch == batch && r.Method == method && !r.Failed);
        const string FailedCell = "**FAILED**: FastConv's output check or the run threw (see the BenchmarkDotNet log); no time is reported";

        // The 100 %: the measured FMA ceiling per thread count, from the FmaPeak benchmark when it ran,
        // else measured now for half a second (and said so).
        var peak = new Dictionary<int, (double Gflops, string Source)>();
        foreach (int t in rows.Select(r => r.Threads).Append(1).Distinct().Order())
        {
            peak[t] = Find("peak", "fma", t, 1, "Fma") is { } p
                ? (p.Flops / p.MedianNs, "FmaPeakBenchmarks")
                : (FmaPeak.Measure(t, TimeSpan.FromSeconds(0.5)), "measured while writing this report (FmaPeakBenchmarks not run)");
        }

        var sb = new StringBuilder();
        sb.AppendLine("# CPU benchmarks: FastConv `cpu` backend vs ONNX Runtime");
        sb.AppendLine();
        sb.AppendLine("Generated by `bench/FastConv.Bench` (BenchmarkDotNet; see the comment on `Conv2dBenchmarks` for how to run each set). Do not edit by hand: rerun the benchmarks or `dotnet run -c Release --project bench/FastConv.Bench -- report`.");
        sb.AppendLine();
        if (store.Machine is { } m)
        {
            sb.AppendLine("| machine | |");
            sb.AppendLine("|---|---|");
            sb.AppendLine(Inv, $"| CPU | {Cell(m.Cpu)} ({m.LogicalCores} logical cores) |");
            sb.AppendLine(Inv, $"| OS | {m.Os} |");
            sb.AppendLine(Inv, $"| .NET | {m.Dotnet} |");
            sb.AppendLine(Inv, $"| ONNX Runtime | {m.OrtVersion} (CPU EP, ORT_ENABLE_ALL, IntraOpNumThreads = threads, pre-bound outputs) |");
            sb.AppendLine(Inv, $"| FastConv SIMD level | {m.Simd} ({Cell(m.SimdWhy)}) |");
            foreach (var (t, (g, source)) in peak)
            {
                sb.AppendLine(Inv, $"| measured FMA peak, {t} thread{(t == 1 ? "" : "s")} | {g:F1} GFLOP/s ({source}) |");
            }
            sb.AppendLine(Inv, $"| BenchmarkDotNet job | {m.Job} |");
            DateTimeOffset first = rows.Min(r => r.When), last = rows.Max(r => r.When);
            sb.AppendLine(Inv, $"| measured | {first:yyyy-MM-dd HH:mm} – {last:yyyy-MM-dd HH:mm} UTC |");
            sb.AppendLine();
        }
        sb.AppendLine("Times are the median per call (ms). FastConv/ORT < 1 means FastConv is faster. GFLOP/s counts 2·N·K·(C/groups)·R·S·P·Q per call (Winograd's saved multiplications are not credited); % peak divides by the measured FMA peak at the same thread count. GB/s counts bytes read + written per call. \"exact\" is `CpuPrecision.Exact` (no Winograd). alloc is FastConv's managed allocation per call (must be 0 B).");
        sb.AppendLine();

        var convRows = rows.Where(r => r.Method == "FastConv" && r.Set is "vgg16" or "resnet50" or "mobilenet").ToList();
        var verdicts = new List<(string Target, bool? Met)>();
        foreach (string set in new[] { "vgg16", "resnet50", "mobilenet" })
        {
            var setRows = convRows.Where(r => r.Set == set).ToList();
            if (setRows.Count == 0)
            {
                continue;
            }
            IReadOnlyList<Ops.NamedConv2d> layers = set switch { "vgg16" => Ops.ShapeSets.Vgg16, "resnet50" => Ops.ShapeSets.ResNet50, _ => Ops.ShapeSets.MobileNet };
            sb.AppendLine(Inv, $"## {set}");
            sb.AppendLine();
            sb.AppendLine("| layer | threads | batch | FastConv algorithm | FastConv ms | ORT ms | FastConv/ORT | target | met | FastConv GFLOP/s | % peak | ORT GFLOP/s | exact ms | exact/ORT | alloc |");
            sb.AppendLine("|---|--:|--:|---|--:|--:|--:|--:|:-:|--:|--:|--:|--:|--:|--:|");
            foreach (ResultRow r in setRows.OrderBy(r => IndexOf(layers, r.Layer)).ThenBy(r => r.Threads).ThenBy(r => r.Batch))
            {
                ResultRow? ort = Find(r.Set, r.Layer, r.Threads, r.Batch, "OnnxRuntime");
                ResultRow? exact = Find(r.Set, r.Layer, r.Threads, r.Batch, "FastConvExact");
                Ops.NamedConv2d layer = layers[IndexOf(layers, r.Layer)];
                if (r.Failed)
                {
                    if (ConvTarget(layer) is not null)
                    {
                        verdicts.Add(($"{set} {TargetName(layer)}", false));
                    }
                    sb.AppendLine(Inv, $"| {r.Layer} | {r.Threads} | {r.Batch} | {r.Algorithm} | {FailedCell} |");
                    continue;
                }
                double? target = ConvTarget(layer);
                double? ratio = ort is null ? null : r.MedianNs / ort.MedianNs;
                bool? met = target is null || ratio is null ? null : ratio <= target;
                if (target is not null)
                {
                    verdicts.Add(($"{set} {TargetName(layer)}", met));
                }
                sb.AppendLine(Inv, $"| {r.Layer} | {r.Threads} | {r.Batch} | {r.Algorithm} | {Ms(r.MedianNs)} | {Ms(ort?.MedianNs)} | {X(ratio)} | {(target is null ? "—" : $"≤ {target:0.0#}")} | {Mark(met)} | {r.Flops / r.MedianNs:F1} | {100 * r.Flops / r.MedianNs / peak[r.Threads].Gflops:F0} % | {(ort is null ? "—" : (ort.Flops / ort.MedianNs).ToString("F1", Inv))} | {Ms(exact?.MedianNs)} | {X(exact is null || ort is null ? null : exact.MedianNs / ort.MedianNs)} | {Bytes(r.AllocatedBytes)} |");
            }
            sb.AppendLine();
        }

        var memRows = rows.Where(r => r.Method == "FastConv" && r.Set is "pool" or "relu").OrderBy(r => r.Set).ThenBy(r => r.Threads).ThenBy(r => r.Batch).ToList();
        if (memRows.Count > 0)
        {
            sb.AppendLine("## pool (MaxPool 2×2/2) and relu, on N×64×224×224");
            sb.AppendLine();
            sb.AppendLine("| set | threads | batch | FastConv algorithm | FastConv ms | ORT ms | copy ms | FastConv/ORT | FastConv GB/s | ORT GB/s | copy GB/s | FastConv GB/s ÷ copy GB/s | target | met | alloc |");
            sb.AppendLine("|---|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|---|:-:|--:|");
            foreach (ResultRow r in memRows)
            {
                ResultRow? ort = Find(r.Set, r.Layer, r.Threads, r.Batch, "OnnxRuntime");
                ResultRow? copy = Find(r.Set, r.Layer, r.Threads, r.Batch, "Copy");
                if (r.Failed)
                {
                    verdicts.Add(($"{r.Set} {(r.Set == "relu" ? "≤ 1.1× copy time" : "≤ 1.0× ORT")}", false));
                    sb.AppendLine(Inv, $"| {r.Set} | {r.Threads} | {r.Batch} | {r.Algorithm} | {FailedCell} |");
                    continue;
                }
                double? ratio = ort is null ? null : r.MedianNs / ort.MedianNs;
                double gbs = r.Bytes / r.MedianNs;
                double? copyGbs = copy is null ? null : copy.Bytes / copy.MedianNs;
                // Relu moves exactly the copy's bytes, so "within 10 % of a copy" is time ≤ 1.1 × copy time.
                bool relu = r.Set == "relu";
                string target = relu ? "≤ 1.1× copy time" : "≤ 1.0× ORT";
                bool? met = relu
                    ? (copy is null ? null : r.MedianNs <= 1.1 * copy.MedianNs)
                    : (ratio is null ? null : ratio <= 1.0);
                verdicts.Add(($"{r.Set} {target}", met));
                sb.AppendLine(Inv, $"| {r.Set} | {r.Threads} | {r.Batch} | {r.Algorithm} | {Ms(r.MedianNs)} | {Ms(ort?.MedianNs)} | {Ms(copy?.MedianNs)} | {X(ratio)} | {gbs:F1} | {(ort is null ? "—" : (ort.Bytes / ort.MedianNs).ToString("F1", Inv))} | {(copyGbs is null ? "—" : copyGbs.Value.ToString("F1", Inv))} | {X(copyGbs is null ? null : gbs / copyGbs)} | {target} | {Mark(met)} | {Bytes(r.AllocatedBytes)} |");
            }
            sb.AppendLine();
        }

        if (verdicts.Count > 0)
        {
            sb.AppendLine("## Targets met");
            sb.AppendLine();
            sb.AppendLine("| target | met | missed | no ORT/copy row |");
            sb.AppendLine("|---|--:|--:|--:|");
            foreach (var g in verdicts.GroupBy(v => v.Target))
            {
                sb.AppendLine(Inv, $"| {g.Key} | {g.Count(v => v.Met == true)} | {g.Count(v => v.Met == false)} | {g.Count(v => v.Met is null)} |");
            }
            sb.AppendLine();
        }
        return sb.ToString();
    }

    /// <summary>Issue 4's targets: 3×3 stride-1 ≤ 0.8× ORT (Winograd), other Vgg16/ResNet50 and depthwise layers ≤ 1.0×; MobileNet's pointwise layers have none.</summary>
    private static double? ConvTarget(Ops.NamedConv2d layer)
    {
        Ops.Conv2dShape s = layer.WithBatch(1);
        if (Conv2dBenchmarks.IsWinogradCandidate(s))
        {
            return 0.8;
        }
        return layer.Set is "vgg16" or "resnet50" || s.Groups == s.C ? 1.0 : null;
    }

    private static string TargetName(Ops.NamedConv2d layer)
    {
        Ops.Conv2dShape s = layer.WithBatch(1);
        return Conv2dBenchmarks.IsWinogradCandidate(s) ? "3×3 stride 1 ≤ 0.8× ORT"
            : s.Groups == s.C && s.Groups > 1 ? "depthwise ≤ 1.0× ORT"
            : "other conv ≤ 1.0× ORT";
    }

    private static int IndexOf(IReadOnlyList<Ops.NamedConv2d> layers, string name)
    {
        for (int i = 0; i < layers.Count; i++)
        {
            if (layers[i].Name == name)
            {
                return i;
            }
        }
        return layers.Count;
    }

    /// <summary>Text safe inside a Markdown table cell (a bare '|' would end the cell).</summary>
    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal);

    private static string Ms(double? ns) => ns is null ? "—" : (ns.Value / 1e6).ToString(ns.Value >= 1e7 ? "F1" : ns.Value >= 1e6 ? "F2" : "F3", Inv);

    private static string X(double? ratio) => ratio is null ? "—" : ratio.Value.ToString("F2", Inv);

    private static string Mark(bool? met) => met switch { true => "✓", false => "✗", null => "—" };

    private static string Bytes(long? b) => b is null ? "?" : $"{b.Value.ToString(Inv)} B";
}
