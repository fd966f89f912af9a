// conv2d.cu — 2-D convolution (NCHW, groups, stride, dilation, asymmetric padding) with the fused epilogue
// (bias, folded batch-norm, residual add, activation; fc_conv_store in fc_common.cuh).
//
// Variants (the managed planner picks one per shape; every one is checked against conv2d_naive and the CPU
// reference by `fastconv check` on the emulator):
//   conv2d_naive            one thread per output element; the GPU-side reference.
//   conv2d_v1_depthwise     C/groups == 1 (depthwise, channel multiplier K/groups): a 8×32 output tile per
//                           block with its input patch and the filter staged in shared memory.
//   conv2d_v2_direct        small C/groups (the stem's C = 3, grouped convs): one thread per output pixel
//                           accumulating 8 output channels, whose filters sit in shared memory.
//   conv2d_v3_igemm_fp32    implicit GEMM on CUDA cores in FP32 (what BackendOptions.Exact keeps).
//   conv2d_v4_igemm_tf32    implicit GEMM on tensor cores (TF32 mma.sync.m16n8k8), 3-stage cp.async pipeline.
//
// Implicit GEMM (v3, v4) views the convolution of one group g as a GEMM without materializing im2col:
//   GEMM_M = N·P·Q   (row m = output pixel (n, p, q), m = (n·P + p)·Q + q)
//   GEMM_N = K/groups (column = output channel k of the group)
//   GEMM_K = (C/groups)·R·S (reduction index = (c, r, s), c-major, which is the weights' own K×(C/g)×R×S order)
//   A[m][kk] = x[n, g·C/groups + c, p·strideH − padTop + r·dilH, q·strideW − padLeft + s·dilW] (0 outside),
//   B[kk][k] = w[g·K/groups + k, c, r, s]; y[n, g·K/groups + k, p, q] = epilogue(Σ_kk A·B).
// gridDim.z runs over the groups. Addresses use the "analytic" form (div/mod per element of a tile); a
// precomputed delta table (CUTLASS's "optimized" iterators) is the next step on a GPU.
#include "fc_common.cuh"

// ---------------------------------------------------------------------------------------------------------
// conv2d_naive: launch with any 1-D grid; threads stride over the N·K·P·Q outputs.
extern "C" __global__ void conv2d_naive(FcConv2dArgs a)
{
    const int Cg = a.C / a.groups, Kg = a.K / a.groups;
    const long long total = (long long)a.N * a.K * a.P * a.Q;
    for (long long o = (long long)blockIdx.x * blockDim.x + threadIdx.x; o < total; o += (long long)gridDim.x * blockDim.x)
    {
        const int q = (int)(o % a.Q);
        const int p = (int)((o / a.Q) % a.P);
        const int k = (int)((o / ((long long)a.Q * a.P)) % a.K);
        const int n = (int)(o / ((long long)a.Q * a.P * a.K));
        const int g = k / Kg;
        float acc = 0.0f;
        for (int c = 0; c < Cg; c++)
        {
            const float* xc = a.x + ((long long)n * a.C + g * Cg + c) * a.H * a.W;
            const float* wc = a.w + ((long long)k * Cg + c) * a.R * a.S;
            for (int r = 0; r < a.R; r++)
            {
                const int h = p * a.strideH - a.padTop + r * a.dilH;
                if (h < 0 || h >= a.H) continue;
                for (int s = 0; s < a.S; s++)
                {
                    const int w = q * a.strideW - a.padLeft + s * a.dilW;
                    if (w < 0 || w >= a.W) continue;
                    acc += xc[h * a.W + w] * wc[r * a.S + s];
                }
            }
        }
        fc_conv_store(a, acc, k, o);
    }
}
FC_EXPORT(conv2d_naive)

