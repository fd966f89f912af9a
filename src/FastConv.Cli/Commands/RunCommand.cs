using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using FastConv.Backends;
using FastConv.Graphs;
using FastConv.IO;
using FastConv.Sessions;

namespace FastConv.Cli.Commands;

/// <summary>A command-line mistake or an I/O failure of a command, reported as one line.</summary>
public sealed class CommandLineException : FastConvException
{
    public CommandLineException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>What <c>fastconv run --json</c> prints: one JSON document (snake_case), nothing else on standard output.</summary>
/// <param name="Model">The model as given (<c>builtin:NAME</c> or a path).</param>
/// <param name="Backend">The backend the session runs on (the one <c>auto</c> chose).</param>
/// <param name="BackendSkipped">For <c>auto</c>: the better backends passed over, each with its reason.</param>
/// <param name="Threads">CPU threads asked for (null: the default).</param>
/// <param name="Nodes">Nodes of the model as loaded.</param>
/// <param name="NodesOptimized">Nodes after the compile passes.</param>
/// <param name="Parameters">Weights and biases.</param>
/// <param name="Gflops">Useful operations of one run, in 10⁹.</param>
/// <param name="ArenaBytes">Activation arena per memory space (host, device).</param>
/// <param name="Timings">Load, plan and run times.</param>
/// <param name="Inputs">Each input: shape and where its data came from.</param>
/// <param name="Outputs">Each output: shape and the .npy it was written to (null without --out).</param>
/// <param name="TransfersPerRun">With --profile: copies between host and device one run made.</param>
/// <param name="Profile">With --profile: every node's backend, algorithm and median time.</param>
/// <param name="Graphs">With --graphs: what CUDA Graph capture did (graphs, nodes, captures, replays, host steps), or why it captured nothing.</param>
public sealed record RunReport(
    string Model,
    string Backend,
    IReadOnlyList<string> BackendSkipped,
    int? Threads,
    int Nodes,
    int NodesOptimized,
    long Parameters,
    double Gflops,
    IReadOnlyDictionary<string, long> ArenaBytes,
    RunTimings Timings,
    IReadOnlyList<RunValue> Inputs,
    IReadOnlyList<RunValue> Outputs,
    TransferCounters? TransfersPerRun,
    IReadOnlyList<RunProfileNode>? Profile,
    string? Graphs = null);

/// <summary>Milliseconds: reading the model, compiling and planning it, the first run, and the timed runs (--runs).</summary>
/// <param name="LoadMs">Reading the model (or building a builtin).</param>
/// <param name="PlanMs">Compiling and planning the session.</param>
/// <param name="FirstRunMs">The first run (first-touch costs included).</param>
/// <param name="Runs">Timed runs after the first (--runs).</param>
/// <param name="MedianMs">Their median (null without --runs).</param>
/// <param name="MinMs">The fastest of them.</param>
/// <param name="CpuMsPerRun">Process CPU time (all threads) per timed run: the work done, even on a loaded machine.</param>
public sealed record RunTimings(double LoadMs, double PlanMs, double FirstRunMs, int Runs, double? MedianMs, double? MinMs, double? CpuMsPerRun);

/// <summary>An input or output: name, dimensions, and for an input where its data came from, for an output the file written.</summary>
public sealed record RunValue(string Name, IReadOnlyList<int> Shape, string? Source, string? Path);

/// <summary>One node of <c>--profile</c>.</summary>
public sealed record RunProfileNode(string Node, string Op, string Backend, string Algorithm, double MedianMs);

[JsonSerializable(typeof(RunReport))]
internal sealed partial class RunJsonContext : JsonSerializerContext
{
    /// <summary>Indented snake_case; apostrophes and non-ASCII text as they are (the output is not embedded in HTML).</summary>
    public static RunJsonContext Relaxed { get; } = new(new JsonSerializerOptions
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}

/// <summary>
/// <c>fastconv run MODEL [--input NAME=FILE.npy]... [--backend B] [--threads N] [--out DIR] [--json]</c>: loads a model
/// (<c>builtin:NAME</c> or an .onnx file), plans a session, runs it on the given inputs (seeded random data for
/// any input not given), prints each output's shape and the times (or, with <c>--json</c>, one JSON document, see
/// <see cref="RunReport"/>), and writes each output as <c>DIR/NAME.npy</c> (a new file: a symbolic link or anything
/// else that is not a regular file under that name is refused). Loading or planning that takes over a second shows
/// progress on standard error.
/// </summary>
public static class RunCommand
{
    /// <summary>Seed of the random data given to inputs without a file.</summary>
    public const int RandomSeed = 0;

