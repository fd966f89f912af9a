// The support kernels of the library backends (cublas, cudnn): what cuBLAS and cuDNN do not do themselves.
// Plain one-element-per-thread kernels: they move data once and are bandwidth-bound, so their speed is the
// memory system's; the heavy lifting (GEMM, convolution) is the library's. Every tensor is NCHW fp32.
// No system headers: NVRTC provides the device math functions (expf, tanhf) itself.

// Activation codes: the order of FastConv.Backends.ActivationKind.
#define FCG_NONE 0
#define FCG_RELU 1
#define FCG_LEAKY_RELU 2
#define FCG_CLIP 3
#define FCG_SIGMOID 4
#define FCG_TANH 5
#define FCG_HARD_SIGMOID 6
#define FCG_HARD_SWISH 7

__device__ __forceinline__ float fcg_activate(float z, int act, float alpha, float beta)
{
    switch (act)
    {
    case FCG_RELU: return z > 0.0f ? z : 0.0f;
    case FCG_LEAKY_RELU: return z >= 0.0f ? z : alpha * z;
    case FCG_CLIP: return fminf(fmaxf(z, alpha), beta);
    case FCG_SIGMOID: return 1.0f / (1.0f + expf(-z));
    case FCG_TANH: return tanhf(z);
    case FCG_HARD_SIGMOID: return fmaxf(0.0f, fminf(1.0f, alpha * z + beta));
    case FCG_HARD_SWISH: return z * fmaxf(0.0f, fminf(1.0f, z / 6.0f + 0.5f));
    default: return z;
    }
}

// im2col for N images and every group: x [N][G·Cg][H][W] → col [N][G][Cg·R·S][P·Q] (row (c, r, s), column (p, q)),
// zeros where the tap falls in the padding. One thread per col element. Groups are consecutive channel blocks,
// so group g's rows are the contiguous block [g·Cg·R·S, (g+1)·Cg·R·S) of an image's col matrix.
extern "C" __global__ void fcg_im2col(
    const float* __restrict__ x,   // [N][C][H][W]
    float* __restrict__ col,       // [N][C·R·S][P·Q]
    int N, int C, int H, int W, int R, int S, int P, int Q,
    int strideH, int strideW, int padTop, int padLeft, int dilH, int dilW)
{
    long perImage = (long)C * R * S * P * Q;
    long total = perImage * N;
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < total; i += (long)gridDim.x * blockDim.x)
    {
        long n = i / perImage, j = i % perImage;
        int q = (int)(j % Q);
        int p = (int)(j / Q % P);
        long row = j / ((long)P * Q);
        int s = (int)(row % S);
        int r = (int)(row / S % R);
        int c = (int)(row / ((long)R * S));
        int h = p * strideH - padTop + r * dilH;
        int w = q * strideW - padLeft + s * dilW;
        col[i] = (h >= 0 && h < H && w >= 0 && w < W) ? x[((n * C + c) * H + h) * W + w] : 0.0f;
    }
}

// Zero padding into a larger buffer: x [NC][H][W] → xp [NC][H+padTop+padBottom][W+padLeft+padRight], for the
// asymmetric paddings cuDNN's convolution descriptor cannot express (it pads both sides alike).
extern "C" __global__ void fcg_pad2d(const float* __restrict__ x, float* __restrict__ xp, int NC, int H, int W, int padTop, int padLeft, int Hp, int Wp)
{
    long total = (long)NC * Hp * Wp;
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < total; i += (long)gridDim.x * blockDim.x)
    {
        int w = (int)(i % Wp) - padLeft;
        int h = (int)(i / Wp % Hp) - padTop;
        long nc = i / ((long)Hp * Wp);
        xp[i] = (h >= 0 && h < H && w >= 0 && w < W) ? x[(nc * H + h) * W + w] : 0.0f;
    }
}

// The conv epilogue in the reference's order: z = y + bias[k]; z = scale[k]·z + shift[k]; z += residual; y = act(z).
// Null pointers skip their step. y is [N][K][P·Q].
extern "C" __global__ void fcg_conv_epilogue(
    float* __restrict__ y, const float* __restrict__ bias, const float* __restrict__ scale, const float* __restrict__ shift,
    const float* __restrict__ residual, int K, int PQ, long total, int act, float alpha, float beta)
{
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < total; i += (long)gridDim.x * blockDim.x)
    {
        int k = (int)(i / PQ % K);
        float z = y[i];
        if (bias) z += bias[k];
        if (scale) z = scale[k] * z + (shift ? shift[k] : 0.0f);
        else if (shift) z += shift[k];
        if (residual) z += residual[i];
        y[i] = fcg_activate(z, act, alpha, beta);
    }
}