// ---------------------------------------------------------------------------------------------------------
// conv2d_v1_depthwise: C/groups == 1. Block (32, 8) = one 8×32 tile of outputs of one (n, k) plane;
// grid (ceil(Q/32), ceil(P/8), N·K). Dynamic shared memory, in floats:
//   IH_T·IW_T + R·S with IH_T = (8−1)·strideH + (R−1)·dilH + 1 and IW_T = (32−1)·strideW + (S−1)·dilW + 1
// (the input patch the tile reads, padding stored as zeros, then the filter). 32 threads along Q make the
// patch loads and output stores coalesced; each input element is read from global memory once per tile
// instead of R·S times.
#define DW_TQ 32
#define DW_TP 8
extern "C" __global__ __launch_bounds__(256) void conv2d_v1_depthwise(FcConv2dArgs a)
{
    FC_DYNAMIC_SHARED(float, smem);
    const int IHT = (DW_TP - 1) * a.strideH + (a.R - 1) * a.dilH + 1;
    const int IWT = (DW_TQ - 1) * a.strideW + (a.S - 1) * a.dilW + 1;
    float* patch = smem;
    float* filt = smem + IHT * IWT;
    const int nk = blockIdx.z;
    const int n = nk / a.K, k = nk % a.K;
    const int c = k / (a.K / a.groups); // the one input channel of output channel k
    const int p0 = blockIdx.y * DW_TP, q0 = blockIdx.x * DW_TQ;
    const int tid = threadIdx.y * DW_TQ + threadIdx.x;
    const float* xc = a.x + ((long long)n * a.C + c) * a.H * a.W;
    const int h0 = p0 * a.strideH - a.padTop, w0 = q0 * a.strideW - a.padLeft;
    for (int i = tid; i < IHT * IWT; i += DW_TP * DW_TQ)
    {
        const int h = h0 + i / IWT, w = w0 + i % IWT;
        patch[i] = (h >= 0 && h < a.H && w >= 0 && w < a.W) ? xc[h * a.W + w] : 0.0f;
    }
    for (int i = tid; i < a.R * a.S; i += DW_TP * DW_TQ)
    {
        filt[i] = a.w[(long long)k * a.R * a.S + i];
    }
    __syncthreads();
    const int p = p0 + threadIdx.y, q = q0 + threadIdx.x;
    if (p < a.P && q < a.Q)
    {
        float acc = 0.0f;
        const float* row = patch + threadIdx.y * a.strideH * IWT + threadIdx.x * a.strideW;
        for (int r = 0; r < a.R; r++)
        {
            for (int s = 0; s < a.S; s++)
            {
                acc += row[r * a.dilH * IWT + s * a.dilW] * filt[r * a.S + s];
            }
        }
        fc_conv_store(a, acc, k, (((long long)n * a.K + k) * a.P + p) * a.Q + q);
    }
}
FC_EXPORT(conv2d_v1_depthwise)

