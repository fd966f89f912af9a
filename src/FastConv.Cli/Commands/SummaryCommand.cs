using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using FastConv.Backends;
using FastConv.Graphs;
using FastConv.Networks;
using FastConv.Sessions;
using Spectre.Console;

namespace FastConv.Cli.Commands;

public sealed record SummaryReport(string Model, string Name, long TotalParams, long TotalFlops, IReadOnlyList<SummaryLayer> Layers);

public sealed record SummaryLayer(string Name, string OpType, IReadOnlyList<int> OutputShape, long Params, long Flops);

/// <summary>The compiled graph as <c>summary --plan --json</c> writes it.</summary>
public sealed record PlanReport(string Model, string Backend, IReadOnlyList<PlanPass> Passes, IReadOnlyList<PlanNode> Nodes, int Copies, int Reorders,
    IReadOnlyDictionary<string, long> ArenaBytes);

public sealed record PlanPass(string Name, int Nodes, double Ms);

public sealed record PlanNode(string Name, string Op, string Backend, string Algorithm, string Layout);

[JsonSerializable(typeof(SummaryReport))]
[JsonSerializable(typeof(PlanReport))]
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
internal sealed partial class SummaryJsonContext : JsonSerializerContext;

/// <summary>
/// <c>fastconv summary MODEL [--json]</c>: a Keras-style table of the model as loaded (before optimization): each
/// layer's output shape, learnable parameters and MFLOPs, and the totals; <c>--json</c> gives <c>total_params</c>,
/// <c>total_flops</c> and a <c>layers</c> array. <c>--plan</c> compiles it for a backend and shows the compiled graph
/// instead: the passes run with the node count each left and its time, each node's backend, algorithm and layout, the Copy and
/// Reorder nodes the passes inserted and each memory space's arena.
/// </summary>
public static class SummaryCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var model = new Argument<string>("MODEL") { Description = "An .onnx file or builtin:NAME (lenet5, mnist, vgg16, resnet18)." };
        var json = new Option<bool>("--json") { Description = "Print the summary as JSON (total_params, total_flops, layers; with --plan: passes, nodes, copies, reorders, arena_bytes)." };
        var plan = new Option<bool>("--plan") { Description = "Compile the model for --backend and show the compiled graph: passes, per-node backend, algorithm and layout, copies, reorders, arenas." };
        var backend = new Option<string>("--backend") { Description = "With --plan: the backend to compile for (reference, cpu, cuda, cudnn, cublas, cuda-emu, auto).", DefaultValueFactory = _ => BackendRegistry.Auto };
        var threads = new Option<int?>("--threads") { Description = "With --plan: CPU worker threads." };
        Option<string[]> shape = ShapeOption.Create();
        Option<string?> memoryLimit = MemoryLimitOption.Create();
        var command = new Command("summary", "Print each layer's output shape, parameters and FLOPs, and the totals (or, with --plan, the compiled graph).")
        {
            model, json, plan, backend, threads, shape, memoryLimit,
        };
        command.SetAction(parse =>
        {
            string name = parse.GetValue(model)!;
            Graph graph = ModelLoader.Load(name, ShapeOption.Parse(parse.GetValue(shape)));
            TextWriter output = parse.InvocationConfiguration.Output;
            if (parse.GetValue(plan))
            {
                using var session = new FastConvSession(graph, new FastConvSessionOptions
                {
                    Backend = parse.GetValue(backend)!, Threads = parse.GetValue(threads), MemoryLimitBytes = MemoryLimitOption.Parse(parse.GetValue(memoryLimit)),
                });
                PlanReport report = Plan(name, session);
                if (parse.GetValue(json))
                {
                    output.WriteLine(JsonSerializer.Serialize(report, SummaryJsonContext.Default.PlanReport));
                }
                else
                {
                    Render(report, console);
                }
                return 0;
            }
            ModelSummary summary = ModelSummary.Of(graph);
            if (parse.GetValue(json))
            {
                var report = new SummaryReport(name, summary.Name, summary.TotalParameters, summary.TotalFlops,
                    [.. summary.Layers.Select(l => new SummaryLayer(l.Name, l.OpType, [.. l.OutputShape], l.Parameters, l.Flops))]);
                output.WriteLine(JsonSerializer.Serialize(report, SummaryJsonContext.Default.SummaryReport));
            }
            else
            {
                Render(summary, console);
            }
            return 0;
        });
        return command;
    }

    /// <summary>The compiled graph of <paramref name="session"/> as a report.</summary>
    public static PlanReport Plan(string model, FastConvSession session)
    {
        ArgumentNullException.ThrowIfNull(session);
        SessionPlan p = session.Plan;
        return new PlanReport(model, session.BackendName, [.. p.Passes.Select(x => new PlanPass(x.Name, x.Nodes, Math.Round(x.Milliseconds, 3)))],
            [.. p.Nodes.Select(n => new PlanNode(n.Name, n.Op, n.Backend, n.Algorithm, n.Layout))], p.Copies, p.Reorders,
            p.ArenaBytes.ToDictionary(kv => kv.Key.ToString().ToLowerInvariant(), kv => kv.Value));
    }

    public static void Render(PlanReport report, IAnsiConsole console)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(console);
        CultureInfo inv = CultureInfo.InvariantCulture;
        console.WriteLine($"Model: {report.Model}, compiled for {report.Backend}");
        console.WriteLine("Passes: " + string.Join(" → ", report.Passes.Select(p => $"{p.Name} ({p.Nodes.ToString(inv)}, {p.Ms.ToString("0.#", inv)} ms)")));
        var table = new Table().Border(TableBorder.Simple)
            .AddColumn("Node").AddColumn("Op").AddColumn("Backend").AddColumn("Algorithm").AddColumn("Layout");
        foreach (PlanNode n in report.Nodes)
        {
            table.AddRow(Markup.Escape(n.Name), Markup.Escape(n.Op), Markup.Escape(n.Backend), Markup.Escape(n.Algorithm), Markup.Escape(n.Layout));
        }
        console.Write(table);
        console.WriteLine($"Copies: {report.Copies.ToString(inv)}, reorders: {report.Reorders.ToString(inv)}");
        foreach (var (space, bytes) in report.ArenaBytes)
        {
            console.WriteLine($"Arena ({space}): {(bytes / (1024.0 * 1024.0)).ToString("F2", inv)} MiB");
        }
    }

    public static void Render(ModelSummary summary, IAnsiConsole console)
    {
        ArgumentNullException.ThrowIfNull(summary);
        ArgumentNullException.ThrowIfNull(console);
        CultureInfo inv = CultureInfo.InvariantCulture;
        var table = new Table().Border(TableBorder.Simple).Title(Markup.Escape($"Model: {summary.Name}"))
            .AddColumn("Layer (type)").AddColumn("Output shape").AddColumn(new TableColumn("Params").RightAligned()).AddColumn(new TableColumn("MFLOPs").RightAligned());
        foreach (LayerSummary l in summary.Layers)
        {
            table.AddRow(Markup.Escape($"{l.Name} ({l.OpType})"), Markup.Escape(l.OutputShape.ToString()), l.Parameters.ToString("N0", inv), (l.Flops / 1e6).ToString("F2", inv));
        }
        console.Write(table);
        console.WriteLine($"Total params: {summary.TotalParameters.ToString("N0", inv)}");
        console.WriteLine($"Total MFLOPs: {(summary.TotalFlops / 1e6).ToString("F2", inv)}");
    }
}
