// softmax.cu — softmax along one axis of a tensor viewed as [outer, len, inner]:
//   y[o, i, j] = exp(x[o, i, j] − max_i x[o, i, j]) / Σ_i exp(x[o, i, j] − max_i x[o, i, j]).
//
// Variants:
//   softmax_naive     one thread per (outer, inner) row, three passes; the GPU-side reference.
//   softmax_v1_warp   inner == 1 (the last axis, as after an FC layer): one warp per row, lanes striding over
//                     len, max and sum finished by shuffle butterflies. 8 rows per 256-thread block, grid-stride.
// NaN: the max skips it (fmaxf) but exp(NaN − m) makes the sum NaN, so a NaN anywhere makes its whole row NaN,
// as in FastConv.Cpu Reference.Softmax.
#include "fc_common.cuh"

#define FC_NEG_INF_SM __int_as_float(0xff800000)

extern "C" __global__ void softmax_naive(FcSoftmaxArgs a)
{
    const long long rows = (long long)a.outer * a.inner;
    for (long long r = (long long)blockIdx.x * blockDim.x + threadIdx.x; r < rows; r += (long long)gridDim.x * blockDim.x)
    {
        const long long o = r / a.inner, j = r % a.inner;
        const float* x = a.x + o * a.len * a.inner + j;
        float* y = a.y + o * a.len * a.inner + j;
        float m = FC_NEG_INF_SM;
        for (int i = 0; i < a.len; i++) m = fmaxf(m, x[(long long)i * a.inner]);
        float sum = 0.0f;
        for (int i = 0; i < a.len; i++) sum += expf(x[(long long)i * a.inner] - m);
        const float inv = 1.0f / sum;
        for (int i = 0; i < a.len; i++) y[(long long)i * a.inner] = expf(x[(long long)i * a.inner] - m) * inv;
    }
}
FC_EXPORT(softmax_naive)

// Grid-stride over rows, one warp per row per pass: the launcher caps the grid, so a warp takes rows w, w + 8·gridDim.x,
// ... The loop bound is the same for every lane of a warp, so the full-mask shuffles are reached by all 32 lanes or none.
extern "C" __global__ __launch_bounds__(256) void softmax_v1_warp(FcSoftmaxArgs a)
{
    const int lane = threadIdx.x & 31;
    for (long long row = (long long)blockIdx.x * 8 + (threadIdx.x >> 5); row < a.outer; row += (long long)gridDim.x * 8)
    {
        const float* x = a.x + row * a.len;
        float m = FC_NEG_INF_SM;
        for (int i = lane; i < a.len; i += 32) m = fmaxf(m, x[i]);
        for (int off = 16; off > 0; off >>= 1) m = fmaxf(m, fc_shfl_xor(FC_FULL_MASK, m, off));
        float sum = 0.0f;
        for (int i = lane; i < a.len; i += 32) sum += expf(x[i] - m);
        for (int off = 16; off > 0; off >>= 1) sum += fc_shfl_xor(FC_FULL_MASK, sum, off);
        const float inv = 1.0f / sum;
        float* y = a.y + row * a.len;
        for (int i = lane; i < a.len; i += 32) y[i] = expf(x[i] - m) * inv;
    }
}
FC_EXPORT(softmax_v1_warp)
