// gemm.cu — Gemm for fully-connected layers (ONNX Gemm): Y[m, n] = alpha·Σ_k op(A)[m, k]·op(B)[k, n] + beta·C,
// op(A) = A (M×K) or Aᵀ (A stored K×M), op(B) = B (K×N) or Bᵀ (B stored N×K); C broadcast to M×N through
// element strides (cStrideM, cStrideN; 0 along a broadcast axis) or null.
//
// Variants:
//   gemm_naive        one thread per output; the GPU-side reference.
//   gemm_v1_tiled     32×32 output tile per block of (32, 8) threads, 32-deep K slices of A and B staged in
//                     shared memory (rows padded to 33 floats so column reads do not conflict), 4 outputs per
//                     thread. FC layers have small M (the batch) and large K·N: the weights are read once per
//                     32 rows of A instead of once per row.
#include "fc_common.cuh"

__device__ __forceinline__ float fc_gemm_a(const FcGemmArgs& g, int m, int k)
{
    return g.transA ? g.A[(long long)k * g.M + m] : g.A[(long long)m * g.Kd + k];
}
__device__ __forceinline__ float fc_gemm_b(const FcGemmArgs& g, int k, int n)
{
    return g.transB ? g.B[(long long)n * g.Kd + k] : g.B[(long long)k * g.N + n];
}
__device__ __forceinline__ void fc_gemm_store(const FcGemmArgs& g, int m, int n, float acc)
{
    float v = g.alpha * acc;
    if (g.C != nullptr) v += g.beta * g.C[(long long)m * g.cStrideM + (long long)n * g.cStrideN];
    g.Y[(long long)m * g.N + n] = v;
}

extern "C" __global__ void gemm_naive(FcGemmArgs g)
{
    const long long total = (long long)g.M * g.N;
    for (long long o = (long long)blockIdx.x * blockDim.x + threadIdx.x; o < total; o += (long long)gridDim.x * blockDim.x)
    {
        const int m = (int)(o / g.N), n = (int)(o % g.N);
        float acc = 0.0f;
        for (int k = 0; k < g.Kd; k++) acc += fc_gemm_a(g, m, k) * fc_gemm_b(g, k, n);
        fc_gemm_store(g, m, n, acc);
    }
}
FC_EXPORT(gemm_naive)

// grid ≤ (ceil(N/32), ceil(M/32)), block (32, 8): thread (tx, ty) computes rows ty, ty+8, ty+16, ty+24, column tx of
// each 32×32 tile the block visits. Grid-stride over tiles in both dimensions: gridDim.y may not exceed 65,535, so
// the launcher caps it and a block walks tiles (bx + i·gridDim.x, by + j·gridDim.y). The loop bounds are the same
// for every thread of the block, so every thread reaches every __syncthreads.
extern "C" __global__ __launch_bounds__(256) void gemm_v1_tiled(FcGemmArgs g)
{
    FC_SHARED(float, As, [32][33]); // [m][k]
    FC_SHARED(float, Bs, [32][33]); // [k][n]
    const int tx = threadIdx.x, ty = threadIdx.y;
    for (long long m0 = (long long)blockIdx.y * 32; m0 < g.M; m0 += (long long)gridDim.y * 32)
    {
        for (long long n0 = (long long)blockIdx.x * 32; n0 < g.N; n0 += (long long)gridDim.x * 32)
        {
            float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
            for (int k0 = 0; k0 < g.Kd; k0 += 32)
            {
                for (int i = 0; i < 4; i++)
                {
                    const int r = ty + 8 * i;
                    As[r][tx] = (m0 + r < g.M && k0 + tx < g.Kd) ? fc_gemm_a(g, (int)m0 + r, k0 + tx) : 0.0f;
                    Bs[r][tx] = (k0 + r < g.Kd && n0 + tx < g.N) ? fc_gemm_b(g, k0 + r, (int)n0 + tx) : 0.0f;
                }
                __syncthreads();
                for (int k = 0; k < 32; k++)
                {
                    const float b = Bs[k][tx];
                    for (int i = 0; i < 4; i++) acc[i] += As[ty + 8 * i][k] * b;
                }
                __syncthreads();
            }
            for (int i = 0; i < 4; i++)
            {
                const long long m = m0 + ty + 8 * i, n = n0 + tx;
                if (m < g.M && n < g.N) fc_gemm_store(g, (int)m, (int)n, acc[i]);
            }
        }
    }
}
FC_EXPORT(gemm_v1_tiled)
