// fc_common.cuh — what every FastConv kernel shares: the argument structs (passed by value as the kernel's
// single parameter; the managed side mirrors each with a [StructLayout(Sequential)] struct of the same
// fields in the same order: pointers first, then 32-bit fields, so no padding depends on the compiler),
// the activations and the fused convolution epilogue, and the macros that make one source serve NVRTC and
// the emulator.
#pragma once

#include "fc_intrinsics.cuh"

// ---- one source, two compilers -----------------------------------------------------------------------------
#if defined(__CUDA_ARCH__)
// Static shared memory.
#define FC_SHARED(type, name, dims) __shared__ __align__(16) type name dims
// Dynamic shared memory (the launch's sharedBytes), 16-byte aligned for cp.async.cg and ldmatrix.
#define FC_DYNAMIC_SHARED(type, name) extern __shared__ __align__(16) unsigned char fc_dynamic_smem_[]; type* name = reinterpret_cast<type*>(fc_dynamic_smem_)
// Registers a kernel with the emulator; nothing for NVRTC (the driver finds extern "C" names itself).
#define FC_EXPORT(name)
#else
#define FC_SHARED(type, name, dims) alignas(16) static type name dims; fcemu::register_shared(name, sizeof(name))
#define FC_DYNAMIC_SHARED(type, name) type* name = reinterpret_cast<type*>(fcemu::dynamic_shared())
#define FC_EXPORT(name) static const fcemu::Registrar fcemu_registrar_##name = fcemu::make_registrar(#name, &name);
#endif

// ---- activations (FastConv.Backends.ActivationKind, same numbering) -------------------------------------------
#define FC_ACT_NONE 0
#define FC_ACT_RELU 1
#define FC_ACT_LEAKY_RELU 2   // x >= 0 ? x : alpha*x
#define FC_ACT_CLIP 3         // min(max(x, alpha), beta); Relu6 = Clip(0, 6)
#define FC_ACT_SIGMOID 4
#define FC_ACT_TANH 5
#define FC_ACT_HARD_SIGMOID 6 // max(0, min(1, alpha*x + beta))
#define FC_ACT_HARD_SWISH 7   // x * max(0, min(1, x/6 + 1/2))
#define FC_ACT_SWISH 8        // x * sigmoid(alpha*x); SiLU is alpha = 1

// NaN in gives NaN out for every kind (as the reference): comparisons are written so a NaN falls through.
__device__ __forceinline__ float fc_activate(float z, int act, float alpha, float beta)
{
    switch (act)
    {
        case FC_ACT_RELU: return z < 0.0f ? 0.0f : z;
        case FC_ACT_LEAKY_RELU: return z < 0.0f ? alpha * z : z;
        case FC_ACT_CLIP: return z < alpha ? alpha : (z > beta ? beta : z);
        case FC_ACT_SIGMOID: return 1.0f / (1.0f + expf(-z));
        case FC_ACT_TANH: return tanhf(z);
        case FC_ACT_HARD_SIGMOID:
        {
            float v = alpha * z + beta;
            return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
        }
        case FC_ACT_HARD_SWISH:
        {
            float v = z / 6.0f + 0.5f;
            return z * (v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v));
        }
        case FC_ACT_SWISH: return z / (1.0f + expf(-alpha * z));
        default: return z;
    }
}

// ---- convolution --------------------------------------------------------------------------------------------
// Letters: input N×C×H×W (NCHW), weights K×(C/groups)×R×S, output N×K×P×Q.
struct FcConv2dArgs
{
    const float* x;        // N×C×H×W
    const float* w;        // K×(C/groups)×R×S
    const float* bias;     // [K] or null
    const float* scale;    // [K] or null: folded batch-norm multiplier
    const float* shift;    // [K] or null: folded batch-norm offset
    const float* residual; // N×K×P×Q or null: added before the activation
    float* y;              // N×K×P×Q
    int N, C, H, W, K, R, S, P, Q;
    int strideH, strideW, padTop, padLeft, dilH, dilW, groups;
    int act;
    float alpha, beta;
    int reserved;
};

