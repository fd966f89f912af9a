using FastConv.Ops;

namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// Gemm (ONNX <c>Gemm</c>): <c>Y[m,n] = Alpha·Σ_k op(A)[m,k]·op(B)[k,n] + Beta·C[m,n]</c>, with op(A) = Aᵀ
    /// when TransA (A is then K×M) and op(B) = Bᵀ when TransB (B is then N×K). <paramref name="c"/> is optional
    /// and broadcasts unidirectionally to [M, N] (scalar, [1], [N], [1,N], [M,1] or [M,N]); when Beta is 0 it is
    /// not read (as BLAS). The products (exact in double) are summed in double and the result rounded once.
    /// </summary>
    public static void Gemm(Tensor a, Tensor b, Tensor? c, GemmParams p, Tensor y)
    {
        TensorShape outShape = p.OutputShape(a.Shape, b.Shape);
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
