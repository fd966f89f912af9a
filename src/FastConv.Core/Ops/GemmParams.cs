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

    /// <summary>
    /// Output shape [M, N] for A and B, where op(A) is M×K and op(B) is K×N. Throws
    /// <see cref="InvalidShapeException"/> naming both shapes when A or B is not rank 2 or the inner dimensions differ.
    /// </summary>
    public TensorShape OutputShape(TensorShape a, TensorShape b)
    {
        if (a.Rank != 2 || b.Rank != 2)
        {
            throw new InvalidShapeException($"Gemm: A and B must be rank 2, got A {a} and B {b}; {this}.");
        }
        int m = TransA ? a[1] : a[0], ka = TransA ? a[0] : a[1];
        int kb = TransB ? b[1] : b[0], n = TransB ? b[0] : b[1];
        if (ka != kb)
        {
            throw new InvalidShapeException($"Gemm: inner dimensions differ: op(A) of A {a} is {m}x{ka}, op(B) of B {b} is {kb}x{n}; {this}.");
        }
        return TensorShape.Of(m, n);
    }

    public override string ToString() => $"transA={(TransA ? 1 : 0)} transB={(TransB ? 1 : 0)} alpha={Alpha:R} beta={Beta:R}";
}
