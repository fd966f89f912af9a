// pool2d.cu — max and average pooling (NCHW, stride, asymmetric padding, dilation for max, ceil mode through
// P and Q, count_include_pad for average) and global max / average pooling.
//
// Variants:
//   pool2d_naive          one thread per output element; the GPU-side reference.
//   pool2d_v1_tiled       an 8×32 output tile of one (n, c) plane per block, its input patch staged in shared
//                         memory (each input element read from global memory once per tile, not R·S times).
//   global_pool_naive     one thread per (n, c) plane.
//   global_pool_v1_warp   one warp per plane, lanes striding over H·W, a shuffle butterfly to finish.
// Semantics are FastConv.Cpu Reference.MaxPool2d / AvgPool2d: padding never wins a max; an average divides by
// the real elements, or with count_include_pad by the window clipped to the padded input. NaN as the reference:
// a max skips it (`v > m` is false for NaN, so a window of NaN only stays −∞), an average propagates it.
#include "fc_common.cuh"

#define FC_NEG_INF __int_as_float(0xff800000)

// The window of output (p, q) over one plane; `at(h, w)` reads the input (global memory or a staged patch).
template <class Read>
__device__ __forceinline__ float fc_pool_window(const FcPool2dArgs& a, int p, int q, Read at)
{
    const int hs = p * a.strideH - a.padTop, ws = q * a.strideW - a.padLeft;
    if (a.isMax)
    {
        float m = FC_NEG_INF;
        for (int r = 0; r < a.R; r++)
        {
            const int h = hs + r * a.dilH;
            if (h < 0 || h >= a.H) continue;
            for (int s = 0; s < a.S; s++)
            {
                const int w = ws + s * a.dilW;
                if (w < 0 || w >= a.W) continue;
                const float v = at(h, w);
                m = v > m ? v : m; // NaN skipped, as the reference's max (never fmaxf: its order of ±0 differs)
            }
        }
        return m;
    }
    float sum = 0.0f;
    int real = 0, padded = 0;
    for (int r = 0; r < a.R; r++)
    {
        const int h = hs + r;
        const bool rowInPadded = h < a.H + a.padBottom;
        for (int s = 0; s < a.S; s++)
        {
            const int w = ws + s;
            if (rowInPadded && w < a.W + a.padRight) padded++;
            if (h < 0 || h >= a.H || w < 0 || w >= a.W) continue;
            sum += at(h, w);
            real++;
        }
    }
    return sum / (float)(a.countIncludePad ? padded : real);
}

struct FcGlobalRead
{
    const float* plane;
    int W;
    __device__ float operator()(int h, int w) const { return plane[h * W + w]; }
};

// pool2d_naive: any 1-D grid; threads stride over the N·C·P·Q outputs.
extern "C" __global__ void pool2d_naive(FcPool2dArgs a)
{
    const long long total = (long long)a.N * a.C * a.P * a.Q;
    for (long long o = (long long)blockIdx.x * blockDim.x + threadIdx.x; o < total; o += (long long)gridDim.x * blockDim.x)
    {
        const int q = (int)(o % a.Q), p = (int)((o / a.Q) % a.P);
        const long long nc = o / ((long long)a.P * a.Q);
        FcGlobalRead rd{a.x + nc * a.H * a.W, a.W};
        a.y[o] = fc_pool_window(a, p, q, rd);
    }
}
FC_EXPORT(pool2d_naive)

// pool2d_v1_tiled: block (32, 8), grid (ceil(Q/32), ceil(P/8), N·C). Dynamic shared memory, in floats:
//   IH_T·IW_T with IH_T = (8−1)·strideH + (R−1)·dilH + 1, IW_T = (32−1)·strideW + (S−1)·dilW + 1.
// The patch keeps input coordinates, so the same window code decides what is padding.
#define PT_TQ 32
#define PT_TP 8
struct FcPatchRead
{
    const float* patch;
    int h0, w0, IWT;
    __device__ float operator()(int h, int w) const { return patch[(h - h0) * IWT + (w - w0)]; }
};

