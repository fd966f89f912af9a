using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using FastConv.Graphs;
using FastConv.Networks;
using Spectre.Console;

namespace FastConv.Cli.Commands;

public sealed record SummaryReport(string Model, string Name, long TotalParams, long TotalFlops, IReadOnlyList<SummaryLayer> Layers);

public sealed record SummaryLayer(string Name, string OpType, IReadOnlyList<int> OutputShape, long Params, long Flops);

[JsonSerializable(typeof(SummaryReport))]
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
internal sealed partial class SummaryJsonContext : JsonSerializerContext;

/// <summary>
/// <c>fastconv summary MODEL [--json]</c>: a Keras-style table of the model as loaded (before optimization): each
/// layer's output shape, learnable parameters and MFLOPs, and the totals; <c>--json</c> gives <c>total_params</c>,
/// <c>total_flops</c> and a <c>layers</c> array.
/// </summary>
public static class SummaryCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var model = new Argument<string>("MODEL") { Description = "An .onnx file or builtin:NAME (lenet5, mnist, vgg16, resnet18)." };
        var json = new Option<bool>("--json") { Description = "Print the summary as JSON (total_params, total_flops, layers)." };
        var command = new Command("summary", "Print each layer's output shape, parameters and FLOPs, and the totals.") { model, json };
        command.SetAction(parse =>
        {
            string name = parse.GetValue(model)!;
            ModelSummary summary = ModelSummary.Of(ModelLoader.Load(name));
            if (parse.GetValue(json))
            {
                var report = new SummaryReport(name, summary.Name, summary.TotalParameters, summary.TotalFlops,
                    [.. summary.Layers.Select(l => new SummaryLayer(l.Name, l.OpType, [.. l.OutputShape], l.Parameters, l.Flops))]);
                parse.InvocationConfiguration.Output.WriteLine(JsonSerializer.Serialize(report, SummaryJsonContext.Default.SummaryReport));
            }
            else
            {
                Render(summary, console);
            }
            return 0;
        });
        return command;
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