// ---------------------------------------------------------------------------------------------------------
// conv2d_v2_direct: small C/groups. Block 128 threads, one output pixel m = (n, p, q) each; blockIdx.y picks
// 8 output channels k0..k0+7 whose filters (8·(C/groups)·R·S floats = the dynamic shared bytes / 4) are
// staged in shared memory. Each input value loaded feeds 8 accumulators when the 8 channels share a group.
#define DIRECT_KB 8
extern "C" __global__ __launch_bounds__(128) void conv2d_v2_direct(FcConv2dArgs a)
{
    FC_DYNAMIC_SHARED(float, ws);
    const int Cg = a.C / a.groups, Kg = a.K / a.groups;
    const int CRS = Cg * a.R * a.S;
    const int k0 = blockIdx.y * DIRECT_KB;
    const int kn = min(DIRECT_KB, a.K - k0);
    for (int i = threadIdx.x; i < DIRECT_KB * CRS; i += blockDim.x)
    {
        const int kk = i / CRS;
        ws[i] = kk < kn ? a.w[(long long)(k0 + kk) * CRS + i % CRS] : 0.0f;
    }
    __syncthreads();
    const int PQ = a.P * a.Q;
    const long long m = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (m >= (long long)a.N * PQ) return; // after the only barrier
    const int n = (int)(m / PQ), pq = (int)(m % PQ), p = pq / a.Q, q = pq % a.Q;
    const int h0 = p * a.strideH - a.padTop, w0 = q * a.strideW - a.padLeft;
    float acc[DIRECT_KB];
    for (int kk = 0; kk < DIRECT_KB; kk++) acc[kk] = 0.0f;
    const int gFirst = k0 / Kg, gLast = (k0 + kn - 1) / Kg;
    if (gFirst == gLast)
    {
        const float* xg = a.x + ((long long)n * a.C + gFirst * Cg) * a.H * a.W;
        for (int c = 0; c < Cg; c++)
        {
            for (int r = 0; r < a.R; r++)
            {
                const int h = h0 + r * a.dilH;
                if (h < 0 || h >= a.H) continue;
                for (int s = 0; s < a.S; s++)
                {
                    const int w = w0 + s * a.dilW;
                    if (w < 0 || w >= a.W) continue;
                    const float v = xg[((long long)c * a.H + h) * a.W + w];
                    const int t = (c * a.R + r) * a.S + s;
                    for (int kk = 0; kk < DIRECT_KB; kk++) acc[kk] += v * ws[kk * CRS + t];
                }
            }
        }
    }
    else
    {
        // The 8 channels straddle a group boundary: each reads its own group's input channels.
        for (int kk = 0; kk < kn; kk++)
        {
            const float* xg = a.x + ((long long)n * a.C + ((k0 + kk) / Kg) * Cg) * a.H * a.W;
            for (int c = 0; c < Cg; c++)
            {
                for (int r = 0; r < a.R; r++)
                {
                    const int h = h0 + r * a.dilH;
                    if (h < 0 || h >= a.H) continue;
                    for (int s = 0; s < a.S; s++)
                    {
                        const int w = w0 + s * a.dilW;
                        if (w < 0 || w >= a.W) continue;
                        acc[kk] += xg[((long long)c * a.H + h) * a.W + w] * ws[kk * CRS + (c * a.R + r) * a.S + s];
                    }
                }
            }
        }
    }
    for (int kk = 0; kk < kn; kk++)
    {
        fc_conv_store(a, acc[kk], k0 + kk, ((long long)n * a.K + k0 + kk) * PQ + pq);
    }
}
FC_EXPORT(conv2d_v2_direct)

// ---------------------------------------------------------------------------------------------------------
// The im2col element A[m][kk] of group g for the pixel whose top-left input corner is (h0, w0) in image
// plane base xg (= x + (n·C + g·C/groups)·H·W); 0 for padding taps and for kk ≥ GEMM_K.
__device__ __forceinline__ const float* fc_im2col_src(const FcConv2dArgs& a, const float* xg, int h0, int w0, int kidx, int RS, int CRS, bool mValid)
{
    if (!mValid || kidx >= CRS) return nullptr;
    const int c = kidx / RS, rs = kidx - c * RS;
    const int r = rs / a.S, s = rs - r * a.S;
    const int h = h0 + r * a.dilH, w = w0 + s * a.dilW;
    if (h < 0 || h >= a.H || w < 0 || w >= a.W) return nullptr;
    return xg + ((long long)c * a.H + h) * a.W + w;
}

