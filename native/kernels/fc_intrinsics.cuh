// fc_intrinsics.cuh — the one place where FastConv's kernels touch tensor-core, ldmatrix, cp.async and
// warp-shuffle instructions. Under __CUDA_ARCH__ (NVRTC, sm_80 / sm_90) each wrapper is inline PTX; compiled
// as C++ for the emulator (native/emu, FCEMU defined by fcemu_device.h) each calls the emulation, which checks
// what the hardware leaves undefined (masks, partial warps, alignment) and fails the launch loudly.
//
// Instruction semantics follow the PTX ISA (8.x): "Data Movement and Conversion Instructions: cp.async",
// "ldmatrix", "Parallel Synchronization and Communication Instructions: shfl.sync, vote.sync", and
// "Warp Level Matrix Multiply-Accumulate Instructions: mma" with the m16n8k8 .tf32 fragment layouts.
#pragma once

#if !defined(__CUDA_ARCH__) && !defined(FCEMU)
#error "fc_intrinsics.cuh: compile with NVRTC/nvcc for a GPU, or as C++ with native/emu/fcemu_device.h prefix-included"
#endif

#define FC_FULL_MASK 0xffffffffu

// ---- warp shuffles and votes ------------------------------------------------------------------------------
// shfl.sync's c operand packs the segment mask ((32 - width) << 8) and the clamp lane (0x1f; 0 for .up).

__device__ __forceinline__ float fc_shfl_xor(unsigned mask, float v, int laneMask, int width = 32)
{
#if defined(__CUDA_ARCH__)
    float r;
    asm volatile("shfl.sync.bfly.b32 %0, %1, %2, %3, %4;" : "=f"(r) : "f"(v), "r"(laneMask), "r"(((32 - width) << 8) | 0x1f), "r"(mask));
    return r;
#else
    return __uint_as_float(fcemu::shfl(mask, __float_as_uint(v), laneMask, width, 3, "shfl.sync.bfly"));
#endif
}

__device__ __forceinline__ float fc_shfl_down(unsigned mask, float v, int delta, int width = 32)
{
#if defined(__CUDA_ARCH__)
    float r;
    asm volatile("shfl.sync.down.b32 %0, %1, %2, %3, %4;" : "=f"(r) : "f"(v), "r"(delta), "r"(((32 - width) << 8) | 0x1f), "r"(mask));
    return r;
#else
    return __uint_as_float(fcemu::shfl(mask, __float_as_uint(v), delta, width, 2, "shfl.sync.down"));
#endif
}

__device__ __forceinline__ float fc_shfl_idx(unsigned mask, float v, int srcLane, int width = 32)
{
#if defined(__CUDA_ARCH__)
    float r;
    asm volatile("shfl.sync.idx.b32 %0, %1, %2, %3, %4;" : "=f"(r) : "f"(v), "r"(srcLane), "r"(((32 - width) << 8) | 0x1f), "r"(mask));
    return r;
#else
    return __uint_as_float(fcemu::shfl(mask, __float_as_uint(v), srcLane, width, 0, "shfl.sync.idx"));
#endif
}

__device__ __forceinline__ unsigned fc_ballot(unsigned mask, bool pred)
{
#if defined(__CUDA_ARCH__)
    unsigned r;
    asm volatile("{\n\t.reg .pred p;\n\tsetp.ne.u32 p, %1, 0;\n\tvote.sync.ballot.b32 %0, p, %2;\n\t}" : "=r"(r) : "r"((unsigned)pred), "r"(mask));
    return r;
#else
    return fcemu::ballot(mask, pred, "vote.sync.ballot");
#endif
}

__device__ __forceinline__ unsigned fc_lane_id()
{
#if defined(__CUDA_ARCH__)
    unsigned r;
    asm volatile("mov.u32 %0, %%laneid;" : "=r"(r));
    return r;
#else
    return fcemu::lane_id();
#endif
}

// ---- shared-memory addressing ------------------------------------------------------------------------------

#if defined(__CUDA_ARCH__)
// A generic pointer into shared memory as the 32-bit .shared address that ldmatrix and cp.async take.
__device__ __forceinline__ unsigned fc_smem_addr(const void* p)
{
    unsigned r;
    asm("{\n\t.reg .u64 t;\n\tcvta.to.shared.u64 t, %1;\n\tcvt.u32.u64 %0, t;\n\t}" : "=r"(r) : "l"(p));
    return r;
}
#endif

