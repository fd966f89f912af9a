namespace FastConv.Compilation;

/// <summary>Which graph rewrites the fold and fuse passes make, each on its own switch (tests compare fused and unfused runs).</summary>
public sealed record OptimizerOptions
{
    /// <summary>Drop Dropout and Identity (their consumers read the input directly).</summary>
    public bool DropNoOps { get; init; } = true;

    /// <summary>Evaluate (with the reference backend) every float node whose inputs are all constants.</summary>
    public bool FoldConstants { get; init; } = true;

    /// <summary>Fold an inference BatchNormalization into the Conv before it (new weights and bias).</summary>
    public bool FoldBatchNorm { get; init; } = true;

    /// <summary>Fuse Conv (+ bias) + activation, and Conv + Add (+ activation), into one conv with an epilogue.</summary>
    public bool FuseConvEpilogue { get; init; } = true;

    public static OptimizerOptions All { get; } = new();

    public static OptimizerOptions None { get; } = new() { DropNoOps = false, FoldConstants = false, FoldBatchNorm = false, FuseConvEpilogue = false };
}