// ---------------------------------------------------------------------------------------------------------
// conv2d_v3_igemm_fp32: block tile 64 (M) × 64 (N) × 8 (GEMM_K), 256 threads, 4×4 outputs per thread.
// grid (ceil(N·P·Q/64), ceil((K/groups)/64), groups), no dynamic shared memory.
// Why: 64×64 with 4×4 per thread gives 16 FMAs per 8 shared loads (2 float4-able rows of 4), enough to keep
// CUDA cores busy at 2 blocks per SM; BK = 8 keeps the two shared stages at 8 KiB so occupancy is set by
// registers, not shared memory. The next tile is loaded to registers while the current one is multiplied
// (double buffering with one barrier per K step). Threads along M (tm) store consecutive q: coalesced.
#define V3_BM 64
#define V3_BN 64
#define V3_BK 8
extern "C" __global__ __launch_bounds__(256) void conv2d_v3_igemm_fp32(FcConv2dArgs a)
{
    FC_SHARED(float, As, [2][V3_BK][V3_BM]);
    FC_SHARED(float, Bs, [2][V3_BK][V3_BN]);
    const int Cg = a.C / a.groups, Kg = a.K / a.groups;
    const int RS = a.R * a.S, CRS = Cg * RS, PQ = a.P * a.Q;
    const long long M = (long long)a.N * PQ;
    const int g = blockIdx.z;
    const long long m0 = (long long)blockIdx.x * V3_BM;
    const int n0 = blockIdx.y * V3_BN;
    const int tid = threadIdx.x;

    // Loader: thread loads A[m0 + lm][kt·8 + lk and lk + 4] and B[kt·8 + lk and lk + 4][n0 + lm].
    const int lm = tid & 63, lk = tid >> 6;
    const long long am = m0 + lm;
    const bool mValid = am < M;
    const int an = mValid ? (int)(am / PQ) : 0, apq = mValid ? (int)(am % PQ) : 0;
    const int h0 = (apq / a.Q) * a.strideH - a.padTop, w0 = (apq % a.Q) * a.strideW - a.padLeft;
    const float* xg = a.x + ((long long)an * a.C + (long long)g * Cg) * a.H * a.W;
    const bool nValid = n0 + lm < Kg;
    const float* wrow = a.w + (long long)(g * Kg + (nValid ? n0 + lm : 0)) * CRS;

    float ra[2], rb[2];
    const int kTiles = fc_ceil_div(CRS, V3_BK);
    for (int j = 0; j < 2; j++)
    {
        const int kidx = lk + 4 * j;
        const float* src = fc_im2col_src(a, xg, h0, w0, kidx, RS, CRS, mValid);
        ra[j] = src != nullptr ? *src : 0.0f;
        rb[j] = (nValid && kidx < CRS) ? wrow[kidx] : 0.0f;
    }
    for (int j = 0; j < 2; j++)
    {
        As[0][lk + 4 * j][lm] = ra[j];
        Bs[0][lk + 4 * j][lm] = rb[j];
    }
    __syncthreads();

    const int tm = tid & 15, tn = tid >> 4;
    float acc[4][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) acc[i][j] = 0.0f;

    for (int kt = 0; kt < kTiles; kt++)
    {
        const int cur = kt & 1;
        const bool more = kt + 1 < kTiles;
        if (more)
        {
            for (int j = 0; j < 2; j++)
            {
                const int kidx = (kt + 1) * V3_BK + lk + 4 * j;
                const float* src = fc_im2col_src(a, xg, h0, w0, kidx, RS, CRS, mValid);
                ra[j] = src != nullptr ? *src : 0.0f;
                rb[j] = (nValid && kidx < CRS) ? wrow[kidx] : 0.0f;
            }
        }
        for (int kk = 0; kk < V3_BK; kk++)
        {
            float av[4], bv[4];
            for (int i = 0; i < 4; i++) av[i] = As[cur][kk][tm * 4 + i];
            for (int j = 0; j < 4; j++) bv[j] = Bs[cur][kk][tn * 4 + j];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) acc[i][j] += av[i] * bv[j];
        }
        if (more)
        {
            // Stage cur^1 was last read in iteration kt−1, which every thread finished at its closing barrier.
            for (int j = 0; j < 2; j++)
            {
                As[cur ^ 1][lk + 4 * j][lm] = ra[j];
                Bs[cur ^ 1][lk + 4 * j][lm] = rb[j];
            }
        }
        __syncthreads();
    }

    for (int i = 0; i < 4; i++)
    {
        const long long m = m0 + tm * 4 + i;
        if (m >= M) continue;
        const int n = (int)(m / PQ), pq = (int)(m % PQ);
        for (int j = 0; j < 4; j++)
        {
            const int kl = n0 + tn * 4 + j;
            if (kl >= Kg) continue;
            const int k = g * Kg + kl;
            fc_conv_store(a, acc[i][j], k, ((long long)n * a.K + k) * PQ + pq);
        }
    }
}
FC_EXPORT(conv2d_v3_igemm_fp32)

