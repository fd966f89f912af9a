using FastConv.Cpu.Threading;

namespace FastConv.Cpu.Kernels;

/// <summary>
/// Row-major single-precision GEMM: <c>C[m,n] = alpha·Σ_k op(A)[m,k]·op(B)[k,n] + beta·C[m,n]</c>, where
/// op(A) is A (m×k, leading dimension lda) or Aᵀ (A stored k×m) and likewise for B. With beta = 0, C is
/// written without being read (so NaN-poisoned outputs are overwritten).
/// </summary>
public static class Sgemm
{
    /// <summary>The general entry point; <paramref name="pool"/> null runs on the calling thread.</summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc, WorkerPool? pool = null)
    {
        _ = pool;
        // Baseline: i-k-j order so the inner loop streams rows of B and C; replaced by the packed kernels.
        for (int i = 0; i < m; i++)
        {
            Span<float> ci = c.Slice(i * ldc, n);
            if (beta == 0f)
            {
                ci.Clear();
            }
            else if (beta != 1f)
            {
                for (int j = 0; j < n; j++)
                {
                    ci[j] *= beta;
                }
            }
            for (int p = 0; p < k; p++)
            {
                float aip = alpha * (transA ? a[p * lda + i] : a[i * lda + p]);
                if (transB)
                {
                    for (int j = 0; j < n; j++)
                    {
                        ci[j] += aip * b[j * ldb + p];
                    }
                }
                else
                {
                    ReadOnlySpan<float> bp = b.Slice(p * ldb, n);
                    for (int j = 0; j < n; j++)
                    {
                        ci[j] += aip * bp[j];
                    }
                }
            }
        }
    }
}
