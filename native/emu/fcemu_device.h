// fcemu_device.h — what a CUDA kernel sees when native/kernels/*.cu is compiled as C++ for the emulator.
//
// The build prefix-includes this header (g++ -x c++ -include fcemu_device.h), so the kernel sources stay
// exactly what NVRTC compiles: they include only native/kernels/fc_*.cuh, and fc_intrinsics.cuh routes each
// tensor-core / ldmatrix / cp.async / shuffle wrapper either to inline PTX (under __CUDA_ARCH__) or to the
// fcemu:: functions declared here.
//
// Execution model (see fcemu.cpp): every GPU thread of a block is a fiber; threads run one at a time, in a
// seeded order, until they reach __syncthreads, a warp collective (shuffle, ballot, ldmatrix, mma.sync) or
// their end. Blocks of a grid run one after another. Shared memory is ordinary static storage (so an
// AddressSanitizer build sees overflows past it), NaN-filled at the start of every block.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#define FCEMU 1

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __align__(n) alignas(n)
// A plain `__shared__ T a[..]` becomes static storage: visible to ASan, shared by every thread of the block
// (blocks run one at a time). FC_SHARED (fc_common.cuh) also registers the array so it is NaN-filled per block.
#define __shared__ static

struct uint3 { unsigned x, y, z; };
struct dim3
{
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) float2 { float x, y; };

namespace fcemu
{
// The state of the running GPU thread; defined in fcemu.cpp.
struct Thread;
struct Launch
{
    uint3 gridDim, blockDim, blockIdx;
};
extern thread_local Thread* current;
extern thread_local const Launch* launch;
uint3 thread_idx();

[[noreturn]] void fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void syncthreads(const char* file, int line);
void* dynamic_shared();
void register_shared(void* p, size_t bytes);
unsigned lane_id();
unsigned warp_id();

// Warp collectives: a rendezvous of the lanes in `mask`, checked (caller in mask, equal masks, every lane of
// the mask arrives at the same operation, none exits or waits at a barrier meanwhile).
uint32_t shfl(unsigned mask, uint32_t v, int srcLane, int width, int mode, const char* site);
unsigned ballot(unsigned mask, bool pred, const char* site);
void ldmatrix(unsigned count, const void* rowAddr, uint32_t* out, const char* site);
void mma_m16n8k8_tf32(float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4], const char* site);

// cp.async: copies queued per thread, performed at wait_group (all but the `keep` most recent groups).
void cp_async(void* dstShared, const void* src, unsigned cpBytes, unsigned srcBytes);
void cp_async_commit();
void cp_async_wait(unsigned keep);

float to_tf32(float x);

// Kernel registry: FC_EXPORT(name) in a .cu file registers name -> a thunk that unpacks cuLaunchKernel's
// void** arguments into the kernel's own parameter types.
using Thunk = void (*)(void* fn, void** params);
struct Registrar
{
    Registrar(const char* name, void* fn, Thunk thunk, unsigned paramCount, const size_t* paramSizes);
};

template <class... A> struct KernelThunk
{
    template <size_t... I> static void call(void (*f)(A...), void** p, std::index_sequence<I...>)
    {
        f(*static_cast<std::remove_cv_t<std::remove_reference_t<A>>*>(p[I])...);
    }
    static void invoke(void* fn, void** p)
    {
        call(reinterpret_cast<void (*)(A...)>(fn), p, std::index_sequence_for<A...>{});
    }
    static constexpr size_t sizes[sizeof...(A) + 1] = {sizeof(A)..., 0};
};
template <class... A> Registrar make_registrar(const char* name, void (*f)(A...))
{
    return Registrar(name, reinterpret_cast<void*>(f), &KernelThunk<A...>::invoke, sizeof...(A), KernelThunk<A...>::sizes);
}
} // namespace fcemu

#define FCEMU_STR2(x) #x
#define FCEMU_STR(x) FCEMU_STR2(x)
#define FCEMU_SITE __FILE__ ":" FCEMU_STR(__LINE__)

#ifndef FCEMU_RUNTIME // the runtime itself (fcemu.cpp) names the Launch fields plainly
#define threadIdx (fcemu::thread_idx())
#define blockIdx (fcemu::launch->blockIdx)
#define blockDim (fcemu::launch->blockDim)
#define gridDim (fcemu::launch->gridDim)
#define warpSize 32
#define __syncthreads() fcemu::syncthreads(__FILE__, __LINE__)
#endif

// The CUDA built-ins our kernels use that C++ lacks.
inline float __int_as_float(int v) { float f; std::memcpy(&f, &v, 4); return f; }
inline int __float_as_int(float f) { int v; std::memcpy(&v, &f, 4); return v; }
inline float __uint_as_float(unsigned v) { float f; std::memcpy(&f, &v, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned v; std::memcpy(&v, &f, 4); return v; }
inline float __expf(float x) { return std::exp(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
// expf, tanhf, fmaxf, fminf, fmaf, sqrtf, fabsf: glibc's <math.h> (pulled in by <cmath>) declares them globally.

// Atomics: threads never run concurrently in the emulator, so a plain read-modify-write is atomic.
inline float atomicAdd(float* p, float v) { float o = *p; *p = o + v; return o; }
inline int atomicAdd(int* p, int v) { int o = *p; *p = o + v; return o; }
inline unsigned atomicAdd(unsigned* p, unsigned v) { unsigned o = *p; *p = o + v; return o; }
inline int atomicMax(int* p, int v) { int o = *p; *p = o > v ? o : v; return o; }
inline int atomicMin(int* p, int v) { int o = *p; *p = o < v ? o : v; return o; }
inline int atomicExch(int* p, int v) { int o = *p; *p = v; return o; }
inline float atomicExch(float* p, float v) { float o = *p; *p = v; return o; }
inline int atomicCAS(int* p, int cmp, int v) { int o = *p; if (o == cmp) *p = v; return o; }
inline unsigned atomicCAS(unsigned* p, unsigned cmp, unsigned v) { unsigned o = *p; if (o == cmp) *p = v; return o; }
inline void __threadfence() {}
inline void __threadfence_block() {}