// ---------------------------------------------------------------------------------------------------------
// conv2d_v4_igemm_tf32: tensor cores, mma.sync.aligned.m16n8k8 .tf32 with fp32 accumulation.
// Block tile 64 (M) × 64 (N) × 16 (GEMM_K), 128 threads = 4 warps in a 2×2 arrangement, each warp 32×32 =
// 2 (m16) × 4 (n8) mma tiles, 2 k8 steps per K tile; grid (ceil(N·P·Q/64), ceil((K/groups)/64), groups).
// Tile choices and reasons:
//   * 3 stages of cp.async (STAGES−1 = 2 tiles in flight while one is multiplied): hides global latency
//     without registers for staging; 3 × (64 + 64) × 20 floats = 30 KiB of static shared memory, under the
//     48 KiB static limit, so no opt-in attribute is needed and two blocks fit per SM on sm_80/sm_90.
//   * Rows of BK + 4 = 20 floats (80 bytes): 16-byte aligned as ldmatrix requires, and the 8 row addresses of
//     one 8×4 ldmatrix block (rows 20 words apart) fall in 8 distinct groups of 4 banks: conflict-free. The
//     same stride makes the B fragment loads Bs[n = g][k = t] conflict-free.
//   * A is stored [m][k] (k contiguous) so one ldmatrix.x4 yields a0..a3 of an m16k8 tile: matrix 0 = rows
//     0–7 × k 0–3 → a0 (g, t); matrix 1 = rows 8–15 → a1 (g+8, t); matrix 2 = k 4–7 → a2 (g, t+4); matrix 3 → a3.
//   * Loads are 4-byte cp.async with zero-fill (src-size 0) for padding taps and ragged edges: NCHW input is
//     contiguous along m (q), not along GEMM_K, so 16-byte vectors along k do not exist for A; 64 threads on
//     consecutive m read consecutive addresses, which is coalesced.
//   * Inputs are rounded to TF32 with cvt.rna (round to nearest) rather than truncated by the mma, halving
//     the representation error; error bound used by the checks: |Σ| · 2·2⁻¹¹ + the fp32 accumulation term.
#define TC_BM 64
#define TC_BN 64
#define TC_BK 16
#define TC_STAGES 3
#define TC_LD (TC_BK + 4)

__device__ __forceinline__ void tc_load_tile(const FcConv2dArgs& a, float (*As)[TC_LD], float (*Bs)[TC_LD], int kt, int tid, int lm,
                                             const float* xg, int h0, int w0, bool mValid, const float* wrow, bool nValid, int RS, int CRS)
{
    const int k0 = kt * TC_BK;
    for (int j = 0; j < 8; j++)
    {
        const int kk = (tid >> 6) + 2 * j;
        const float* src = fc_im2col_src(a, xg, h0, w0, k0 + kk, RS, CRS, mValid);
        fc_cp_async4(&As[lm][kk], src != nullptr ? src : a.x, src != nullptr);
    }
    const int bn = tid >> 1;
    for (int j = 0; j < 8; j++)
    {
        const int kk = (tid & 1) * 8 + j;
        const bool valid = nValid && k0 + kk < CRS;
        fc_cp_async4(&Bs[bn][kk], valid ? wrow + k0 + kk : a.w, valid);
    }
}