// ---- ldmatrix ---------------------------------------------------------------------------------------------
// ldmatrix.sync.aligned.m8n8.x4.shared.b16: lanes 8i..8i+7 each give the address of one 16-byte row of
// matrix i; lane l receives in r[i] the 32-bit word l%4 of row l/4 of matrix i. With 32-bit (TF32) data a
// "row" is 4 floats, so four 8x4 float blocks load in one instruction.

__device__ __forceinline__ void fc_ldmatrix_x4(unsigned r[4], const void* rowAddr)
{
#if defined(__CUDA_ARCH__)
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(fc_smem_addr(rowAddr)));
#else
    fcemu::ldmatrix(4, rowAddr, r, "ldmatrix.x4");
#endif
}

__device__ __forceinline__ void fc_ldmatrix_x2(unsigned r[2], const void* rowAddr)
{
#if defined(__CUDA_ARCH__)
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];" : "=r"(r[0]), "=r"(r[1]) : "r"(fc_smem_addr(rowAddr)));
#else
    fcemu::ldmatrix(2, rowAddr, r, "ldmatrix.x2");
#endif
}

// ---- TF32 tensor cores --------------------------------------------------------------------------------------

// cvt.rna.tf32.f32: round to a 10-bit mantissa, ties away from zero (the result is a .b32 with the low 13 bits 0).
__device__ __forceinline__ unsigned fc_to_tf32(float x)
{
#if defined(__CUDA_ARCH__)
    unsigned r;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
    return r;
#else
    return __float_as_uint(fcemu::to_tf32(x));
#endif
}

// D = A·B + C, mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32; groupID g = lane>>2, t = lane%4:
// a0 (g, t), a1 (g+8, t), a2 (g, t+4), a3 (g+8, t+4); b0 (k=t, n=g), b1 (k=t+4, n=g);
// c/d0 (g, 2t), c/d1 (g, 2t+1), c/d2 (g+8, 2t), c/d3 (g+8, 2t+1). (Not the f16 order: a1 is row g+8.)
__device__ __forceinline__ void fc_mma_tf32_m16n8k8(float d[4], const unsigned a[4], const unsigned b[2], const float c[4])
{
#if defined(__CUDA_ARCH__)
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%10, %11, %12, %13};"
                 : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
#else
    fcemu::mma_m16n8k8_tf32(d, a, b, c, "mma.sync.m16n8k8");
#endif
}

// ---- cp.async ---------------------------------------------------------------------------------------------
// cp.async.ca.shared.global [dst], [src], 4, src-size: copies src-size bytes (0 or 4) and zero-fills the rest,
// so padding taps of a convolution load as zeros without a branch around the copy.

__device__ __forceinline__ void fc_cp_async4(void* dstShared, const void* src, bool valid)
{
#if defined(__CUDA_ARCH__)
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" ::"r"(fc_smem_addr(dstShared)), "l"(src), "r"(valid ? 4 : 0));
#else
    fcemu::cp_async(dstShared, src, 4, valid ? 4 : 0);
#endif
}

// 16-byte form (.cg: bypasses L1, streams through L2): src-size 0..16 bytes, the rest zero-filled.
__device__ __forceinline__ void fc_cp_async16(void* dstShared, const void* src, int srcBytes)
{
#if defined(__CUDA_ARCH__)
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(fc_smem_addr(dstShared)), "l"(src), "r"(srcBytes));
#else
    fcemu::cp_async(dstShared, src, 16, static_cast<unsigned>(srcBytes));
#endif
}

__device__ __forceinline__ void fc_cp_async_commit()
{
#if defined(__CUDA_ARCH__)
    asm volatile("cp.async.commit_group;" ::);
#else
    fcemu::cp_async_commit();
#endif
}

// Waits until at most N of this thread's committed groups are still in flight (the N most recent).
template <int N> __device__ __forceinline__ void fc_cp_async_wait()
{
#if defined(__CUDA_ARCH__)
    asm volatile("cp.async.wait_group %0;" ::"n"(N));
#else
    fcemu::cp_async_wait(N);
#endif
}
