namespace FastConv;

/// <summary>
/// A tensor has the wrong rank or dimensions for the op: rank mismatch, a weight whose shape does not
/// match the input, channels not divisible by groups, shapes that cannot broadcast.
/// </summary>
public class InvalidShapeException : FastConvException
{
    public InvalidShapeException(string message) : base(message) { }
}

/// <summary>
/// A hyperparameter is out of range: zero or negative stride or dilation, negative padding,
/// a kernel larger than the padded input, an axis outside the rank.
/// </summary>
public class InvalidHyperparameterException : FastConvException
{
    public InvalidHyperparameterException(string message) : base(message) { }
}

/// <summary>
/// A model (ONNX file, built network, graph) is malformed: truncated or unparsable file, dangling or duplicate
/// value names, a cycle, missing initializers, wrong data types, absurd dimensions.
/// </summary>
public class InvalidModelException : FastConvException
{
    public InvalidModelException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>
/// A well-formed model uses what FastConv does not support. <see cref="Problems"/> lists every offending node
/// (name, op type, opset, the attribute at fault), all of them at once, found before any work is done.
/// </summary>
public class UnsupportedModelException : FastConvException
{
    public UnsupportedModelException(IReadOnlyList<string> problems)
        : base($"the model uses {problems.Count} unsupported node(s):" + Environment.NewLine + "  " + string.Join(Environment.NewLine + "  ", problems)) =>
        Problems = problems;

    public IReadOnlyList<string> Problems { get; }
}

/// <summary>
/// A session would need more memory than its budget (<c>FastConvSessionOptions.MemoryLimitBytes</c>, <c>--memory-limit</c>; by
/// default 80 % of the memory the process may use), or an allocation failed: the message names the biggest consumers.
/// </summary>
public sealed class MemoryLimitExceededException : FastConvException
{
    public MemoryLimitExceededException(string message, long neededBytes, long limitBytes, Exception? inner = null) : base(message, inner)
    {
        NeededBytes = neededBytes;
        LimitBytes = limitBytes;
    }

    public long NeededBytes { get; }
    public long LimitBytes { get; }

    internal static string Size(long bytes) => bytes >= 1L << 30 ? $"{bytes / (double)(1L << 30):F2} GiB"
        : bytes >= 1L << 20 ? $"{bytes / (double)(1L << 20):F1} MiB" : $"{bytes / 1024.0:F1} KiB";

    internal static MemoryLimitExceededException ForArena(Graphs.Graph graph, Compilation.MemoryPlan memory, long limit, bool defaultLimit)
    {
        long needed = memory.ArenaBytes.Values.Sum();
        var biggest = memory.Slots.OrderByDescending(s => s.Value.Bytes).Take(3)
            .Select(s => $"'{s.Key}' {graph.Values[s.Key].Shape} ({Size(s.Value.Bytes)})");
        string which = defaultLimit ? "the default budget (80 % of this process's available memory)" : "the memory limit";
        return new($"the activations need {Size(needed)} at once, more than {which} of {Size(limit)}; the biggest values: {string.Join(", ", biggest)}. " +
            "Use smaller inputs or batch, or raise the limit (FastConvSessionOptions.MemoryLimitBytes, --memory-limit).", needed, limit);
    }

    internal static MemoryLimitExceededException ForPlans(IReadOnlyList<Compilation.Step> steps, long arenaBytes, long limit)
    {
        long workspace = steps.Sum(s => s.Plan?.WorkspaceBytes ?? 0);
        var biggest = steps.Where(s => s.Plan is not null).OrderByDescending(s => s.Plan!.WorkspaceBytes).Take(3)
            .Select(s => $"{s.Node} ({s.Algorithm}, {Size(s.Plan!.WorkspaceBytes)})");
        return new($"the activations ({Size(arenaBytes)}) and the plans' workspaces (packed weights, scratch: {Size(workspace)} so far) exceed the memory limit of {Size(limit)}; " +
            $"the biggest plans: {string.Join(", ", biggest)}. Raise the limit (FastConvSessionOptions.MemoryLimitBytes, --memory-limit) or use a smaller model or batch.", arenaBytes + workspace, limit);
    }
}
