namespace FastConv.Ops;

/// <summary>
/// Hyperparameters of Clip (ONNX <c>Clip</c>, opset ≥ 11 where min and max are optional inputs):
/// <c>y = min(max(x, Min), Max)</c>. Relu6 is <c>Clip(0, 6)</c>.
/// An absent bound is the largest finite float (<see cref="float.MinValue"/> / <see cref="float.MaxValue"/>),
/// as ONNX Runtime 1.31 does (so Clip without bounds maps ±∞ to ±3.4028235E+38); the ONNX text says "no
/// clipping", but ONNX Runtime is this project's oracle. Pass ±∞ explicitly to leave infinities alone.
/// </summary>
public sealed record ClipParams
{
    public float Min { get; init; } = float.MinValue;
    public float Max { get; init; } = float.MaxValue;

    /// <summary>MobileNet's Relu6: clip to [0, 6].</summary>
    public static ClipParams Relu6 { get; } = new() { Min = 0f, Max = 6f };

    public static ClipParams Between(float min, float max) => new() { Min = min, Max = max };

    public override string ToString() => $"min={Min:R} max={Max:R}";
}
