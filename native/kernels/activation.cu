// activation.cu — element-wise activations (FC_ACT_* in fc_common.cuh, the numbering of
// FastConv.Backends.ActivationKind); in place (x == y) is allowed.
//
// Variants:
//   activation_naive   one element per thread, grid-stride; the GPU-side reference.
//   activation_v1_vec4 four elements per thread through 16-byte loads and stores (x and y 16-byte aligned,
//                      which device allocations are; the planner checks), the count % 4 tail by the first threads.
// Memory-bound: one read and one write per element, so 16-byte accesses are what moves it toward HBM speed.
#include "fc_common.cuh"

// Both variants are grid-stride loops over a 64-bit count: the launcher caps the grid (4096 blocks fill any GPU
// several times over), so one launch covers any length.
extern "C" __global__ void activation_naive(FcActivationArgs a)
{
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < a.count; i += (long long)gridDim.x * blockDim.x)
    {
        a.y[i] = fc_activate(a.x[i], a.act, a.alpha, a.beta);
    }
}
FC_EXPORT(activation_naive)

extern "C" __global__ void activation_v1_vec4(FcActivationArgs a)
{
    const long long n4 = a.count >> 2;
    const float4* x4 = reinterpret_cast<const float4*>(a.x);
    float4* y4 = reinterpret_cast<float4*>(a.y);
    const long long stride = (long long)gridDim.x * blockDim.x;
    const long long first = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    for (long long i = first; i < n4; i += stride)
    {
        float4 v = x4[i];
        v.x = fc_activate(v.x, a.act, a.alpha, a.beta);
        v.y = fc_activate(v.y, a.act, a.alpha, a.beta);
        v.z = fc_activate(v.z, a.act, a.alpha, a.beta);
        v.w = fc_activate(v.w, a.act, a.alpha, a.beta);
        y4[i] = v;
    }
    const long long tail = (n4 << 2) + first;
    if (tail < a.count)
    {
        a.y[tail] = fc_activate(a.x[tail], a.act, a.alpha, a.beta);
    }
}
FC_EXPORT(activation_v1_vec4)
