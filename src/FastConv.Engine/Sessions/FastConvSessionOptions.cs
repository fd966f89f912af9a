using FastConv.Backends;
using FastConv.Compilation;
using Microsoft.Extensions.Logging;

namespace FastConv.Sessions;

/// <summary>How a <see cref="FastConvSession"/> plans and runs a model (ONNX Runtime's FastConvSessionOptions, FastConv's knobs).</summary>
public sealed record FastConvSessionOptions
{
    /// <summary>A backend name (<see cref="BackendNames"/>) or <c>auto</c> (the best available).</summary>
    public string Backend { get; init; } = BackendRegistry.Auto;

    /// <summary>CPU worker threads; null uses <c>FASTCONV_THREADS</c> or the core count.</summary>
    public int? Threads { get; init; }

    /// <summary>Forbid algorithms that change the arithmetic (Winograd on the CPU, TF32 on the GPU).</summary>
    public bool Exact { get; init; }

    /// <summary>Which graph rewrites run before planning; <see cref="OptimizerOptions.None"/> runs the graph as given.</summary>
    public OptimizerOptions Optimizer { get; init; } = OptimizerOptions.All;

    /// <summary>Most nodes a model may have; a bigger one is refused before any planning (<see cref="InferPass.DefaultMaxNodes"/>).</summary>
    public int MaxNodes { get; init; } = InferPass.DefaultMaxNodes;

    /// <summary>
    /// Shapes to plan a model with dynamic inputs for at once (by input name), instead of at its first run. A later run
    /// with other shapes is planned then.
    /// </summary>
    public IReadOnlyDictionary<string, TensorShape>? InputShapes { get; init; }

    /// <summary>How many input shapes of a dynamic model keep their plan (least recently used dropped first). Each keeps its own arena and packed weights.</summary>
    public int MaxShapePlans { get; init; } = 8;

    /// <summary>
    /// Most bytes a plan may hold: its activation arenas and the plans' workspaces (packed weights, scratch), checked
    /// while planning, before anything big is allocated. Null: 80 % of the memory the process may use. Past it, a
    /// <see cref="MemoryLimitExceededException"/> names the biggest consumers.
    /// </summary>
    public long? MemoryLimitBytes { get; init; }

    /// <summary>
    /// Most runs of one session at once: each takes an execution context (arenas, the plans' scratch and packed weights,
    /// a stream on a GPU), made on demand; a caller beyond this waits. Default: the logical cores.
    /// </summary>
    public int MaxConcurrency { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// On a GPU backend, record each execution context's first run of a plan into CUDA Graphs (one per run of device
    /// steps between nodes that fell back to the host) and replay them on later runs: one launch instead of one per
    /// kernel. Each input-shape plan of a dynamic model captures its own; an IO binding to other addresses than the
    /// captured ones captures again. No effect on host backends. <see cref="FastConvSession.Graphs"/> says what it did.
    /// </summary>
    public bool CaptureGraphs { get; init; }

    /// <summary>Where the session says what it did: the backend chosen and why, each plan made (shapes, time, nodes per backend, arenas).</summary>
    public ILogger? Logger { get; init; }

    /// <summary>Cancels compiling and planning between nodes (an <see cref="OperationCanceledException"/>).</summary>
    public CancellationToken Cancellation { get; init; }
}
