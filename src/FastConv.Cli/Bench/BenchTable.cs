using System.Globalization;
using System.Text;
using Spectre.Console;

namespace FastConv.Cli.Bench;

/// <summary>The report as a terminal table (Spectre.Console) and as Markdown (docs/bench/bench.md).</summary>
internal static class BenchTable
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>One row per (case, peer); a case without peers gets one row.</summary>
    private static IEnumerable<(BenchCase Case, BenchPeerResult? Peer, bool First)> Rows(BenchReport report)
    {
        foreach (BenchCase c in report.Cases)
        {
            if (c.Peers.Count == 0)
            {
                yield return (c, null, true);
                continue;
            }
            for (int i = 0; i < c.Peers.Count; i++)
            {
                yield return (c, c.Peers[i], i == 0);
            }
        }
    }

    private static readonly string[] Header =
    [
        "workload", "N", "thr", "callers", "backend", "algorithm", "check", "FastConv ms (p10–p90)", "FastConv runs/s", "GFLOP/s", "GB/s", "% peak",
        "peer", "peer ms (p10–p90)", "peer runs/s", "peer GFLOP/s", "FastConv/peer",
    ];

    private static string[] Cells(BenchCase c, BenchPeerResult? p, bool first)
    {
        BenchTiming? f = c.Fastconv;
        bool memoryBound = c.Kind is "pool" or "relu";
        string check = c.Status switch
        {
            BenchStatus.Ok or BenchStatus.Mismatch => p?.Check ?? c.Status,
            BenchStatus.Skipped => "skipped",
            BenchStatus.Failed => "FAILED",
            _ => p?.Check ?? c.Status,
        };
        return
        [
            first ? c.Workload : "",
            first ? c.Batch.ToString(Inv) : "",
            first ? (c.Threads > 0 ? c.Threads.ToString(Inv) : "-") : "",
            first ? Math.Max(c.Concurrency, 1).ToString(Inv) : "",
            first ? c.Backend : "",
            first ? f?.Algorithm ?? "" : "",
            check,
            first ? Ms(f) : "",
            first ? Num(f?.ThroughputPerS, "F0") : "",
            first ? (memoryBound ? "-" : Num(f?.Gflops)) : "",
            first ? Num(f?.Gbs) : "",
            first ? (memoryBound ? "-" : Num(f?.PctPeak, "F0")) : "",
            p?.Peer ?? "",
            Ms(p?.Timing),
            Num(p?.Timing?.ThroughputPerS, "F0"),
            memoryBound ? "-" : Num(p?.Timing?.Gflops),
            p?.Ratio is { } r ? r.ToString("F2", Inv) : "",
        ];
    }

    private static string Ms(BenchTiming? t)
        => t is null ? "-" : $"{Fmt(t.MedianMs)} ({Fmt(t.P10Ms)}–{Fmt(t.P90Ms)})";

    private static string Fmt(double ms) => ms >= 100 ? ms.ToString("F0", Inv) : ms >= 1 ? ms.ToString("F2", Inv) : ms.ToString("F3", Inv);

    private static string Num(double? x, string format = "F1") => x is { } v ? v.ToString(format, Inv) : "-";

    private static string Peaks(BenchReport r)
        => string.Join("; ", r.Peaks.Select(p => $"{p.Threads} thread(s): FMA {p.FmaGflops:F0} GFLOP/s, copy {p.CopyGbs:F1} GB/s"));

    public static void Render(BenchReport report, IAnsiConsole console)
    {
        // Redirected output (a log, CI) gets Spectre's default 80 columns, which would fold every cell; a log has no width limit.
        if (!console.Profile.Capabilities.Interactive && Console.IsOutputRedirected)
        {
            console.Profile.Width = Math.Max(console.Profile.Width, 200);
        }
        var table = new Table().Border(TableBorder.Rounded);
        foreach (string h in Header)
        {
            table.AddColumn(new TableColumn(Markup.Escape(h)));
        }
        foreach ((BenchCase c, BenchPeerResult? p, bool first) in Rows(report))
        {
            string[] cells = Cells(c, p, first);
            table.AddRow(cells.Select((s, i) => (Spectre.Console.Rendering.IRenderable)new Markup(Colour(i, s, c, p))).ToArray());
        }
        table.Caption($"[grey]{Markup.Escape($"{report.Machine.Cpu}, {report.Machine.LogicalCores} cores; measured ceilings: {Peaks(report)}")}[/]");
        console.Write(table);
        foreach (BenchCase c in report.Cases.Where(c => c.Reason is not null && c.Status is not BenchStatus.Ok))
        {
            string colour = c.Status is BenchStatus.Mismatch or BenchStatus.Failed ? "red" : "yellow";
            console.MarkupLine($"[{colour}]{Markup.Escape($"{c.Workload} N={c.Batch} on {c.Backend}: {c.Status}: {c.Reason}")}[/]");
        }
        foreach (BenchSkippedBackend s in report.SkippedBackends)
        {
            console.MarkupLine($"[yellow]{Markup.Escape($"backend {s.Backend} skipped: {s.Reason}")}[/]");
        }
        foreach (string line in GraphLines(report))
        {
            console.MarkupLine(Markup.Escape(line));
        }
    }

    /// <summary>
    /// With --graphs, one line per case: the same session step by step and replayed from CUDA Graphs, timed in the same
    /// rounds, and the difference (the launch overhead saved per call); then the notes that qualify them.
    /// </summary>
    internal static IEnumerable<string> GraphLines(BenchReport r)
    {
        foreach (BenchCase c in r.Cases.Where(c => c.Graphs is not null))
        {
            BenchTiming? without = c.Peers.FirstOrDefault(p => p.Peer == BenchRunner.NoGraphsPeer)?.Timing;
            string times = c.GraphSavedMs is { } saved && without is not null && c.Fastconv is not null
                ? $"without {Fmt(without.MedianMs)} ms, with {Fmt(c.Fastconv.MedianMs)} ms: saved {Fmt(saved)} ms per call ({100 * saved / without.MedianMs:F1} %)"
                : "not timed";
            yield return $"CUDA Graphs, {c.Workload} N={c.Batch} on {c.Backend}: {times}; {c.Graphs}";
        }
        if (r.Settings.Graphs)
        {
            foreach (string note in r.Notes.Where(n => n.StartsWith("cuda-emu:", StringComparison.Ordinal)))
            {
                yield return "note: " + note;
            }
        }
    }

    private static string Colour(int column, string text, BenchCase c, BenchPeerResult? p)
    {
        string escaped = Markup.Escape(text);
        if (column == 6)
        {
            return text switch
            {
                "agree" => $"[green]{escaped}[/]",
                "mismatch" or "FAILED" or "failed" => $"[red]{escaped}[/]",
                _ => $"[yellow]{escaped}[/]",
            };
        }
        if (column == 16 && p?.Ratio is { } r)
        {
            return r <= 1 ? $"[green]{escaped}[/]" : $"[red]{escaped}[/]";
        }
        _ = c;
        return escaped;
    }

    /// <summary>The report as Markdown: a header naming the machine, versions and settings, then the table.</summary>
    public static string Markdown(BenchReport r, string command)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# `fastconv bench`");
        sb.AppendLine();
        sb.AppendLine(Inv, $"Written by `{command}` at {r.CreatedUtc}. Times are per call; runs/s counts the calls of all callers together per second of wall time (with several callers, FastConv shares one session and ONNX Runtime one InferenceSession); FastConv/peer below 1 means FastConv is faster.");
        sb.AppendLine("Every peer's output was compared with FastConv's before either was timed (`check`); a mismatch is not timed.");
        sb.AppendLine();
        sb.AppendLine("| | |");
        sb.AppendLine("|---|---|");
        sb.AppendLine(Inv, $"| machine | {r.Machine.Cpu}, {r.Machine.LogicalCores} logical cores, {r.Machine.Os}; SIMD {r.Machine.Simd}; load average at the end {r.Machine.LoadAverage?.ToString("F2", Inv) ?? "?"} |");
        sb.AppendLine(Inv, $"| GPU | {r.Machine.Gpu} |");
        sb.AppendLine(Inv, $"| versions | FastConv {r.Versions.Fastconv}; {r.Versions.Dotnet}; ONNX Runtime {r.Versions.OnnxRuntime} (CPU EP, ORT_ENABLE_ALL, same intra-op threads, pre-bound outputs, intra-op spinning {(OrtOneNode.SpinEnabled ? "on" : "off: spinning ORT threads took the cores from FastConv's in the same rounds")}) |");
        sb.AppendLine(Inv, $"| ceilings (same run) | {Peaks(r)} |");
        BenchSettingsRecord s = r.Settings;
        sb.AppendLine(Inv, $"| settings | backends {string.Join(",", s.Backends)}; peers {string.Join(",", s.Peers)}; threads {string.Join(",", s.Threads)}; batch {string.Join(",", s.Batches)}; callers {string.Join(",", s.Concurrency ?? [1])}; {(s.Exact ? "exact" : "fast")} precision; warm-up {s.WarmupMs:F0} ms, ≥ {s.MinRounds} interleaved rounds within {s.CaseBudgetMs:F0} ms per case, samples ≥ {s.MinSampleMs:G3} ms |");
        foreach (BenchSkippedBackend b in r.SkippedBackends)
        {
            sb.AppendLine(Inv, $"| skipped backend | {b.Backend}: {b.Reason} |");
        }
        foreach (string note in r.Notes)
        {
            sb.AppendLine(Inv, $"| note | {note} |");
        }
        sb.AppendLine();
        sb.AppendLine("| " + string.Join(" | ", Header) + " |");
        sb.AppendLine("|" + string.Concat(Header.Select((_, i) => i < 7 || i == 12 ? "---|" : "---:|")));
        foreach ((BenchCase c, BenchPeerResult? p, bool first) in Rows(r))
        {
            sb.AppendLine("| " + string.Join(" | ", Cells(c, p, first).Select(x => x.Replace("|", "\\|", StringComparison.Ordinal))) + " |");
        }
        var remarks = r.Cases.Where(c => c.Reason is not null).ToList();
        if (remarks.Count > 0)
        {
            sb.AppendLine();
            foreach (BenchCase c in remarks)
            {
                sb.AppendLine(Inv, $"- {c.Workload} N={c.Batch} on {c.Backend}: **{c.Status}**: {c.Reason}");
            }
        }
        if (r.Cases.Any(c => c.Graphs is not null))
        {
            sb.AppendLine();
            foreach (string line in GraphLines(r).Where(l => !l.StartsWith("note: ", StringComparison.Ordinal)))
            {
                sb.AppendLine("- " + line);
            }
        }
        return sb.ToString();
    }
}
