namespace FastConv.Ops;

/// <summary>Hyperparameters of HardSigmoid (ONNX <c>HardSigmoid</c>): <c>y = max(0, min(1, Alpha·x + Beta))</c>.</summary>
public sealed record HardSigmoidParams
{
    /// <summary>Slope; ONNX default 0.2.</summary>
    public float Alpha { get; init; } = 0.2f;
    /// <summary>Offset; ONNX default 0.5.</summary>
    public float Beta { get; init; } = 0.5f;

    public static HardSigmoidParams Default { get; } = new();

    public override string ToString() => $"alpha={Alpha:R} beta={Beta:R}";
}
