// planted.cu — kernels with one deliberate bug each (and, where the bug shows only in the output, a correct
// twin), which the emulator's test driver must catch. Same dialect as native/kernels: fc_*.cuh only.
#include "../../kernels/fc_common.cuh"

// Reverses 64 values through shared memory. The bug: no __syncthreads between the writes and the reads, so a
// thread reads a slot another thread has not written yet (NaN, from the per-block fill) in forward or reverse order.
extern "C" __global__ void planted_missing_barrier(const float* x, float* y)
{
    FC_SHARED(float, s, [64]);
    s[threadIdx.x] = x[threadIdx.x];
    y[threadIdx.x] = s[63 - threadIdx.x];
}
FC_EXPORT(planted_missing_barrier)

extern "C" __global__ void planted_missing_barrier_fixed(const float* x, float* y)
{
    FC_SHARED(float, s, [64]);
    s[threadIdx.x] = x[threadIdx.x];
    __syncthreads();
    y[threadIdx.x] = s[63 - threadIdx.x];
}
FC_EXPORT(planted_missing_barrier_fixed)

// Off-by-one store: writes y[i + 1], one float past the end of y for the last i (ASan: heap-buffer-overflow).
extern "C" __global__ void planted_off_by_one_store(const float* x, float* y, int n)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i + 1] = x[i];
}
FC_EXPORT(planted_off_by_one_store)

// Overflow of a static shared array by one element (ASan: global-buffer-overflow on the static storage).
extern "C" __global__ void planted_shared_overflow(const float* x, float* y)
{
    FC_SHARED(float, s, [64]);
    s[threadIdx.x + 1] = x[threadIdx.x];
    __syncthreads();
    y[threadIdx.x] = s[threadIdx.x];
}
FC_EXPORT(planted_shared_overflow)

// One warp computes D (16×8) = A (16×8, row-major) · B (8×8, row-major) with one TF32 mma. `f16_order` loads
// the A fragment in the f16 register order (a1 = (g, t+4), a2 = (g+8, t)) — the classic copy-paste bug.
__device__ __forceinline__ void planted_mma_body(const float* A, const float* B, float* D, bool f16_order)
{
    const int lane = threadIdx.x, g = lane >> 2, t = lane & 3;
    unsigned a[4], b[2];
    a[0] = fc_to_tf32(A[g * 8 + t]);
    a[1] = fc_to_tf32(f16_order ? A[g * 8 + t + 4] : A[(g + 8) * 8 + t]);
    a[2] = fc_to_tf32(f16_order ? A[(g + 8) * 8 + t] : A[g * 8 + t + 4]);
    a[3] = fc_to_tf32(A[(g + 8) * 8 + t + 4]);
    b[0] = fc_to_tf32(B[t * 8 + g]);
    b[1] = fc_to_tf32(B[(t + 4) * 8 + g]);
    float c[4] = {0.0f, 0.0f, 0.0f, 0.0f}, d[4];
    fc_mma_tf32_m16n8k8(d, a, b, c);
    D[g * 8 + 2 * t] = d[0];
    D[g * 8 + 2 * t + 1] = d[1];
    D[(g + 8) * 8 + 2 * t] = d[2];
    D[(g + 8) * 8 + 2 * t + 1] = d[3];
}
extern "C" __global__ void planted_mma_wrong_fragment(const float* A, const float* B, float* D) { planted_mma_body(A, B, D, true); }
FC_EXPORT(planted_mma_wrong_fragment)
extern "C" __global__ void planted_mma_fixed(const float* A, const float* B, float* D) { planted_mma_body(A, B, D, false); }
FC_EXPORT(planted_mma_fixed)

// A full-mask shuffle reached by lanes 0–15 only: lanes 16–31 exit without joining.
extern "C" __global__ void planted_partial_warp_shuffle(const float* x, float* y)
{
    float v = x[threadIdx.x];
    if (threadIdx.x < 16) v = fc_shfl_xor(FC_FULL_MASK, v, 1);
    y[threadIdx.x] = v;
}
FC_EXPORT(planted_partial_warp_shuffle)

// A shuffle whose mask omits the calling lane's partner: lane 0 reads lane 1, which is not in the mask.
extern "C" __global__ void planted_shuffle_source_outside_mask(const float* x, float* y)
{
    float v = x[threadIdx.x];
    if ((threadIdx.x & 1) == 0) v = fc_shfl_xor(0x55555555u, v, 1);
    y[threadIdx.x] = v;
}
FC_EXPORT(planted_shuffle_source_outside_mask)

// Half a warp shuffles while the other half waits at a barrier: neither can proceed.
extern "C" __global__ void planted_shuffle_barrier_deadlock(const float* x, float* y)
{
    float v = x[threadIdx.x];
    if (threadIdx.x < 16) v = fc_shfl_xor(FC_FULL_MASK, v, 1);
    else __syncthreads();
    y[threadIdx.x] = v;
}
FC_EXPORT(planted_shuffle_barrier_deadlock)

// Two barriers at different call sites in one block (divergent __syncthreads).
extern "C" __global__ void planted_divergent_barrier(const float* x, float* y)
{
    float v = x[threadIdx.x];
    if (threadIdx.x < 32)
    {
        __syncthreads();
        v += 1.0f;
    }
    else
    {
        __syncthreads();
        v -= 1.0f;
    }
    y[threadIdx.x] = v;
}
FC_EXPORT(planted_divergent_barrier)

// cp.async read before cp.async.wait_group: the shared slot still holds the block-start NaN.
extern "C" __global__ void planted_cp_async_no_wait(const float* x, float* y)
{
    FC_SHARED(float, s, [64]);
    fc_cp_async4(&s[threadIdx.x], &x[threadIdx.x], true);
    fc_cp_async_commit();
    __syncthreads();
    y[threadIdx.x] = s[threadIdx.x];
    fc_cp_async_wait<0>();
}
FC_EXPORT(planted_cp_async_no_wait)

extern "C" __global__ void planted_cp_async_fixed(const float* x, float* y)
{
    FC_SHARED(float, s, [64]);
    fc_cp_async4(&s[threadIdx.x], &x[threadIdx.x], true);
    fc_cp_async_commit();
    fc_cp_async_wait<0>();
    __syncthreads();
    y[threadIdx.x] = s[threadIdx.x];
}
FC_EXPORT(planted_cp_async_fixed)