    public static Command Create()
    {
        var model = new Argument<string>("MODEL") { Description = "An .onnx file or builtin:NAME (lenet5, mnist, vgg16, resnet18)." };
        var inputs = new Option<string[]>("--input") { Description = "NAME=FILE.npy: a float32 C-order array for input NAME (repeatable). Inputs not given get seeded random data.", AllowMultipleArgumentsPerToken = false };
        var backend = new Option<string>("--backend") { Description = "Backend: reference, cpu, cuda, cudnn, cublas, cuda-emu, or auto.", DefaultValueFactory = _ => "auto" };
        var threads = new Option<int?>("--threads") { Description = "CPU worker threads (default: FASTCONV_THREADS or the core count)." };
        var outDir = new Option<string?>("--out") { Description = "Folder to write each output to, as NAME.npy." };
        var runs = new Option<int>("--runs") { Description = "Timed runs after the first (the median is printed).", DefaultValueFactory = _ => 0 };
        var profile = new Option<bool>("--profile") { Description = "Also print each node's backend, algorithm and median time over the runs." };
        var json = new Option<bool>("--json") { Description = "Print one JSON document (model, backend, timings, inputs, outputs with shapes and paths) instead of text." };
        var graphs = new Option<bool>("--graphs") { Description = "On a GPU backend, capture the first run into CUDA Graphs and replay them on the --runs after it (one launch instead of one per kernel)." };
        Option<string[]> shape = ShapeOption.Create();
        Option<string?> memoryLimit = MemoryLimitOption.Create();
        var command = new Command("run", "Run a model once (or --runs times) and write its outputs as .npy files.")
        {
            model, inputs, backend, threads, outDir, runs, profile, shape, memoryLimit, json, graphs,
        };
        command.SetAction(parse => Execute(
            parse.GetValue(model)!, parse.GetValue(inputs) ?? [], parse.GetValue(backend)!, parse.GetValue(threads),
            parse.GetValue(outDir), parse.GetValue(runs), parse.InvocationConfiguration.Output, parse.GetValue(profile), ShapeOption.Parse(parse.GetValue(shape)),
            MemoryLimitOption.Parse(parse.GetValue(memoryLimit)), parse.GetValue(json), SlowStep.ForStandardError(parse.InvocationConfiguration.Error),
            parse.GetValue(graphs)));
        return command;
    }

