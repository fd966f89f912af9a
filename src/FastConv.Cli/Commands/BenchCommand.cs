using System.CommandLine;
using System.Globalization;
using FastConv.Cli.Bench;
using Spectre.Console;

namespace FastConv.Cli.Commands;

/// <summary>
/// <c>fastconv bench [WORKLOADS] [--backend B,...] [--vs ort] [--threads 1,2] [--batch 1,8] [--concurrency 1,2] [--json FILE]
/// [--plot FILE.png] [--markdown FILE.md] [--quick]</c>: FastConv against its peers in the same process and
/// rounds, outputs compared before times (see <see cref="BenchRunner"/>).
/// </summary>
public static class BenchCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var workloads = new Argument<string[]>("workloads")
        {
            Arity = ArgumentArity.ZeroOrMore,
            Description = "Sets (vgg16, resnet50, mobilenet, pool, relu), set/layer (resnet50/l1_3x3), builtin:NAME, FILE.onnx, or default (the embedded quick set; also when none is given).",
        };
        var backend = new Option<string[]>("--backend") { Description = "FastConv backends, comma-separated or repeated: auto (best available), cpu, reference, cuda, cudnn, cublas, cuda-emu. Default: auto." };
        var vs = new Option<string[]>("--vs") { Description = "Peers, comma-separated or repeated: ort, torch (LibTorch via TorchSharp: conv layers, in a build with -p:FastConvTorch=true), or a backend name (cudnn, reference); none for no peer. Default: ort on the CPU, cudnn on a GPU." };
        var threads = new Option<string[]>("--threads") { Description = "CPU thread counts, comma-separated or repeated (FastConv and ORT get the same). Default: every logical core." };
        var batch = new Option<string[]>("--batch") { Description = "Batch sizes N, comma-separated or repeated. Default: 1." };
        var concurrency = new Option<string[]>("--concurrency") { Description = "Callers at once, comma-separated or repeated (e.g. 1,2,4): above 1, each network runs on one shared session (ORT: one shared InferenceSession), each caller on its own thread; throughput_per_s in the JSON. Default: 1." };
        var json = new Option<string?>("--json") { Description = "Write every figure, the machine, versions and settings as JSON (schema: docs/bench/bench.schema.json)." };
        var plot = new Option<string?>("--plot") { Description = "Write a PNG: per workload FastConv beside its peers, and a roofline." };
        var markdown = new Option<string?>("--markdown") { Description = "Write the table as Markdown, with the machine and settings in its header." };
        var quick = new Option<bool>("--quick") { Description = "Shorter warm-up and fewer rounds: a smoke run, noisier figures." };
        var exact = new Option<bool>("--exact") { Description = "Forbid algorithms that change the arithmetic (Winograd, TF32); the check tightens to 1e-4." };
        var peerJson = new Option<string[]>("--peer-json") { Description = "Merge a peer's figures from another run (bench/gpu/torch_bench.py --json FILE); may repeat.", AllowMultipleArgumentsPerToken = true };
        var from = new Option<string?>("--from") { Description = "Re-render a report written by --json instead of running (with --peer-json to merge, --plot, --markdown)." };
        var layersJson = new Option<string?>("--layers-json") { Description = "Write the workloads' layers (shapes, FLOPs, bytes) for --batch as JSON and exit: the input of bench/gpu/torch_bench.py." };
        var graphs = new Option<bool>("--graphs") { Description = "On GPU backends, run network workloads with CUDA Graph capture (captured once, replayed) and time the same session without it beside them (peer no-graphs): the launch overhead saved, in the table and JSON." };
        var note = new Option<string[]>("--note") { Description = "A remark for the report's header (e.g. what else loaded the machine); may repeat." };

        Option<string[]> shape = ShapeOption.Create();
        var command = new Command("bench", "Time FastConv against ONNX Runtime (and other peers) in the same process, outputs checked first; table, JSON and plot.")
        {
            workloads, backend, vs, threads, batch, concurrency, json, plot, markdown, quick, exact, peerJson, from, layersJson, note, shape, graphs,
        };
        command.SetAction(parse =>
        {
            string[] names = parse.GetValue(workloads) ?? [];
            if (parse.GetValue(layersJson) is { } layersPath)
            {
                IReadOnlyList<int> batches = Ints(parse.GetValue(batch), "--batch", [1]);
                var layers = BenchWorkloads.Parse(names.Length == 0 ? ["default"] : names)
                    .SelectMany(w => batches.Select(w.Layer)).OfType<BenchLayer>().ToList();
                WriteText(layersPath, System.Text.Json.JsonSerializer.Serialize(new BenchLayerFile("fastconv-bench-layers/1", layers), BenchJsonContext.Default.BenchLayerFile));
                console.MarkupLine($"{layers.Count} layers: {Markup.Escape(layersPath)}");
                return 0;
            }
            // Peer files are read first, so a wrong path fails before minutes of measuring.
            var peerFiles = (parse.GetValue(peerJson) ?? []).Select(f => (Name: Path.GetFileName(f), File: PeerImport.Load(f))).ToList();
            BenchReport report;
            if (parse.GetValue(from) is { } fromFile)
            {
                if (!File.Exists(fromFile))
                {
                    throw new InvalidBenchArgumentException($"--from: no file '{fromFile}'");
                }
                report = BenchReport.FromJson(File.ReadAllText(fromFile));
            }
            else
            {
                var options = new BenchOptions
                {
                    Workloads = names.Length == 0 ? ["default"] : names,
                    Shapes = ShapeOption.Parse(parse.GetValue(shape)),
                    Backends = List(parse.GetValue(backend), "--backend", ["auto"]),
                    Peers = Peers(parse.GetValue(vs)),
                    Threads = Ints(parse.GetValue(threads), "--threads", [Environment.ProcessorCount]),
                    Batches = Ints(parse.GetValue(batch), "--batch", [1]),
                    Concurrency = Ints(parse.GetValue(concurrency), "--concurrency", [1]),
                    Quick = parse.GetValue(quick),
                    Exact = parse.GetValue(exact),
                    Graphs = parse.GetValue(graphs),
                };
                // Parse the workloads now, so a typo fails before minutes of measuring.
                _ = BenchWorkloads.Parse(options.Workloads, options.Shapes);
                report = RunWithProgress(options, console);
                foreach (string n in parse.GetValue(note) ?? [])
                {
                    report = report with { Notes = [.. report.Notes, n] };
                }
            }
            foreach ((string name, PeerFile file) in peerFiles)
            {
                report = PeerImport.Merge(report, file, name);
            }

            BenchTable.Render(report, console);
            if (parse.GetValue(json) is { } jsonPath)
            {
                WriteText(jsonPath, report.ToJson());
                console.MarkupLine($"JSON: {Markup.Escape(jsonPath)}");
            }
            if (parse.GetValue(markdown) is { } mdPath)
            {
                WriteText(mdPath, BenchTable.Markdown(report, "fastconv " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1))));
                console.MarkupLine($"Markdown: {Markup.Escape(mdPath)}");
            }
            if (parse.GetValue(plot) is { } pngPath)
            {
                BenchPlot.Save(report, pngPath);
                console.MarkupLine($"Plot: {Markup.Escape(pngPath)}");
            }
            if (report.Problems > 0)
            {
                console.MarkupLine($"[red]{report.Problems} case(s) disagreed with a peer or failed: see above.[/]");
                return 1;
            }
            return 0;
        });
        return command;
    }

    private static BenchReport RunWithProgress(BenchOptions options, IAnsiConsole console)
    {
        var runner = new BenchRunner(options);
        if (!console.Profile.Capabilities.Interactive)
        {
            return runner.Run(new LineProgress(console));
        }
        BenchReport? report = null;
        console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(ctx => report = runner.Run(new SpectreProgress(ctx)));
        return report!;
    }

    private static void WriteText(string path, string text)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null)
        {
            Directory.CreateDirectory(dir);
        }
        File.WriteAllText(path, text);
    }

    /// <summary>The items of a list option (<see cref="OptionLists"/>), or <paramref name="fallback"/> when it was not given.</summary>
    internal static IReadOnlyList<string> List(string[]? values, string option, IReadOnlyList<string> fallback)
    {
        if (values is null || values.Length == 0)
        {
            return fallback;
        }
        IReadOnlyList<string> items = OptionLists.Split(values);
        return items.Count == 0 ? throw new InvalidBenchArgumentException($"{option}: give at least one name (got '{string.Join(' ', values)}')") : items;
    }

    /// <summary>The peers of <c>--vs</c>: null (the default choice) when not given, none for <c>none</c>.</summary>
    internal static IReadOnlyList<string>? Peers(string[]? values)
    {
        if (values is null || values.Length == 0)
        {
            return null;
        }
        IReadOnlyList<string> items = List(values, "--vs", []);
        if (items.Contains("none", StringComparer.Ordinal))
        {
            return items.Count == 1 ? [] : throw new InvalidBenchArgumentException($"--vs: 'none' cannot be combined with peers (got {string.Join(", ", items)})");
        }
        return items;
    }

    internal static IReadOnlyList<int> Ints(string[]? values, string option, IReadOnlyList<int> fallback)
    {
        if (values is null || values.Length == 0)
        {
            return fallback;
        }
        var result = new List<int>();
        foreach (string item in List(values, option, []))
        {
            if (!int.TryParse(item, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1 || n > 4096)
            {
                throw new InvalidBenchArgumentException($"{option}: '{item}' is not a whole number from 1 to 4096 (write e.g. {option} 1,2)");
            }
            result.Add(n);
        }
        return [.. result.Distinct()];
    }

    /// <summary>Progress as a Spectre.Console bar (interactive terminals).</summary>
    private sealed class SpectreProgress(ProgressContext ctx) : IBenchProgress
    {
        private ProgressTask? _task;
        private int _done = -1;

        public void Start(int cases) => _task = ctx.AddTask("bench", maxValue: Math.Max(cases, 1));

        public void Case(string description)
        {
            if (_task is null)
            {
                return;
            }
            if (!description.StartsWith("ceilings", StringComparison.Ordinal))
            {
                _task.Value = Math.Max(0, ++_done);
            }
            _task.Description = Markup.Escape(description.Length > 60 ? description[..60] : description);
        }
    }

    /// <summary>Progress as one line per case (logs, CI, redirected output).</summary>
    private sealed class LineProgress(IAnsiConsole console) : IBenchProgress
    {
        private int _cases;
        private int _done;

        public void Start(int cases) => _cases = cases;

        public void Case(string description)
        {
            bool ceiling = description.StartsWith("ceilings", StringComparison.Ordinal);
            string counter = ceiling ? "" : $"[{++_done}/{_cases}] ";
            console.MarkupLine($"[grey]{Markup.Escape(counter + description)}[/]");
        }
    }
}