extern "C" __global__ __launch_bounds__(256) void pool2d_v1_tiled(FcPool2dArgs a)
{
    FC_DYNAMIC_SHARED(float, patch);
    const int IHT = (PT_TP - 1) * a.strideH + (a.R - 1) * a.dilH + 1;
    const int IWT = (PT_TQ - 1) * a.strideW + (a.S - 1) * a.dilW + 1;
    const long long nc = blockIdx.z;
    const int p0 = blockIdx.y * PT_TP, q0 = blockIdx.x * PT_TQ;
    const int h0 = p0 * a.strideH - a.padTop, w0 = q0 * a.strideW - a.padLeft;
    const float* xc = a.x + nc * a.H * a.W;
    const int tid = threadIdx.y * PT_TQ + threadIdx.x;
    for (int i = tid; i < IHT * IWT; i += PT_TP * PT_TQ)
    {
        const int h = h0 + i / IWT, w = w0 + i % IWT;
        // Padding entries are never read (the window skips them); 0 keeps the patch defined.
        patch[i] = (h >= 0 && h < a.H && w >= 0 && w < a.W) ? xc[h * a.W + w] : 0.0f;
    }
    __syncthreads();
    const int p = p0 + threadIdx.y, q = q0 + threadIdx.x;
    if (p < a.P && q < a.Q)
    {
        FcPatchRead rd{patch, h0, w0, IWT};
        a.y[(nc * a.P + p) * a.Q + q] = fc_pool_window(a, p, q, rd);
    }
}
FC_EXPORT(pool2d_v1_tiled)

// global_pool_naive: any 1-D grid; one thread per plane, summing in order.
extern "C" __global__ void global_pool_naive(FcGlobalPoolArgs a)
{
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < a.planes; i += (long long)gridDim.x * blockDim.x)
    {
        const float* x = a.x + (long long)i * a.HW;
        float acc = a.isMax ? FC_NEG_INF : 0.0f;
        for (int j = 0; j < a.HW; j++)
        {
            const float v = x[j];
            acc = a.isMax ? (v > acc ? v : acc) : acc + v;
        }
        a.y[i] = a.isMax ? acc : acc / (float)a.HW;
    }
}
FC_EXPORT(global_pool_naive)

// global_pool_v1_warp: block 256 threads = 8 warps, one plane per warp per pass, grid-stride over planes (the
// launcher caps the grid). The loop bound is the same for every lane of a warp, so the full-mask shuffles are
// reached by all 32 lanes or none. The max skips NaN as the reference does; the butterfly keeps the larger of two
// partial maxima the same way (a NaN partial cannot occur: every partial starts at −∞ and only takes `v > acc`).
extern "C" __global__ __launch_bounds__(256) void global_pool_v1_warp(FcGlobalPoolArgs a)
{
    const int lane = threadIdx.x & 31;
    for (long long plane = (long long)blockIdx.x * 8 + (threadIdx.x >> 5); plane < a.planes; plane += (long long)gridDim.x * 8)
    {
        const float* x = a.x + plane * a.HW;
        float acc = a.isMax ? FC_NEG_INF : 0.0f;
        for (int j = lane; j < a.HW; j += 32)
        {
            const float v = x[j];
            acc = a.isMax ? (v > acc ? v : acc) : acc + v;
        }
        for (int off = 16; off > 0; off >>= 1)
        {
            const float o = fc_shfl_xor(FC_FULL_MASK, acc, off);
            acc = a.isMax ? (o > acc ? o : acc) : acc + o;
        }
        if (lane == 0)
        {
            a.y[plane] = a.isMax ? acc : acc / (float)a.HW;
        }
    }
}
FC_EXPORT(global_pool_v1_warp)
