using System.Globalization;
using ScottPlot;
using SkiaSharp;

namespace FastConv.Cli.Bench;

/// <summary>
/// <c>--plot FILE.png</c>: three panels drawn with ScottPlot on one image —
/// compute-bound cases (GFLOP/s, FastConv beside each peer, the measured FMA peak as a line),
/// memory-bound cases (GB/s beside the measured copy bandwidth), and a roofline of every case
/// (GFLOP/s against arithmetic intensity, log–log, under the measured FMA peak and copy roof).
/// </summary>
internal static class BenchPlot
{
    private const int Width = 1600;
    private const int Height = 1100;
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private static readonly Color FastConvColor = Color.FromHex("#1f77b4");

    private static Color PeerColor(string peer) => peer switch
    {
        "ort" => Color.FromHex("#ff7f0e"),
        "pytorch" => Color.FromHex("#2ca02c"),
        "cudnn" => Color.FromHex("#d62728"),
        _ => Color.FromHex("#7f7f7f"),
    };

    public static void Save(BenchReport report, string path)
    {
        var timed = report.Cases.Where(c => c.Fastconv is not null || c.Peers.Any(p => p.Timing is not null)).ToList();
        bool varyThreads = timed.Select(c => c.Threads).Distinct().Count() > 1;
        bool varyBatch = timed.Select(c => c.Batch).Distinct().Count() > 1;
        bool varyBackend = timed.Select(c => c.Backend).Distinct().Count() > 1;
        string Label(BenchCase c) => c.Workload
            + (varyBatch ? $" N={c.Batch}" : "")
            + (varyThreads ? $" {c.Threads}t" : "")
            + (varyBackend ? $" {c.Backend}" : "");

        var compute = timed.Where(c => c.Kind is not ("pool" or "relu")).ToList();
        var memory = timed.Where(c => c.Kind is "pool" or "relu").ToList();

        using Plot bars = Bars(compute, Label, c => c.Gflops, "GFLOP/s",
            $"Compute-bound: FastConv beside its peers ({report.Machine.Cpu})",
            report.Peaks.Select(p => ($"FMA peak, {p.Threads} thr ({p.FmaGflops:F0})", p.FmaGflops)));
        using Plot mem = Bars(memory, Label, c => c.Gbs, "GB/s", "Memory-bound",
            report.Peaks.Select(p => ($"copy, {p.Threads} thr ({p.CopyGbs:F1})", p.CopyGbs)));
        using Plot roof = Roofline(report, timed, Label);

        var info = new SKImageInfo(Width, Height);
        using SKSurface surface = SKSurface.Create(info);
        SKCanvas canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        const int top = 520;
        // Each plot renders to its own bitmap first: a plot fills the whole canvas with its figure background.
        Draw(canvas, bars, 0, 0, Width, top);
        Draw(canvas, mem, 0, top, 520, Height - top);
        Draw(canvas, roof, 520, top, Width - 520, Height - top);
        using SKImage image = surface.Snapshot();
        using SKData data = image.Encode(SKEncodedImageFormat.Png, 100);
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null)
        {
            Directory.CreateDirectory(dir);
        }
        using FileStream file = File.Create(path);
        data.SaveTo(file);
    }

    private static void Draw(SKCanvas canvas, Plot plot, int x, int y, int width, int height)
    {
        using SKBitmap bitmap = SKBitmap.Decode(plot.GetImageBytes(width, height, ImageFormat.Png));
        canvas.DrawBitmap(bitmap, x, y);
    }

    private static Plot Bars(IReadOnlyList<BenchCase> cases, Func<BenchCase, string> label, Func<BenchTiming, double> metric, string unit, string title,
        IEnumerable<(string Label, double Value)> ceilings)
    {
        var plot = new Plot();
        plot.Title(title, 14);
        plot.YLabel(unit);
        var subjects = new List<string> { "FastConv" };
        subjects.AddRange(cases.SelectMany(c => c.Peers.Where(p => p.Timing is not null).Select(p => p.Peer)).Distinct());
        double width = 0.8 / subjects.Count;
        var ticks = new List<Tick>();
        for (int i = 0; i < cases.Count; i++)
        {
            BenchCase c = cases[i];
            for (int s = 0; s < subjects.Count; s++)
            {
                BenchTiming? t = s == 0 ? c.Fastconv : c.Peers.FirstOrDefault(p => p.Peer == subjects[s])?.Timing;
                if (t is null)
                {
                    continue;
                }
                var bar = new Bar
                {
                    Position = i - 0.4 + width * (s + 0.5),
                    Value = metric(t),
                    Size = width * 0.95,
                    FillColor = s == 0 ? FastConvColor : PeerColor(subjects[s]),
                    LineWidth = 0,
                };
                plot.Add.Bar(bar);
            }
            ticks.Add(new Tick(i, label(c)));
        }
        foreach ((string name, double value) in ceilings)
        {
            var line = plot.Add.HorizontalLine(value, 1.5f, Colors.Black.WithAlpha(0.6), LinePattern.Dashed);
            line.LegendText = name;
        }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual([.. ticks]);
        plot.Axes.Bottom.TickLabelStyle.Rotation = 30;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        plot.Axes.Bottom.MinimumSize = 140;
        plot.Axes.Margins(bottom: 0);
        for (int s = 0; s < subjects.Count; s++)
        {
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = s == 0 ? "FastConv" : subjects[s], FillColor = s == 0 ? FastConvColor : PeerColor(subjects[s]) });
        }
        plot.ShowLegend(Alignment.UpperRight);
        if (cases.Count == 0)
        {
            plot.Add.Text("no cases", 0, 0);
        }
        return plot;
    }

    private static Plot Roofline(BenchReport report, IReadOnlyList<BenchCase> cases, Func<BenchCase, string> label)
    {
        var plot = new Plot();
        plot.Title("Roofline: GFLOP/s against arithmetic intensity (log–log)", 14);
        plot.XLabel("FLOP per byte moved (minimum traffic); the copy roof is DRAM: data that fits the L3 can pass it");
        plot.YLabel("GFLOP/s");
        var points = cases.Where(c => c.Intensity > 0).ToList();
        double xMin = Math.Min(0.05, points.Select(c => c.Intensity).DefaultIfEmpty(1).Min() / 2);
        double xMax = Math.Max(200, points.Select(c => c.Intensity).DefaultIfEmpty(1).Max() * 2);
        foreach (BenchPeak peak in report.Peaks)
        {
            // The roof: min(FMA peak, copy bandwidth × intensity), drawn in log space.
            double ridge = peak.FmaGflops / Math.Max(peak.CopyGbs, 1e-9);
            double[] xs = [xMin, ridge, xMax];
            double[] ys = [.. xs.Select(x => Math.Min(peak.FmaGflops, peak.CopyGbs * x))];
            var roof = plot.Add.ScatterLine(xs.Select(Math.Log10).ToArray(), ys.Select(Math.Log10).ToArray(), Colors.Black);
            roof.LineWidth = 2;
            roof.LinePattern = peak.Threads == report.Peaks.Max(p => p.Threads) ? LinePattern.Solid : LinePattern.Dotted;
            roof.LegendText = $"roof, {peak.Threads} thr: FMA {peak.FmaGflops:F0} GFLOP/s, copy {peak.CopyGbs:F1} GB/s";
        }
        var fast = points.Where(c => c.Fastconv is not null).ToList();
        if (fast.Count > 0)
        {
            var m = plot.Add.Markers(fast.Select(c => Math.Log10(c.Intensity)).ToArray(), fast.Select(c => Math.Log10(c.Fastconv!.Gflops)).ToArray(),
                MarkerShape.FilledCircle, 9, FastConvColor);
            m.LegendText = "FastConv";
            foreach (BenchCase c in fast)
            {
                var t = plot.Add.Text(label(c), Math.Log10(c.Intensity), Math.Log10(c.Fastconv!.Gflops));
                t.LabelFontSize = 10;
                t.OffsetX = 6;
                t.OffsetY = -4;
                t.LabelFontColor = FastConvColor.Darken(0.3);
            }
        }
        foreach (string peer in points.SelectMany(c => c.Peers).Where(p => p.Timing is not null).Select(p => p.Peer).Distinct())
        {
            var pts = points.Select(c => (c, t: c.Peers.FirstOrDefault(p => p.Peer == peer)?.Timing)).Where(x => x.t is not null).ToList();
            var m = plot.Add.Markers(pts.Select(x => Math.Log10(x.c.Intensity)).ToArray(), pts.Select(x => Math.Log10(x.t!.Gflops)).ToArray(),
                MarkerShape.OpenTriangleUp, 9, PeerColor(peer));
            m.LegendText = peer;
        }
        var logTicks = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = v => Math.Pow(10, v).ToString("G4", Inv),
        };
        plot.Axes.Bottom.TickGenerator = logTicks;
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = v => Math.Pow(10, v).ToString("G4", Inv),
        };
        plot.Grid.MajorLineColor = Colors.Black.WithAlpha(0.15);
        plot.Grid.MinorLineColor = Colors.Black.WithAlpha(0.05);
        plot.Grid.MinorLineWidth = 1;
        plot.ShowLegend(Alignment.LowerRight);
        return plot;
    }
}