extern "C" __global__ __launch_bounds__(128) void conv2d_v4_igemm_tf32(FcConv2dArgs a)
{
    FC_SHARED(float, As, [TC_STAGES][TC_BM][TC_LD]);
    FC_SHARED(float, Bs, [TC_STAGES][TC_BN][TC_LD]);
    const int Cg = a.C / a.groups, Kg = a.K / a.groups;
    const int RS = a.R * a.S, CRS = Cg * RS, PQ = a.P * a.Q;
    const long long M = (long long)a.N * PQ;
    const int g = blockIdx.z;
    const long long m0 = (long long)blockIdx.x * TC_BM;
    const int n0 = blockIdx.y * TC_BN;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int warpM = warp & 1, warpN = warp >> 1;
    const int gid = lane >> 2, tig = lane & 3;

    // A loader row (pixel) of this thread, fixed for the whole K loop; B loader row (output channel).
    const int lm = tid & 63;
    const long long am = m0 + lm;
    const bool mValid = am < M;
    const int an = mValid ? (int)(am / PQ) : 0, apq = mValid ? (int)(am % PQ) : 0;
    const int h0 = (apq / a.Q) * a.strideH - a.padTop, w0 = (apq % a.Q) * a.strideW - a.padLeft;
    const float* xg = a.x + ((long long)an * a.C + (long long)g * Cg) * a.H * a.W;
    const int bnl = tid >> 1;
    const bool nValid = n0 + bnl < Kg;
    const float* wrow = a.w + (long long)(g * Kg + (nValid ? n0 + bnl : 0)) * CRS;

    const int kTiles = fc_ceil_div(CRS, TC_BK);
    for (int s = 0; s < TC_STAGES - 1; s++)
    {
        if (s < kTiles) tc_load_tile(a, As[s], Bs[s], s, tid, lm, xg, h0, w0, mValid, wrow, nValid, RS, CRS);
        fc_cp_async_commit(); // one group per stage, empty or not, so wait_group counts stay aligned with tiles
    }

    float acc[2][4][4];
    for (int mi = 0; mi < 2; mi++)
        for (int ni = 0; ni < 4; ni++)
            for (int i = 0; i < 4; i++) acc[mi][ni][i] = 0.0f;

    for (int kt = 0; kt < kTiles; kt++)
    {
        fc_cp_async_wait<TC_STAGES - 2>(); // this thread's copies of tile kt have landed ...
        __syncthreads();                  // ... and everyone's; also every warp is done with tile kt−1's stage
        const int nt = kt + TC_STAGES - 1;
        if (nt < kTiles) tc_load_tile(a, As[nt % TC_STAGES], Bs[nt % TC_STAGES], nt, tid, lm, xg, h0, w0, mValid, wrow, nValid, RS, CRS);
        fc_cp_async_commit();
        const int st = kt % TC_STAGES;
        for (int ks = 0; ks < TC_BK / 8; ks++)
        {
            unsigned af[2][4], bf[4][2];
            for (int mi = 0; mi < 2; mi++)
            {
                const int row = warpM * 32 + mi * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
                const int col = ks * 8 + (lane >> 4) * 4;
                fc_ldmatrix_x4(af[mi], &As[st][row][col]);
                for (int i = 0; i < 4; i++) af[mi][i] = fc_to_tf32(__uint_as_float(af[mi][i]));
            }
            for (int ni = 0; ni < 4; ni++)
            {
                const int n = warpN * 32 + ni * 8 + gid;
                bf[ni][0] = fc_to_tf32(Bs[st][n][ks * 8 + tig]);
                bf[ni][1] = fc_to_tf32(Bs[st][n][ks * 8 + tig + 4]);
            }
            for (int mi = 0; mi < 2; mi++)
                for (int ni = 0; ni < 4; ni++) fc_mma_tf32_m16n8k8(acc[mi][ni], af[mi], bf[ni], acc[mi][ni]);
        }
    }
    fc_cp_async_wait<0>();

    for (int mi = 0; mi < 2; mi++)
    {
        for (int ni = 0; ni < 4; ni++)
        {
            for (int i = 0; i < 4; i++)
            {
                const long long m = m0 + warpM * 32 + mi * 16 + gid + (i >> 1) * 8;
                const int kl = n0 + warpN * 32 + ni * 8 + tig * 2 + (i & 1);
                if (m >= M || kl >= Kg) continue;
                const int n = (int)(m / PQ), pq = (int)(m % PQ);
                const int k = g * Kg + kl;
                fc_conv_store(a, acc[mi][ni][i], k, ((long long)n * a.K + k) * PQ + pq);
            }
        }
    }
}
FC_EXPORT(conv2d_v4_igemm_tf32)
