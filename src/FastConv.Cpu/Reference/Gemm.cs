using FastConv.Ops;

namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// Output shape of Gemm: [M, N] where op(A) is M×K and op(B) is K×N (op transposes when TransA/TransB).
    /// Throws <see cref="InvalidShapeException"/> naming both shapes when A or B is not rank 2 or the inner
    /// dimensions differ.
    /// </summary>
    public static TensorShape GemmOutputShape(TensorShape a, TensorShape b, GemmParams p)
    {
        if (a.Rank != 2 || b.Rank != 2)
        {
            throw new InvalidShapeException($"Gemm: A and B must be rank 2, got A {a} and B {b}; {p}.");
        }
        int m = p.TransA ? a[1] : a[0], ka = p.TransA ? a[0] : a[1];
        int kb = p.TransB ? b[1] : b[0], n = p.TransB ? b[0] : b[1];
        if (ka != kb)
        {
            throw new InvalidShapeException($"Gemm: inner dimensions differ: op(A) of A {a} is {m}x{ka}, op(B) of B {b} is {kb}x{n}; {p}.");
        }
        return TensorShape.Of(m, n);
    }

    /// <summary>
    /// Gemm (ONNX <c>Gemm</c>): <c>Y[m,n] = Alpha·Σ_k op(A)[m,k]·op(B)[k,n] + Beta·C[m,n]</c>, with op(A) = Aᵀ
    /// when TransA (A is then K×M) and op(B) = Bᵀ when TransB (B is then N×K). <paramref name="c"/> is optional
    /// and broadcasts unidirectionally to [M, N] (scalar, [1], [N], [1,N], [M,1] or [M,N]); when Beta is 0 it is
    /// not read (as BLAS). The products (exact in double) are summed in double and the result rounded once.
    /// </summary>
    public static void Gemm(Tensor a, Tensor b, Tensor? c, GemmParams p, Tensor y)
    {
        TensorShape outShape = GemmOutputShape(a.Shape, b.Shape, p);
        int m = outShape[0], n = outShape[1], k = p.TransA ? a.Shape[0] : a.Shape[1];
        if (c is not null)
        {
            Broadcast.RequireUnidirectional(c.Shape, outShape, "C", "Gemm");
        }
        RequireShape(y, outShape, "output", "Gemm", $"A {a.Shape}, B {b.Shape}, C {c?.Shape.ToString() ?? "none"}, {p}");
        int[]? cStrides = c is null ? null : Broadcast.Strides(c.Shape, outShape);
        ReadOnlySpan<float> aS = a.Span, bS = b.Span;
        Span<float> ys = y.Span;
        for (int mi = 0; mi < m; mi++)
        {
            for (int ni = 0; ni < n; ni++)
            {
                double sum = 0;
                for (int ki = 0; ki < k; ki++)
                {
                    float av = p.TransA ? aS[ki * m + mi] : aS[mi * k + ki];
                    float bv = p.TransB ? bS[ni * k + ki] : bS[ki * n + ni];
                    sum += (double)av * bv;
                }
                double r = p.Alpha * sum;
                if (c is not null && p.Beta != 0f)
                {
                    r += (double)p.Beta * c.Span[Broadcast.Offset(mi * n + ni, outShape, cStrides!)];
                }
                ys[mi * n + ni] = (float)r;
            }
        }
    }
}
