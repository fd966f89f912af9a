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

    /// <summary>
    /// Recognize activations exporters write out op by op — HardSwish as x·Clip(x + 3, 0, 6)/6 (PyTorch before opset 14,
    /// Paddle2ONNX's ·(1/6)) or x·HardSigmoid(x), HardSigmoid as Clip(x + 3, 0, 6)/6, Gelu as x·½·(1 + Erf(x/√2)) — as
    /// the one op each is, which a conv epilogue can then take.
    /// </summary>
    public bool RecognizeActivations { get; init; } = true;

    /// <summary>Fold a per-channel (or scalar) constant Mul, Div, Add or Sub after a Conv into its weights and bias.</summary>
    public bool FoldChannelAffine { get; init; } = true;

    /// <summary>Fuse an element-wise Add/Sub/Mul/Div and the activation reading it into one pass (<c>FastConv.FusedBinary</c>).</summary>
    public bool FuseBinaryActivation { get; init; } = true;

    public static OptimizerOptions All { get; } = new();

    public static OptimizerOptions None { get; } = new()
    {
        DropNoOps = false, FoldConstants = false, FoldBatchNorm = false, FuseConvEpilogue = false,
        RecognizeActivations = false, FoldChannelAffine = false, FuseBinaryActivation = false,
    };
}