// The fused epilogue, in the order of FastConv.Backends.ConvEpilogue: z = acc + bias[k]; z = scale[k]·z + shift[k];
// z += residual; y = act(z). `o` is the NCHW index of output (n, k, p, q).
__device__ __forceinline__ void fc_conv_store(const FcConv2dArgs& a, float acc, int k, long long o)
{
    float z = acc;
    if (a.bias != nullptr) z += a.bias[k];
    if (a.scale != nullptr) z = a.scale[k] * z;
    if (a.shift != nullptr) z += a.shift[k];
    if (a.residual != nullptr) z += a.residual[o];
    a.y[o] = fc_activate(z, a.act, a.alpha, a.beta);
}

// ---- the other ops' arguments ----------------------------------------------------------------------------
struct FcPool2dArgs
{
    const float* x; // N×C×H×W
    float* y;       // N×C×P×Q
    int N, C, H, W, P, Q, R, S;
    int strideH, strideW, padTop, padLeft, padBottom, padRight, dilH, dilW;
    int isMax, countIncludePad;
};

struct FcGlobalPoolArgs
{
    const float* x; // planes × HW
    float* y;       // planes
    int planes, HW, isMax, reserved;
};

struct FcActivationArgs
{
    const float* x;   // count
    float* y;         // count
    long long count;  // 64-bit: an activation over more than 2^31 - 1 elements (8 GiB of fp32) is a real tensor on an 80 GiB GPU
    int act;
    float alpha, beta;
    int reserved;
};

struct FcSoftmaxArgs
{
    const float* x;
    float* y;
    int outer, len, inner, reserved;
};

struct FcGemmArgs
{
    const float* A;
    const float* B;
    const float* C; // or null
    float* Y;       // M×N
    int M, N, Kd, transA, transB, cStrideM, cStrideN;
    float alpha, beta;
    int reserved;
};

// ---- support.cu: what the library backends (cublas, cudnn) need beside the library ------------------------------
struct FcIm2colArgs
{
    const float* x; // N×C×H×W
    float* col;     // N×(C·R·S)×(P·Q): row (c, r, s), column (p, q); zero where a tap falls in the padding
    int N, C, H, W, R, S, P, Q;
    int strideH, strideW, padTop, padLeft, dilH, dilW;
};

struct FcPadInputArgs
{
    const float* x; // NC×H×W
    float* xp;      // NC×Hp×Wp: x at (padTop, padLeft), zeros around it
    int NC, H, W, padTop, padLeft, Hp, Wp, reserved;
};

struct FcBroadcastArgs
{
    const float* c; // C, read at m·cStrideM + n·cStrideN (a stride is 0 along a broadcast axis)
    float* y;       // M×N
    int M, N, cStrideM, cStrideN;
};

// The managed mirrors (src/FastConv.Gpu/FcKernels/KernelArgs.cs) assume these sizes; KernelArgsLayoutTests checks theirs.
static_assert(sizeof(FcConv2dArgs) == 136, "FcConv2dArgs layout changed: update KernelArgs.cs");
static_assert(sizeof(FcPool2dArgs) == 88, "FcPool2dArgs layout changed: update KernelArgs.cs");
static_assert(sizeof(FcGlobalPoolArgs) == 32, "FcGlobalPoolArgs layout changed: update KernelArgs.cs");
static_assert(sizeof(FcActivationArgs) == 40, "FcActivationArgs layout changed: update KernelArgs.cs");
static_assert(sizeof(FcSoftmaxArgs) == 32, "FcSoftmaxArgs layout changed: update KernelArgs.cs");
static_assert(sizeof(FcGemmArgs) == 72, "FcGemmArgs layout changed: update KernelArgs.cs");
static_assert(sizeof(FcIm2colArgs) == 72, "FcIm2colArgs layout changed: update KernelArgs.cs");
static_assert(sizeof(FcPadInputArgs) == 48, "FcPadInputArgs layout changed: update KernelArgs.cs");
static_assert(sizeof(FcBroadcastArgs) == 32, "FcBroadcastArgs layout changed: update KernelArgs.cs");

__device__ __forceinline__ int fc_ceil_div(int a, int b) { return (a + b - 1) / b; }
