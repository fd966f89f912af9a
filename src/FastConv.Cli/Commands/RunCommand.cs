using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
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

/// <summary>
/// <c>fastconv run MODEL [--input NAME=FILE.npy]... [--backend B] [--threads N] [--out DIR]</c>: loads a model
/// (<c>builtin:NAME</c> or an .onnx file), plans a session, runs it on the given inputs (seeded random data for
/// any input not given), prints each output's shape and the times, and writes each output as <c>DIR/NAME.npy</c>
/// (a new file: a symbolic link or anything else that is not a regular file under that name is refused).
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
        Option<string[]> shape = ShapeOption.Create();
        Option<string?> memoryLimit = MemoryLimitOption.Create();
        var command = new Command("run", "Run a model once (or --runs times) and write its outputs as .npy files.")
        {
            model, inputs, backend, threads, outDir, runs, profile, shape, memoryLimit,
        };
        command.SetAction(parse => Execute(
            parse.GetValue(model)!, parse.GetValue(inputs) ?? [], parse.GetValue(backend)!, parse.GetValue(threads),
            parse.GetValue(outDir), parse.GetValue(runs), parse.InvocationConfiguration.Output, parse.GetValue(profile), ShapeOption.Parse(parse.GetValue(shape)),
            MemoryLimitOption.Parse(parse.GetValue(memoryLimit))));
        return command;
    }

    public static int Execute(string model, IReadOnlyList<string> inputArgs, string backend, int? threads, string? outDir, int runs, TextWriter output, bool profile = false,
        IReadOnlyDictionary<string, TensorShape>? shapes = null, long? memoryLimit = null)
    {
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
        Graph graph = ModelLoader.Load(model, inputShapes.Count > 0 ? inputShapes : null);
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
                graph = ModelLoader.Load(model, new Dictionary<string, TensorShape> { [graph.Inputs[0].Name] = single.Shape });
            }
        }
        if (graph.Inputs.FirstOrDefault(i => !i.IsBound) is { } unbound)
        {
            throw new CommandLineException($"input '{unbound.Name}' {unbound.Declared} has dynamic dimensions: give its data (--input {unbound.Name}=FILE.npy) or its shape (--shape {unbound.Name}=DIMS).");
        }
        double loadMs = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        using var session = new FastConvSession(graph, new FastConvSessionOptions { Backend = backend, Threads = threads, MemoryLimitBytes = memoryLimit });
        double planMs = clock.Elapsed.TotalMilliseconds;
        string skipped = session.BackendSkipped.Count > 0 ? $" (skipped {string.Join("; ", session.BackendSkipped)})" : "";
        GraphInfo loaded = GraphInfo.Analyze(graph);
        output.WriteLine(Invariant($"model {model}: {loaded.Nodes.Count} nodes ({session.Info.Nodes.Count} after optimization), {loaded.TotalParameters:N0} parameters, {loaded.TotalFlops / 1e9:F3} GFLOPs"));
        output.WriteLine(Invariant($"backend {session.BackendName}{skipped}, threads {(threads?.ToString(CultureInfo.InvariantCulture) ?? "default")}; loaded in {loadMs:F1} ms, planned in {planMs:F1} ms, arena {string.Join(", ", session.Plan.ArenaBytes.Select(a => Invariant($"{a.Key.ToString().ToLowerInvariant()} {a.Value / (double)(1 << 20):F1} MiB")))}"));

        foreach (string name in given.Keys)
        {
            if (!session.Inputs.Any(i => i.Name == name))
            {
                throw new CommandLineException($"'{name}' is not an input of the model; inputs: {string.Join(", ", session.Inputs.Select(i => $"{i.Name}{i.Shape}"))}.");
            }
        }
        var rng = new Random(RandomSeed);
        var feeds = new Tensor[session.Inputs.Count];
        for (int i = 0; i < feeds.Length; i++)
        {
            GraphValue input = session.Inputs[i];
            if (given.TryGetValue(input.Name, out Tensor? t))
            {
                output.WriteLine($"input '{input.Name}' {t.Shape}: from file");
                feeds[i] = t;
            }
            else
            {
                var data = new float[input.Shape.ElementCount];
                for (int j = 0; j < data.Length; j++)
                {
                    data[j] = rng.NextSingle() * 2 - 1;
                }
                output.WriteLine(Invariant($"input '{input.Name}' {input.Shape}: random uniform [-1, 1), seed {RandomSeed}"));
                feeds[i] = Tensor.Wrap(data, input.Shape);
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
        }
        output.WriteLine(timing);
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
            output.WriteLine($"transfers per run: {session.DeviceTransfers - before}");
            foreach (var (node, ms) in session.Profile(feedMap, Math.Max(runs, 5)))
            {
                output.WriteLine(Invariant($"  {ms,9:F3} ms  {node.Backend,-9} {node.Algorithm,-28} {node.Node}"));
            }
        }

        for (int i = 0; i < results.Length; i++)
        {
            string line = $"output '{outNames[i]}' {results[i].Shape}";
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
            }
            output.WriteLine(line);
        }
        return 0;
    }

    private static string OutputPath(string outDir, string output) => Path.Combine(outDir, NpyFile.SanitizeName(output) + ".npy");

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
