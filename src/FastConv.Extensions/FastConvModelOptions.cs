using System.Globalization;
using FastConv.Sessions;
using Microsoft.Extensions.Logging;

namespace FastConv.Extensions;

/// <summary>
/// One model as configuration describes it (a section such as <c>"FastConv": { "Model": "model.onnx", "Backend":
/// "cpu", "Threads": 2 }</c>), turned into a <see cref="FastConvSession"/> by <c>AddFastConv</c>. Sizes and shapes are
/// written as people write them (<c>"512M"</c>, <c>"1x3x224x224"</c>); every value is checked when the session is
/// made, and a wrong one is an <see cref="InvalidSettingException"/> naming its configuration key.
/// </summary>
public sealed class FastConvModelOptions
{
    /// <summary>The model: a path to an .onnx file or <c>builtin:NAME</c> (seeded random weights, for trying things). Required.</summary>
    public string? Model { get; set; }

    /// <summary>A backend name (<c>cpu</c>, <c>cuda</c>, <c>cudnn</c>, <c>cublas</c>, <c>cuda-emu</c>, <c>reference</c>) or <c>auto</c>, the best available.</summary>
    public string Backend { get; set; } = "auto";

    /// <summary>CPU threads per run, the caller included; null: <c>FASTCONV_THREADS</c> or the core count.</summary>
    public int? Threads { get; set; }

    /// <summary>Forbid algorithms that change the arithmetic (Winograd on the CPU, TF32 on the GPU).</summary>
    public bool Exact { get; set; }

    /// <summary>Most bytes a plan may hold (<c>"512M"</c>, <c>"2G"</c> or a byte count); null: 80 % of the memory the process may use.</summary>
    public string? MemoryLimit { get; set; }

    /// <summary>How many input shapes of a dynamic model keep their plan.</summary>
    public int MaxShapePlans { get; set; } = 8;

    /// <summary>Most runs at once on the session (its pooled execution contexts: each holds an arena and scratch); null: the session's default.</summary>
    public int? MaxConcurrency { get; set; }

    /// <summary>Input shapes fixed at load, by input name (<c>"input": "1x3x224x224"</c>): a dynamic model's sizes, a builtin's batch.</summary>
    public Dictionary<string, string> InputShapes { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The configuration path the options came from, for messages (set by <c>AddFastConv</c>).</summary>
    internal string Source { get; set; } = "FastConv";

    /// <summary>The model name, checked.</summary>
    internal string RequireModel() => string.IsNullOrWhiteSpace(Model)
        ? throw new InvalidSettingException(Key(nameof(Model)), $"{Key(nameof(Model))} is not set; give a path to an .onnx file or builtin:NAME (e.g. builtin:mnist).")
        : Model;

    /// <summary>
    /// The session options these settings stand for, logging to <paramref name="loggerFactory"/> (the host's: load, plan,
    /// backend choice and why); throws <see cref="InvalidSettingException"/> naming the first bad key.
    /// </summary>
    internal FastConvSessionOptions ToSessionOptions(ILoggerFactory? loggerFactory)
    {
        if (string.IsNullOrWhiteSpace(Backend))
        {
            throw new InvalidSettingException(Key(nameof(Backend)), $"{Key(nameof(Backend))} is empty; give a backend name or auto.");
        }
        if (Threads is < 1)
        {
            throw new InvalidSettingException(Key(nameof(Threads)), $"{Key(nameof(Threads))} must be at least 1, got {Threads}; leave it out for the core count.");
        }
        if (MaxConcurrency is < 1)
        {
            throw new InvalidSettingException(Key(nameof(MaxConcurrency)), $"{Key(nameof(MaxConcurrency))} must be at least 1, got {MaxConcurrency}; leave it out for the session's default.");
        }
        if (MaxShapePlans < 1)
        {
            throw new InvalidSettingException(Key(nameof(MaxShapePlans)), $"{Key(nameof(MaxShapePlans))} must be at least 1, got {MaxShapePlans}.");
        }
        long? memoryLimit = null;
        if (!string.IsNullOrWhiteSpace(MemoryLimit))
        {
            memoryLimit = ByteSize.TryParse(MemoryLimit, out long bytes) && bytes > 0 ? bytes
                : throw new InvalidSettingException(Key(nameof(MemoryLimit)), $"{Key(nameof(MemoryLimit))} = '{MemoryLimit}' is not a size; write bytes or a number with K, M, G or T (e.g. 512M, 2G).");
        }
        var defaults = new FastConvSessionOptions();
        return new FastConvSessionOptions
        {
            Backend = Backend.Trim(),
            Threads = Threads,
            Exact = Exact,
            MemoryLimitBytes = memoryLimit,
            MaxShapePlans = MaxShapePlans,
            MaxConcurrency = MaxConcurrency ?? defaults.MaxConcurrency,
            Logger = loggerFactory?.CreateLogger<FastConvSession>(),
        };
    }

    /// <summary>The input shapes, parsed; null when none are given.</summary>
    internal Dictionary<string, TensorShape>? ParseInputShapes()
    {
        if (InputShapes.Count == 0)
        {
            return null;
        }
        var shapes = new Dictionary<string, TensorShape>(StringComparer.Ordinal);
        foreach (var (name, text) in InputShapes)
        {
            string key = Key($"{nameof(InputShapes)}:{name}");
            string[] parts = (text ?? "").Split('x', StringSplitOptions.TrimEntries);
            var dims = new int[parts.Length];
            for (int i = 0; i < parts.Length; i++)
            {
                if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out dims[i]) || dims[i] < 1)
                {
                    throw new InvalidSettingException(key, $"{key} = '{text}' is not a shape; write its sizes joined by x, each at least 1 (e.g. 1x3x224x224).");
                }
            }
            shapes[name] = new TensorShape(dims);
        }
        return shapes;
    }

    private string Key(string name) => $"{Source}:{name}";
}
