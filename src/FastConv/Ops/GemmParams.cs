namespace FastConv.Ops;

/// <summary>
/// Hyperparameters of Gemm (ONNX <c>Gemm</c>): <c>Y = Alpha·op(A)·op(B) + Beta·C</c>, where op transposes
/// when <see cref="TransA"/> / <see cref="TransB"/> is set.
/// </summary>
public sealed record GemmParams
{
    public bool TransA { get; init; }
    public bool TransB { get; init; }
    public float Alpha { get; init; } = 1f;
    public float Beta { get; init; } = 1f;

    public static GemmParams Default { get; } = new();

    public override string ToString() => $"transA={(TransA ? 1 : 0)} transB={(TransB ? 1 : 0)} alpha={Alpha:R} beta={Beta:R}";
}