// y = act(x) element-wise; x == y allowed.
extern "C" __global__ void fcg_activation(const float* x, float* y, long n, int act, float alpha, float beta)
{
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x)
        y[i] = fcg_activate(x[i], act, alpha, beta);
}

// Max or average pooling (ONNX MaxPool / AveragePool), one thread per output. Average: padded positions add 0;
// the divisor is the real elements (countIncludePad 0) or the window clipped to the padded input (1).
extern "C" __global__ void fcg_pool2d(
    const float* __restrict__ x, float* __restrict__ y, int NC, int H, int W, int P, int Q,
    int R, int S, int strideH, int strideW, int padTop, int padLeft, int padBottom, int padRight,
    int dilH, int dilW, int isMax, int countIncludePad)
{
    long total = (long)NC * P * Q;
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < total; i += (long)gridDim.x * blockDim.x)
    {
        int q = (int)(i % Q);
        int p = (int)(i / Q % P);
        long nc = i / ((long)P * Q);
        const float* plane = x + nc * H * W;
        float acc = isMax ? -__int_as_float(0x7f800000) : 0.0f;
        int real = 0, padded = 0;
        for (int r = 0; r < R; r++)
        {
            int h = p * strideH - padTop + r * dilH;
            for (int s = 0; s < S; s++)
            {
                int w = q * strideW - padLeft + s * dilW;
                if (h < H + padBottom && w < W + padRight) padded++;
                if (h < 0 || h >= H || w < 0 || w >= W) continue;
                float v = plane[(long)h * W + w];
                acc = isMax ? fmaxf(acc, v) : acc + v;
                real++;
            }
        }
        y[i] = isMax ? acc : acc / (float)(countIncludePad ? padded : real);
    }
}

// Global max / average pool over H·W, one warp per (n, c): lanes stride the plane, then a shuffle tree.
extern "C" __global__ void fcg_global_pool(const float* __restrict__ x, float* __restrict__ y, int NC, int HW, int isMax)
{
    int warp = (int)((blockIdx.x * (long)blockDim.x + threadIdx.x) >> 5);
    int lane = threadIdx.x & 31;
    if (warp >= NC) return;
    const float* plane = x + (long)warp * HW;
    float acc = isMax ? -__int_as_float(0x7f800000) : 0.0f;
    for (int i = lane; i < HW; i += 32)
        acc = isMax ? fmaxf(acc, plane[i]) : acc + plane[i];
    for (int off = 16; off > 0; off >>= 1)
    {
        float other = __shfl_xor_sync(0xffffffffu, acc, off);
        acc = isMax ? fmaxf(acc, other) : acc + other;
    }
    if (lane == 0) y[warp] = isMax ? acc : acc / (float)HW;
}

// Softmax along one axis of a tensor seen as [outer][axis][inner], one thread per (outer, inner):
// y = exp(x − max) / Σ exp(x − max).
extern "C" __global__ void fcg_softmax(const float* __restrict__ x, float* __restrict__ y, int outer, int axis, int inner)
{
    long total = (long)outer * inner;
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < total; i += (long)gridDim.x * blockDim.x)
    {
        long o = i / inner, in = i % inner;
        const float* xs = x + o * axis * inner + in;
        float* ys = y + o * axis * inner + in;
        float m = xs[0];
        for (int a = 1; a < axis; a++) m = fmaxf(m, xs[(long)a * inner]);
        float sum = 0.0f;
        for (int a = 0; a < axis; a++)
        {
            float e = expf(xs[(long)a * inner] - m);
            ys[(long)a * inner] = e;
            sum += e;
        }
        float inv = 1.0f / sum;
        for (int a = 0; a < axis; a++) ys[(long)a * inner] *= inv;
    }
}

// Gemm's C broadcast into Y [M][N] before cuBLAS adds α·op(A)·op(B) with β: C is [cRows][cCols], each 1 or the full size.
extern "C" __global__ void fcg_broadcast_rows(float* __restrict__ y, const float* __restrict__ c, int M, int N, int cRows, int cCols)
{
    long total = (long)M * N;
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < total; i += (long)gridDim.x * blockDim.x)
    {
        int m = (int)(i / N), n = (int)(i % N);
        y[i] = c[(long)(cRows == 1 ? 0 : m) * cCols + (cCols == 1 ? 0 : n)];
    }
}
