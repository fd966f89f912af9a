using System.CommandLine;
using System.Globalization;

namespace FastConv.Cli;

/// <summary>
/// <c>--shape NAME=1x3x640x640</c>, shared by summary, run, bench and check: fixes the shape of a model input (its
/// dynamic dimensions; for <c>builtin:NAME</c> the batch). Repeatable, and one value may list several, comma-separated.
/// </summary>
public static class ShapeOption
{
    public static Option<string[]> Create() => new("--shape")
    {
        Description = "NAME=1x3x640x640: the full shape of input NAME (fixes its dynamic dimensions; the batch of a builtin). Repeatable or comma-separated.",
        AllowMultipleArgumentsPerToken = false,
    };

    /// <summary>The shapes given, by input name; null when none was.</summary>
    public static Dictionary<string, TensorShape>? Parse(IReadOnlyList<string>? values)
    {
        if (values is null || values.Count == 0)
        {
            return null;
        }
        var shapes = new Dictionary<string, TensorShape>(StringComparer.Ordinal);
        foreach (string item in values.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            int eq = item.LastIndexOf('=');
            if (eq <= 0 || eq == item.Length - 1)
            {
                throw new Commands.CommandLineException($"--shape '{item}': write NAME=DIMS, e.g. input=1x3x224x224.");
            }
            string name = item[..eq];
            string[] parts = item[(eq + 1)..].Split('x');
            var dims = new int[parts.Length];
            for (int i = 0; i < parts.Length; i++)
            {
                if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out dims[i]) || dims[i] < 1)
                {
                    throw new Commands.CommandLineException($"--shape '{item}': dimension '{parts[i]}' is not a whole number >= 1.");
                }
            }
            if (!shapes.TryAdd(name, new TensorShape(dims)))
            {
                throw new Commands.CommandLineException($"--shape: input '{name}' is given twice.");
            }
        }
        return shapes;
    }
}

/// <summary><c>--memory-limit SIZE</c> (run, summary --plan): bytes with an optional K, M or G suffix (powers of 1024), e.g. 512M, 2G.</summary>
public static class MemoryLimitOption
{
    public static Option<string?> Create() => new("--memory-limit")
    {
        Description = "Most memory a plan may hold (activation arenas and packed weights), e.g. 512M or 2G; planning past it fails with the biggest consumers named. Default: 80% of available memory.",
    };

    /// <summary>The limit in bytes, or null when not given.</summary>
    public static long? Parse(string? value) =>
        value is null ? null
        : ByteSize.TryParse(value, out long bytes) && bytes > 0 ? bytes
        : throw new Commands.CommandLineException($"--memory-limit '{value}': give a size such as 512M or 2G (bytes, or K, M, G, T).");
}
