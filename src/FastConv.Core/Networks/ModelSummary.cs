using System.Globalization;
using System.Text;
using FastConv.Graphs;

namespace FastConv.Networks;

/// <summary>One row of a summary: a node, its op type, output shape, learnable parameters and FLOPs.</summary>
public sealed record LayerSummary(string Name, string OpType, TensorShape OutputShape, long Parameters, long Flops);

/// <summary>A Keras-style summary of a graph: one row per node (layer, output shape, params, MFLOPs) and the totals.</summary>
public sealed class ModelSummary
{
    private ModelSummary(string name, IReadOnlyList<LayerSummary> layers)
    {
        Name = name;
        Layers = layers;
        TotalParameters = layers.Sum(l => l.Parameters);
        TotalFlops = layers.Sum(l => l.Flops);
    }

    public string Name { get; }
    public IReadOnlyList<LayerSummary> Layers { get; }
    public long TotalParameters { get; }
    public long TotalFlops { get; }

    public static ModelSummary Of(GraphInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        return new ModelSummary(info.Graph.Name, [.. info.Nodes.Select(n => new LayerSummary(
            n.Node.Name.Length > 0 ? n.Node.Name : n.Node.Outputs[0], n.Node.OpType, n.OutputShapes[0], n.Parameters, n.Flops))]);
    }

    public static ModelSummary Of(Graph graph) => Of(GraphInfo.Analyze(graph));

    /// <summary>The table as plain text (fixed-width columns, as Keras prints it).</summary>
    public override string ToString()
    {
        CultureInfo inv = CultureInfo.InvariantCulture;
        string[] head = ["Layer (type)", "Output shape", "Params", "MFLOPs"];
        var rows = Layers.Select(l => new[]
        {
            $"{l.Name} ({l.OpType})", l.OutputShape.ToString(), l.Parameters.ToString("N0", inv), (l.Flops / 1e6).ToString("F2", inv),
        }).ToList();
        int[] widths = [.. Enumerable.Range(0, 4).Select(c => rows.Select(r => r[c].Length).Append(head[c].Length).Max())];
        var sb = new StringBuilder();
        string Line(string[] cells) => string.Join("  ", cells.Select((c, i) => i >= 2 ? c.PadLeft(widths[i]) : c.PadRight(widths[i])));
        string rule = new('-', widths.Sum() + 6);
        sb.AppendLine(CultureInfo.InvariantCulture, $"Model: {Name}").AppendLine(rule).AppendLine(Line(head)).AppendLine(rule);
        foreach (string[] r in rows)
        {
            sb.AppendLine(Line(r));
        }
        sb.AppendLine(rule)
          .AppendLine(CultureInfo.InvariantCulture, $"Total params: {TotalParameters.ToString("N0", inv)}")
          .AppendLine(CultureInfo.InvariantCulture, $"Total MFLOPs: {(TotalFlops / 1e6).ToString("F2", inv)}");
        return sb.ToString();
    }
}
