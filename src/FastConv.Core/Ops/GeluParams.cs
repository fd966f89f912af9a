namespace FastConv.Ops;

/// <summary>Which formula Gelu uses (ONNX opset 20 attribute <c>approximate</c>: "none" or "tanh").</summary>
public enum GeluApproximation
{
    /// <summary><c>y = x·½·(1 + erf(x/√2))</c>.</summary>
    None,
    /// <summary><c>y = x·½·(1 + tanh(√(2/π)·(x + 0.044715·x³)))</c>.</summary>
    Tanh,
}

/// <summary>Hyperparameters of Gelu (ONNX <c>Gelu</c>, opset 20).</summary>
public sealed record GeluParams
{
    public GeluApproximation Approximate { get; init; } = GeluApproximation.None;

    /// <summary>The exact form, with erf.</summary>
    public static GeluParams Exact { get; } = new();

    /// <summary>The tanh approximation.</summary>
    public static GeluParams TanhApproximation { get; } = new() { Approximate = GeluApproximation.Tanh };

    /// <summary>The ONNX attribute value: "none" or "tanh".</summary>
    public string OnnxName => Approximate == GeluApproximation.Tanh ? "tanh" : "none";

    public override string ToString() => $"approximate={OnnxName}";
}
