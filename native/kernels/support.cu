// support.cu — what the library backends (cublas, cudnn) need beside cuBLAS and cuDNN themselves; everything else
// they run outside the library (activations, pooling, global pooling, softmax) is the kernels of activation.cu,
// pool2d.cu and softmax.cu, the same ones the cuda backend runs, so one set of kernels carries the reference's
// semantics (NaN included) and is emulated and checked in every CI run.
//
//   conv2d_im2col      x → the col matrix of im2col + SGEMM (cublas): [N][C·R·S][P·Q], zero in the padding.
//   conv2d_pad_input   x → a zero-padded copy, for asymmetric padding cuDNN's descriptor cannot hold (cudnn).
//   conv2d_epilogue    y ← epilogue(y) in place after a library convolution: bias, folded batch-norm, residual,
//                      activation, through fc_conv_store — the fused epilogue of every conv2d.cu kernel.
//   gemm_broadcast_c   y ← C broadcast to M×N, before cuBLAS adds α·op(A)·op(B) with β (cublas, cudnn Gemm).
//
// Data movement only (the epilogue adds a few flops per element): one element per thread, grid-stride over a
// 64-bit index, so the launcher may cap the grid. Bandwidth-bound; their speed is the memory system's.
#include "fc_common.cuh"

extern "C" __global__ void conv2d_im2col(FcIm2colArgs a)
{
    const long long rows = (long long)a.C * a.R * a.S, pq = (long long)a.P * a.Q;
    const long long perImage = rows * pq, total = perImage * a.N;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x)
    {
        const long long n = i / perImage, j = i % perImage;
        const int q = (int)(j % a.Q), p = (int)(j / a.Q % a.P);
        const long long row = j / pq;
        const int s = (int)(row % a.S), r = (int)(row / a.S % a.R), c = (int)(row / ((long long)a.R * a.S));
        const int h = p * a.strideH - a.padTop + r * a.dilH, w = q * a.strideW - a.padLeft + s * a.dilW;
        a.col[i] = (h >= 0 && h < a.H && w >= 0 && w < a.W) ? a.x[((n * a.C + c) * a.H + h) * a.W + w] : 0.0f;
    }
}
FC_EXPORT(conv2d_im2col)

extern "C" __global__ void conv2d_pad_input(FcPadInputArgs a)
{
    const long long total = (long long)a.NC * a.Hp * a.Wp;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x)
    {
        const int w = (int)(i % a.Wp) - a.padLeft, h = (int)(i / a.Wp % a.Hp) - a.padTop;
        const long long nc = i / ((long long)a.Hp * a.Wp);
        a.xp[i] = (h >= 0 && h < a.H && w >= 0 && w < a.W) ? a.x[(nc * a.H + h) * a.W + w] : 0.0f;
    }
}
FC_EXPORT(conv2d_pad_input)

// a.y holds the library's raw convolution N×K×P×Q; x and w are unused. The epilogue is fc_conv_store's, so the
// order (bias, scale, shift, residual, activation) and the NaN rules are exactly those of our own conv kernels.
extern "C" __global__ void conv2d_epilogue(FcConv2dArgs a)
{
    const long long pq = (long long)a.P * a.Q, total = (long long)a.N * a.K * pq;
    for (long long o = (long long)blockIdx.x * blockDim.x + threadIdx.x; o < total; o += (long long)gridDim.x * blockDim.x)
    {
        fc_conv_store(a, a.y[o], (int)(o / pq % a.K), o);
    }
}
FC_EXPORT(conv2d_epilogue)

extern "C" __global__ void gemm_broadcast_c(FcBroadcastArgs a)
{
    const long long total = (long long)a.M * a.N;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x)
    {
        const long long m = i / a.N, n = i % a.N;
        a.y[i] = a.c[m * a.cStrideM + n * a.cStrideN];
    }
}
FC_EXPORT(gemm_broadcast_c)
