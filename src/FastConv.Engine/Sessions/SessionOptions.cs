using FastConv.Backends;

namespace FastConv.Sessions;

/// <summary>How a <see cref="Session"/> plans and runs a model (ONNX Runtime's SessionOptions, FastConv's knobs).</summary>
public sealed record SessionOptions
{
    /// <summary>A backend name (<see cref="BackendNames"/>) or <c>auto</c> (the best available).</summary>
    public string Backend { get; init; } = BackendRegistry.Auto;

    /// <summary>CPU worker threads; null uses <c>FASTCONV_THREADS</c> or the core count.</summary>
    public int? Threads { get; init; }

    /// <summary>Forbid algorithms that change the arithmetic (Winograd on the CPU, TF32 on the GPU).</summary>
    public bool Exact { get; init; }

    /// <summary>Which graph rewrites run before planning; <see cref="OptimizerOptions.None"/> runs the graph as given.</summary>
    public OptimizerOptions Optimizer { get; init; } = OptimizerOptions.All;
}

/// <summary>The graph rewrites of <see cref="GraphOptimizer"/>, each on its own switch (tests compare fused and unfused runs).</summary>
public sealed record OptimizerOptions
{
    /// <summary>Drop Dropout and Identity (their consumers read the input directly).</summary>
    public bool DropNoOps { get; init; } = true;

    /// <summary>Evaluate (with the reference backend) every float node whose inputs are all constants.</summary>
    public bool FoldConstants { get; init; } = true;

    /// <summary>Fold an inference BatchNormalization into the Conv before it (new weights and bias).</summary>
    public bool FoldBatchNorm { get; init; } = true;

    /// <summary>Fuse Conv (+ bias) + activation, and Conv + Add (+ activation) into one conv with an epilogue.</summary>
    public bool FuseConvEpilogue { get; init; } = true;

    public static OptimizerOptions All { get; } = new();

    public static OptimizerOptions None { get; } = new() { DropNoOps = false, FoldConstants = false, FoldBatchNorm = false, FuseConvEpilogue = false };
}