    public static int Execute(string model, IReadOnlyList<string> inputArgs, string backend, int? threads, string? outDir, int runs, TextWriter output, bool profile = false,
        IReadOnlyDictionary<string, TensorShape>? shapes = null, long? memoryLimit = null, bool json = false, SlowStep? progress = null, bool graphs = false)
    {
        progress ??= new SlowStep(TextWriter.Null, interactive: false);
        // With --json, standard output carries the JSON document alone: the text lines go nowhere.
        TextWriter text = json ? TextWriter.Null : output;
        if (threads is < 1)
        {
            throw new CommandLineException($"--threads must be >= 1, got {threads}.");
        }
        if (runs < 0)
        {
            throw new CommandLineException($"--runs must be >= 0, got {runs}.");
        }
        if (OptionLists.Split([backend]) is { Count: > 1 } several)
        {
            // A session runs on one backend; said here rather than as "unknown backend 'cuda,cudnn'".
            throw new CommandLineException($"--backend: run takes one backend (or auto), got {several.Count}: {string.Join(", ", several)}; compare backends with `fastconv check --backend {backend}`.");
        }
        var given = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        string? unnamed = null;
        foreach (string arg in inputArgs)
        {
            int eq = arg.IndexOf('=', StringComparison.Ordinal);
            string name = eq > 0 ? arg[..eq] : "";
            string file = eq > 0 ? arg[(eq + 1)..] : arg;
            Tensor t = NpyFile.Read(file);
            if (name.Length == 0)
            {
                unnamed = unnamed is null ? file : throw new CommandLineException("more than one --input without NAME=; name them as NAME=FILE.npy.");
                name = "";
            }
            if (!given.TryAdd(name, t))
            {
                throw new CommandLineException($"input '{name}' is given twice.");
            }
        }

        var clock = Stopwatch.StartNew();
        // Input shapes: --shape, and the shape of every named --input file (the two must agree).
        var inputShapes = new Dictionary<string, TensorShape>(shapes ?? new Dictionary<string, TensorShape>(), StringComparer.Ordinal);
        foreach (var (name, t) in given)
        {
            if (name.Length > 0 && !inputShapes.TryAdd(name, t.Shape) && inputShapes[name] != t.Shape)
            {
                throw new CommandLineException($"input '{name}': --shape {inputShapes[name]} differs from the file's shape {t.Shape}.");
            }
        }
        Graph graph = progress.Run($"loading {model}", () => ModelLoader.Load(model, inputShapes.Count > 0 ? inputShapes : null));
        if (given.Remove("", out Tensor? single))
        {
            if (graph.Inputs.Count != 1)
            {
                throw new CommandLineException($"the model has {graph.Inputs.Count} inputs ({string.Join(", ", graph.Inputs.Select(i => i.Name))}); give each as --input NAME=FILE.npy.");
            }
            given[graph.Inputs[0].Name] = single;
            if (graph.IsDynamic || model.StartsWith(ModelLoader.BuiltinPrefix, StringComparison.Ordinal))
            {
                // The file's shape sizes the model: a builtin's batch, an ONNX model's dynamic dimensions.
                Dictionary<string, TensorShape> fromFile = new() { [graph.Inputs[0].Name] = single.Shape };
                graph = progress.Run($"loading {model}", () => ModelLoader.Load(model, fromFile));
            }
        }
        if (graph.Inputs.FirstOrDefault(i => !i.IsBound) is { } unbound)
        {
            throw new CommandLineException($"input '{unbound.Name}' {unbound.Declared} has dynamic dimensions: give its data (--input {unbound.Name}=FILE.npy) or its shape (--shape {unbound.Name}=DIMS).");
        }
        double loadMs = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        using FastConvSession session = progress.Run($"planning {model} on {backend}",
            () => new FastConvSession(graph, new FastConvSessionOptions { Backend = backend, Threads = threads, MemoryLimitBytes = memoryLimit, CaptureGraphs = graphs }));
        double planMs = clock.Elapsed.TotalMilliseconds;
        string skipped = session.BackendSkipped.Count > 0 ? $" (skipped {string.Join("; ", session.BackendSkipped)})" : "";
        GraphInfo loaded = GraphInfo.Analyze(graph);
        text.WriteLine(Invariant($"model {model}: {loaded.Nodes.Count} nodes ({session.Info.Nodes.Count} after optimization), {loaded.TotalParameters:N0} parameters, {loaded.TotalFlops / 1e9:F3} GFLOPs"));
        text.WriteLine(Invariant($"backend {session.BackendName}{skipped}, threads {(threads?.ToString(CultureInfo.InvariantCulture) ?? "default")}; loaded in {loadMs:F1} ms, planned in {planMs:F1} ms, arena {string.Join(", ", session.Plan.ArenaBytes.Select(a => Invariant($"{a.Key.ToString().ToLowerInvariant()} {a.Value / (double)(1 << 20):F1} MiB")))}"));

        foreach (string name in given.Keys)
        {
            if (!session.Inputs.Any(i => i.Name == name))
            {
                throw new CommandLineException($"'{name}' is not an input of the model; inputs: {string.Join(", ", session.Inputs.Select(i => $"{i.Name}{i.Shape}"))}.");
            }
        }
        var rng = new Random(RandomSeed);
        var feeds = new Tensor[session.Inputs.Count];
        var inputReports = new List<RunValue>();
        for (int i = 0; i < feeds.Length; i++)
        {
            GraphValue input = session.Inputs[i];
            if (given.TryGetValue(input.Name, out Tensor? t))
            {
                text.WriteLine($"input '{input.Name}' {t.Shape}: from file");
                feeds[i] = t;
                inputReports.Add(new RunValue(input.Name, t.Shape.Dims.ToArray(), "file", GivenFile(inputArgs, input.Name, graph.Inputs.Count)));
            }
            else
            {
                var data = new float[input.Shape.ElementCount];
                for (int j = 0; j < data.Length; j++)
                {
                    data[j] = rng.NextSingle() * 2 - 1;
                }
                text.WriteLine(Invariant($"input '{input.Name}' {input.Shape}: random uniform [-1, 1), seed {RandomSeed}"));
                feeds[i] = Tensor.Wrap(data, input.Shape);
                inputReports.Add(new RunValue(input.Name, input.Shape.Dims.ToArray(), Invariant($"random uniform [-1, 1), seed {RandomSeed}"), null));
            }
        }
        string[] inNames = [.. session.Inputs.Select(i => i.Name)], outNames = [.. session.Outputs.Select(o => o.Name)];
        if (outDir is not null)
        {
            // Before any work: a folder that cannot be made or a name already taken by a link fails in a moment.
            try
            {
                Directory.CreateDirectory(outDir);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                throw new CommandLineException($"cannot create output folder '{outDir}': {e.Message}", e);
            }
            foreach (string name in outNames)
            {
                SafeFile.RequireReplaceable(OutputPath(outDir, name), "output file", (message, inner) => new CommandLineException(message, inner));
            }
        }
        Tensor[] results = [.. session.Outputs.Select(o => Tensor.Allocate(o.Shape))];
        clock.Restart();
        session.Run(inNames, feeds, outNames, results);
        double firstMs = clock.Elapsed.TotalMilliseconds;
        string timing = Invariant($"first run {firstMs:F2} ms");
        double? medianMs = null, minMs = null, cpuMs = null;
        if (runs > 0)
        {
            var times = new double[runs];
            using var process = Process.GetCurrentProcess();
            TimeSpan cpuBefore = process.TotalProcessorTime;
            for (int r = 0; r < runs; r++)
            {
                clock.Restart();
                session.Run(inNames, feeds, outNames, results);
                times[r] = clock.Elapsed.TotalMilliseconds;
            }
            process.Refresh();
            double cpuPerRun = (process.TotalProcessorTime - cpuBefore).TotalMilliseconds / runs;
            Array.Sort(times);
            // CPU time (all threads of the process) per run: on a shared, loaded machine it still shows the work done.
            timing += Invariant($", median of {runs} runs {times[runs / 2]:F2} ms (min {times[0]:F2} ms), process CPU time {cpuPerRun:F2} ms per run");
            (medianMs, minMs, cpuMs) = (times[runs / 2], times[0], cpuPerRun);
        }
        text.WriteLine(timing);
        if (session.Graphs is { } captured)
        {
            text.WriteLine($"CUDA Graphs: {captured}");
        }
        TransferCounters? transfers = null;
        List<RunProfileNode>? profileNodes = null;
        if (profile)
        {
            var feedMap = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            for (int i = 0; i < feeds.Length; i++)
            {
                feedMap[inNames[i]] = feeds[i];
            }
            // What one run moves between host and device, as the device's driver counted it (the plan's Copy nodes).
            TransferCounters before = session.DeviceTransfers;
            session.Run(inNames, feeds, outNames, results);
            transfers = session.DeviceTransfers - before;
            text.WriteLine($"transfers per run: {transfers}");
            profileNodes = [];
            foreach (var (node, ms) in session.Profile(feedMap, Math.Max(runs, 5)))
            {
                text.WriteLine(Invariant($"  {ms,9:F3} ms  {node.Backend,-9} {node.Algorithm,-28} {node.Node}"));
                profileNodes.Add(new RunProfileNode(node.Node, node.Op, node.Backend, node.Algorithm, ms));
            }
        }
        var outputReports = new List<RunValue>();

        for (int i = 0; i < results.Length; i++)
        {
            string line = $"output '{outNames[i]}' {results[i].Shape}";
            string? written = null;
            if (outDir is not null)
            {
                string path = OutputPath(outDir, outNames[i]);
                // Created anew, never through a link planted under an output's name (it would overwrite the link's target).
                using (FileStream stream = SafeFile.CreateNew(path, "output file", (message, inner) => new CommandLineException(message, inner)))
                {
                    try
                    {
                        NpyFile.Write(stream, results[i]);
                    }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                    {
                        throw new CommandLineException($"cannot write '{path}': {e.Message}", e);
                    }
                }
                line += $" -> {path}";
                written = path;
            }
            text.WriteLine(line);
            outputReports.Add(new RunValue(outNames[i], results[i].Shape.Dims.ToArray(), null, written));
        }
        if (json)
        {
            var report = new RunReport(model, session.BackendName, session.BackendSkipped, threads, loaded.Nodes.Count, session.Info.Nodes.Count,
                loaded.TotalParameters, loaded.TotalFlops / 1e9,
                session.Plan.ArenaBytes.ToDictionary(a => a.Key.ToString().ToLowerInvariant(), a => a.Value, StringComparer.Ordinal),
                new RunTimings(loadMs, planMs, firstMs, runs, medianMs, minMs, cpuMs), inputReports, outputReports, transfers, profileNodes,
                session.Graphs?.ToString());
            output.WriteLine(JsonSerializer.Serialize(report, RunJsonContext.Relaxed.RunReport));
        }
        return 0;
    }

    /// <summary>The file given for <paramref name="input"/> (NAME=FILE, or the one unnamed file of a one-input model).</summary>
    private static string? GivenFile(IReadOnlyList<string> inputArgs, string input, int inputCount)
    {
        foreach (string arg in inputArgs)
        {
            int eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0 ? arg[..eq] == input : inputCount == 1)
            {
                return eq > 0 ? arg[(eq + 1)..] : arg;
            }
        }
        return null;
    }

    private static string OutputPath(string outDir, string output) => Path.Combine(outDir, NpyFile.SanitizeName(output) + ".npy");

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
