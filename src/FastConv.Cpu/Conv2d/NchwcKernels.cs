using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FastConv.Cpu;

/// <summary>
/// What one call of the channel-blocked micro-kernel reads and writes. The kernel vectorizes along output
/// channels (a block is one vector of lanes output channels) and broadcasts one input value per output pixel,
/// MLAS's NCHWc orientation: no lane is wasted on small planes (7×7) or odd widths, and a stride only changes
/// which input addresses are broadcast, so strided convolutions need no gather or de-interleave.
/// </summary>
internal unsafe struct NchwcTile
{
    /// <summary>The input origin of the first channel of this call's channel range.</summary>
    public float* Input;
    /// <summary>
    /// Offset of every (channel, tap) of the range from a pixel's first tap, in weight order (c outer, tap inner):
    /// one flat loop covers NCHW planes, NCHWc blocks, dilation and any R×S alike.
    /// </summary>
    public int* Offsets;
    public int Count;
    /// <summary>Packed weights of this output-channel group and channel range: [c][tap][KB·lanes].</summary>
    public float* Weights;
    /// <summary>Distance between the kernel's output blocks ([block][pixel][lanes], pixel stride = lanes).</summary>
    public long OutBlockStride;
    /// <summary>Add to the values already in the output (a later channel range) instead of overwriting them.</summary>
    public bool Accumulate;
}

/// <summary>A compile-time pixel count: the JIT specializes a kernel per struct and drops the unused accumulators.</summary>
internal interface INchwcPixels
{
    static abstract int N { get; }
}

internal struct Px1 : INchwcPixels { public static int N => 1; }
internal struct Px2 : INchwcPixels { public static int N => 2; }
internal struct Px3 : INchwcPixels { public static int N => 3; }
internal struct Px4 : INchwcPixels { public static int N => 4; }
internal struct Px5 : INchwcPixels { public static int N => 5; }
internal struct Px6 : INchwcPixels { public static int N => 6; }
internal struct Px7 : INchwcPixels { public static int N => 7; }
internal struct Px8 : INchwcPixels { public static int N => 8; }

/// <summary>
/// The channel-blocked conv micro-kernels: KB output-channel blocks × up to 6 output pixels of accumulators.
/// AVX-512: 4 blocks (64 channels) × 6 pixels = 24 zmm accumulators + 4 weight vectors + 1 broadcast = 29 of 32
/// registers; per (channel, tap) 4 vector loads and 6 broadcasts feed 24 FMAs (MLAS's SconvKernelAvx512F shape).
/// AVX2/Vector128 (16 registers): 2 blocks × 6 pixels = 12 accumulators + 2 weights + 1 broadcast = 15.
/// A run's last, short tile gets a kernel of exactly its pixel count (a 7×7 plane is 8 tiles of 6 and one of 1,
/// the one costing a fifth of a full tile rather than a whole one).
/// </summary>
internal static unsafe class NchwcKernels
{
    /// <summary>Output pixels per full kernel call.</summary>
    public const int Pixels = 6;

    /// <summary>
    /// Computes <paramref name="n"/> (1..6) pixels whose first-tap input offsets are <paramref name="pix"/>[0..n),
    /// writing them to <paramref name="output"/> ([block][pixel][lanes]).
    /// </summary>
    public static void Run<TV, TOps>(int kb, in NchwcTile t, int* pix, float* output, int n)
        where TV : unmanaged
        where TOps : IConvVec<TV>
    {
        if (kb == 4)
        {
            switch (n)
            {
                case 6: Kernel4<TV, TOps, Px6>(t, pix, output); break;
                case 5: Kernel4<TV, TOps, Px5>(t, pix, output); break;
                case 4: Kernel4<TV, TOps, Px4>(t, pix, output); break;
                case 3: Kernel4<TV, TOps, Px3>(t, pix, output); break;
                case 2: Kernel4<TV, TOps, Px2>(t, pix, output); break;
                default: Kernel4<TV, TOps, Px1>(t, pix, output); break;
            }
        }
        else
        {
            switch (n)
            {
                case 6: Kernel2<TV, TOps, Px6>(t, pix, output); break;
                case 5: Kernel2<TV, TOps, Px5>(t, pix, output); break;
                case 4: Kernel2<TV, TOps, Px4>(t, pix, output); break;
                case 3: Kernel2<TV, TOps, Px3>(t, pix, output); break;
                case 2: Kernel2<TV, TOps, Px2>(t, pix, output); break;
                default: Kernel2<TV, TOps, Px1>(t, pix, output); break;
            }
        }
    }

    private static void Kernel4<TV, TOps, TP>(in NchwcTile t, int* pix, float* o)
        where TV : unmanaged
        where TOps : IConvVec<TV>
        where TP : struct, INchwcPixels
    {
        int L = TOps.Count, n = TP.N;
        long bs = t.OutBlockStride;
        TV a00 = TOps.Zero, a01 = TOps.Zero, a02 = TOps.Zero, a03 = TOps.Zero, a04 = TOps.Zero, a05 = TOps.Zero;
        TV a10 = TOps.Zero, a11 = TOps.Zero, a12 = TOps.Zero, a13 = TOps.Zero, a14 = TOps.Zero, a15 = TOps.Zero;
        TV a20 = TOps.Zero, a21 = TOps.Zero, a22 = TOps.Zero, a23 = TOps.Zero, a24 = TOps.Zero, a25 = TOps.Zero;
        TV a30 = TOps.Zero, a31 = TOps.Zero, a32 = TOps.Zero, a33 = TOps.Zero, a34 = TOps.Zero, a35 = TOps.Zero;
        float* x = t.Input;
        float* x0 = x + pix[0];
        float* x1 = n > 1 ? x + pix[1] : x0;
        float* x2 = n > 2 ? x + pix[2] : x0;
        float* x3 = n > 3 ? x + pix[3] : x0;
        float* x4 = n > 4 ? x + pix[4] : x0;
        float* x5 = n > 5 ? x + pix[5] : x0;
        float* w = t.Weights;
        int* offs = t.Offsets;
        int count = t.Count;
        // Two (channel, tap) steps per trip: the loop overhead is shared by twice the FMAs.
        int i = 0;
        for (; i + 1 < count; i += 2)
        {
            {
                nint off = offs[i];
                TV w0 = TOps.Load(w), w1 = TOps.Load(w + L), w2 = TOps.Load(w + 2 * L), w3 = TOps.Load(w + 3 * L);
                TV b = TOps.Broadcast(x0 + off);
                a00 = TOps.Fma(w0, b, a00); a10 = TOps.Fma(w1, b, a10); a20 = TOps.Fma(w2, b, a20); a30 = TOps.Fma(w3, b, a30);
                if (n > 1)
                {
                    b = TOps.Broadcast(x1 + off);
                    a01 = TOps.Fma(w0, b, a01); a11 = TOps.Fma(w1, b, a11); a21 = TOps.Fma(w2, b, a21); a31 = TOps.Fma(w3, b, a31);
                }
                if (n > 2)
                {
                    b = TOps.Broadcast(x2 + off);
                    a02 = TOps.Fma(w0, b, a02); a12 = TOps.Fma(w1, b, a12); a22 = TOps.Fma(w2, b, a22); a32 = TOps.Fma(w3, b, a32);
                }
                if (n > 3)
                {
                    b = TOps.Broadcast(x3 + off);
                    a03 = TOps.Fma(w0, b, a03); a13 = TOps.Fma(w1, b, a13); a23 = TOps.Fma(w2, b, a23); a33 = TOps.Fma(w3, b, a33);
                }
                if (n > 4)
                {
                    b = TOps.Broadcast(x4 + off);
                    a04 = TOps.Fma(w0, b, a04); a14 = TOps.Fma(w1, b, a14); a24 = TOps.Fma(w2, b, a24); a34 = TOps.Fma(w3, b, a34);
                }
                if (n > 5)
                {
                    b = TOps.Broadcast(x5 + off);
                    a05 = TOps.Fma(w0, b, a05); a15 = TOps.Fma(w1, b, a15); a25 = TOps.Fma(w2, b, a25); a35 = TOps.Fma(w3, b, a35);
                }
            }
            {
                nint off = offs[i + 1];
                float* wn = w + 4 * L;
                TV w0 = TOps.Load(wn), w1 = TOps.Load(wn + L), w2 = TOps.Load(wn + 2 * L), w3 = TOps.Load(wn + 3 * L);
                TV b = TOps.Broadcast(x0 + off);
                a00 = TOps.Fma(w0, b, a00); a10 = TOps.Fma(w1, b, a10); a20 = TOps.Fma(w2, b, a20); a30 = TOps.Fma(w3, b, a30);
                if (n > 1)
                {
                    b = TOps.Broadcast(x1 + off);
                    a01 = TOps.Fma(w0, b, a01); a11 = TOps.Fma(w1, b, a11); a21 = TOps.Fma(w2, b, a21); a31 = TOps.Fma(w3, b, a31);
                }
                if (n > 2)
                {
                    b = TOps.Broadcast(x2 + off);
                    a02 = TOps.Fma(w0, b, a02); a12 = TOps.Fma(w1, b, a12); a22 = TOps.Fma(w2, b, a22); a32 = TOps.Fma(w3, b, a32);
                }
                if (n > 3)
                {
                    b = TOps.Broadcast(x3 + off);
                    a03 = TOps.Fma(w0, b, a03); a13 = TOps.Fma(w1, b, a13); a23 = TOps.Fma(w2, b, a23); a33 = TOps.Fma(w3, b, a33);
                }
                if (n > 4)
                {
                    b = TOps.Broadcast(x4 + off);
                    a04 = TOps.Fma(w0, b, a04); a14 = TOps.Fma(w1, b, a14); a24 = TOps.Fma(w2, b, a24); a34 = TOps.Fma(w3, b, a34);
                }
                if (n > 5)
                {
                    b = TOps.Broadcast(x5 + off);
                    a05 = TOps.Fma(w0, b, a05); a15 = TOps.Fma(w1, b, a15); a25 = TOps.Fma(w2, b, a25); a35 = TOps.Fma(w3, b, a35);
                }
            }
            w += 2 * 4 * L;
        }
        if (i < count)
        {
            nint off = offs[i];
            TV w0 = TOps.Load(w), w1 = TOps.Load(w + L), w2 = TOps.Load(w + 2 * L), w3 = TOps.Load(w + 3 * L);
            TV b = TOps.Broadcast(x0 + off);
            a00 = TOps.Fma(w0, b, a00); a10 = TOps.Fma(w1, b, a10); a20 = TOps.Fma(w2, b, a20); a30 = TOps.Fma(w3, b, a30);
            if (n > 1)
            {
                b = TOps.Broadcast(x1 + off);
                a01 = TOps.Fma(w0, b, a01); a11 = TOps.Fma(w1, b, a11); a21 = TOps.Fma(w2, b, a21); a31 = TOps.Fma(w3, b, a31);
            }
            if (n > 2)
            {
                b = TOps.Broadcast(x2 + off);
                a02 = TOps.Fma(w0, b, a02); a12 = TOps.Fma(w1, b, a12); a22 = TOps.Fma(w2, b, a22); a32 = TOps.Fma(w3, b, a32);
            }
            if (n > 3)
            {
                b = TOps.Broadcast(x3 + off);
                a03 = TOps.Fma(w0, b, a03); a13 = TOps.Fma(w1, b, a13); a23 = TOps.Fma(w2, b, a23); a33 = TOps.Fma(w3, b, a33);
            }
            if (n > 4)
            {
                b = TOps.Broadcast(x4 + off);
                a04 = TOps.Fma(w0, b, a04); a14 = TOps.Fma(w1, b, a14); a24 = TOps.Fma(w2, b, a24); a34 = TOps.Fma(w3, b, a34);
            }
            if (n > 5)
            {
                b = TOps.Broadcast(x5 + off);
                a05 = TOps.Fma(w0, b, a05); a15 = TOps.Fma(w1, b, a15); a25 = TOps.Fma(w2, b, a25); a35 = TOps.Fma(w3, b, a35);
            }
        }
        // Stores only: no call may sit here while the accumulators are live (every vector register is caller-saved).
        if (t.Accumulate)
        {
            Add4(o, bs, a00, a10, a20, a30);
            if (n > 1) { Add4(o + L, bs, a01, a11, a21, a31); }
            if (n > 2) { Add4(o + 2 * L, bs, a02, a12, a22, a32); }
            if (n > 3) { Add4(o + 3 * L, bs, a03, a13, a23, a33); }
            if (n > 4) { Add4(o + 4 * L, bs, a04, a14, a24, a34); }
            if (n > 5) { Add4(o + 5 * L, bs, a05, a15, a25, a35); }
        }
        else
        {
            Store4(o, bs, a00, a10, a20, a30);
            if (n > 1) { Store4(o + L, bs, a01, a11, a21, a31); }
            if (n > 2) { Store4(o + 2 * L, bs, a02, a12, a22, a32); }
            if (n > 3) { Store4(o + 3 * L, bs, a03, a13, a23, a33); }
            if (n > 4) { Store4(o + 4 * L, bs, a04, a14, a24, a34); }
            if (n > 5) { Store4(o + 5 * L, bs, a05, a15, a25, a35); }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Store4(float* p, long bs, TV v0, TV v1, TV v2, TV v3)
        {
            TOps.Store(p, v0); TOps.Store(p + bs, v1); TOps.Store(p + 2 * bs, v2); TOps.Store(p + 3 * bs, v3);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Add4(float* p, long bs, TV v0, TV v1, TV v2, TV v3)
        {
            TOps.Store(p, TOps.Add(TOps.Load(p), v0));
            TOps.Store(p + bs, TOps.Add(TOps.Load(p + bs), v1));
            TOps.Store(p + 2 * bs, TOps.Add(TOps.Load(p + 2 * bs), v2));
            TOps.Store(p + 3 * bs, TOps.Add(TOps.Load(p + 3 * bs), v3));
        }
    }

    private static void Kernel2<TV, TOps, TP>(in NchwcTile t, int* pix, float* o)
        where TV : unmanaged
        where TOps : IConvVec<TV>
        where TP : struct, INchwcPixels
    {
        int L = TOps.Count, n = TP.N;
        long bs = t.OutBlockStride;
        TV a00 = TOps.Zero, a01 = TOps.Zero, a02 = TOps.Zero, a03 = TOps.Zero, a04 = TOps.Zero, a05 = TOps.Zero;
        TV a10 = TOps.Zero, a11 = TOps.Zero, a12 = TOps.Zero, a13 = TOps.Zero, a14 = TOps.Zero, a15 = TOps.Zero;
        float* x = t.Input;
        float* x0 = x + pix[0];
        float* x1 = n > 1 ? x + pix[1] : x0;
        float* x2 = n > 2 ? x + pix[2] : x0;
        float* x3 = n > 3 ? x + pix[3] : x0;
        float* x4 = n > 4 ? x + pix[4] : x0;
        float* x5 = n > 5 ? x + pix[5] : x0;
        float* w = t.Weights;
        int* offs = t.Offsets;
        int count = t.Count;
        // Two (channel, tap) steps per trip: the loop overhead is shared by twice the FMAs.
        int i = 0;
        for (; i + 1 < count; i += 2)
        {
            {
                nint off = offs[i];
                TV w0 = TOps.Load(w), w1 = TOps.Load(w + L);
                TV b = TOps.Broadcast(x0 + off);
                a00 = TOps.Fma(w0, b, a00); a10 = TOps.Fma(w1, b, a10);
                if (n > 1)
                {
                    b = TOps.Broadcast(x1 + off);
                    a01 = TOps.Fma(w0, b, a01); a11 = TOps.Fma(w1, b, a11);
                }
                if (n > 2)
                {
                    b = TOps.Broadcast(x2 + off);
                    a02 = TOps.Fma(w0, b, a02); a12 = TOps.Fma(w1, b, a12);
                }
                if (n > 3)
                {
                    b = TOps.Broadcast(x3 + off);
                    a03 = TOps.Fma(w0, b, a03); a13 = TOps.Fma(w1, b, a13);
                }
                if (n > 4)
                {
                    b = TOps.Broadcast(x4 + off);
                    a04 = TOps.Fma(w0, b, a04); a14 = TOps.Fma(w1, b, a14);
                }
                if (n > 5)
                {
                    b = TOps.Broadcast(x5 + off);
                    a05 = TOps.Fma(w0, b, a05); a15 = TOps.Fma(w1, b, a15);
                }
            }
            {
                nint off = offs[i + 1];
                float* wn = w + 2 * L;
                TV w0 = TOps.Load(wn), w1 = TOps.Load(wn + L);
                TV b = TOps.Broadcast(x0 + off);
                a00 = TOps.Fma(w0, b, a00); a10 = TOps.Fma(w1, b, a10);
                if (n > 1)
                {
                    b = TOps.Broadcast(x1 + off);
                    a01 = TOps.Fma(w0, b, a01); a11 = TOps.Fma(w1, b, a11);
                }
                if (n > 2)
                {
                    b = TOps.Broadcast(x2 + off);
                    a02 = TOps.Fma(w0, b, a02); a12 = TOps.Fma(w1, b, a12);
                }
                if (n > 3)
                {
                    b = TOps.Broadcast(x3 + off);
                    a03 = TOps.Fma(w0, b, a03); a13 = TOps.Fma(w1, b, a13);
                }
                if (n > 4)
                {
                    b = TOps.Broadcast(x4 + off);
                    a04 = TOps.Fma(w0, b, a04); a14 = TOps.Fma(w1, b, a14);
                }
                if (n > 5)
                {
                    b = TOps.Broadcast(x5 + off);
                    a05 = TOps.Fma(w0, b, a05); a15 = TOps.Fma(w1, b, a15);
                }
            }
            w += 2 * 2 * L;
        }
        if (i < count)
        {
            nint off = offs[i];
            TV w0 = TOps.Load(w), w1 = TOps.Load(w + L);
            TV b = TOps.Broadcast(x0 + off);
            a00 = TOps.Fma(w0, b, a00); a10 = TOps.Fma(w1, b, a10);
            if (n > 1)
            {
                b = TOps.Broadcast(x1 + off);
                a01 = TOps.Fma(w0, b, a01); a11 = TOps.Fma(w1, b, a11);
            }
            if (n > 2)
            {
                b = TOps.Broadcast(x2 + off);
                a02 = TOps.Fma(w0, b, a02); a12 = TOps.Fma(w1, b, a12);
            }
            if (n > 3)
            {
                b = TOps.Broadcast(x3 + off);
                a03 = TOps.Fma(w0, b, a03); a13 = TOps.Fma(w1, b, a13);
            }
            if (n > 4)
            {
                b = TOps.Broadcast(x4 + off);
                a04 = TOps.Fma(w0, b, a04); a14 = TOps.Fma(w1, b, a14);
            }
            if (n > 5)
            {
                b = TOps.Broadcast(x5 + off);
                a05 = TOps.Fma(w0, b, a05); a15 = TOps.Fma(w1, b, a15);
            }
        }
        if (t.Accumulate)
        {
            Add2(o, bs, a00, a10);
            if (n > 1) { Add2(o + L, bs, a01, a11); }
            if (n > 2) { Add2(o + 2 * L, bs, a02, a12); }
            if (n > 3) { Add2(o + 3 * L, bs, a03, a13); }
            if (n > 4) { Add2(o + 4 * L, bs, a04, a14); }
            if (n > 5) { Add2(o + 5 * L, bs, a05, a15); }
        }
        else
        {
            TOps.Store(o, a00); TOps.Store(o + bs, a10);
            if (n > 1) { TOps.Store(o + L, a01); TOps.Store(o + L + bs, a11); }
            if (n > 2) { TOps.Store(o + 2 * L, a02); TOps.Store(o + 2 * L + bs, a12); }
            if (n > 3) { TOps.Store(o + 3 * L, a03); TOps.Store(o + 3 * L + bs, a13); }
            if (n > 4) { TOps.Store(o + 4 * L, a04); TOps.Store(o + 4 * L + bs, a14); }
            if (n > 5) { TOps.Store(o + 5 * L, a05); TOps.Store(o + 5 * L + bs, a15); }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Add2(float* p, long bs, TV v0, TV v1)
        {
            TOps.Store(p, TOps.Add(TOps.Load(p), v0));
            TOps.Store(p + bs, TOps.Add(TOps.Load(p + bs), v1));
        }
    }
}

/// <summary>
/// Transposes between a channel block laid out [pixel][lanes] (NCHWc) and NCHW rows [lane][pixel]: 16×16
/// in registers on AVX-512 (unpack, shuffle, two 128-bit-lane shuffles: 64 shuffles per 256 floats), 8×8 on
/// AVX2, element by element otherwise (those levels are the correctness baseline).
/// </summary>
internal static unsafe class NchwcTranspose
{
    /// <summary>
    /// dst[l·dstStride + j] = src[j·lanes + l] for j &lt; <paramref name="pixels"/>, l &lt; <paramref name="channels"/>.
    /// </summary>
    public static void BlockToRows(float* src, int lanes, int pixels, int channels, float* dst, long dstStride)
    {
        int j = 0;
        if (channels == lanes)
        {
            // A tail of at least one block is transposed again, overlapping: the same values land twice.
            if (lanes == 16 && Avx512F.IsSupported && pixels >= 16)
            {
                for (; j + 16 <= pixels; j += 16)
                {
                    Transpose16(src + j * 16, dst + j, dstStride);
                }
                if (j < pixels)
                {
                    Transpose16(src + (pixels - 16) * 16, dst + pixels - 16, dstStride);
                    return;
                }
            }
            else if (lanes == 8 && Avx.IsSupported && pixels >= 8)
            {
                for (; j + 8 <= pixels; j += 8)
                {
                    Transpose8(src + j * 8, dst + j, dstStride);
                }
                if (j < pixels)
                {
                    Transpose8(src + (pixels - 8) * 8, dst + pixels - 8, dstStride);
                    return;
                }
            }
        }
        for (int l = 0; l < channels; l++)
        {
            float* d = dst + l * dstStride;
            for (int jj = j; jj < pixels; jj++)
            {
                d[jj] = src[jj * lanes + l];
            }
        }
    }

    /// <summary>dst[j·lanes + l] = src[l·srcStride + j] (NCHW rows into one channel block), zero for l ≥ channels.</summary>
    public static void RowsToBlock(float* src, long srcStride, int lanes, int pixels, int channels, float* dst)
    {
        int j = 0;
        if (channels == lanes)
        {
            if (lanes == 16 && Avx512F.IsSupported && pixels >= 16)
            {
                for (; j + 16 <= pixels; j += 16)
                {
                    TransposeIn16(src + j, srcStride, dst + j * 16);
                }
                if (j < pixels)
                {
                    TransposeIn16(src + pixels - 16, srcStride, dst + (pixels - 16) * 16);
                    return;
                }
            }
            else if (lanes == 8 && Avx.IsSupported && pixels >= 8)
            {
                for (; j + 8 <= pixels; j += 8)
                {
                    TransposeIn8(src + j, srcStride, dst + j * 8);
                }
                if (j < pixels)
                {
                    TransposeIn8(src + pixels - 8, srcStride, dst + (pixels - 8) * 8);
                    return;
                }
            }
        }
        for (int jj = j; jj < pixels; jj++)
        {
            float* d = dst + jj * lanes;
            for (int l = 0; l < lanes; l++)
            {
                d[l] = l < channels ? src[l * srcStride + jj] : 0f;
            }
        }
    }

    /// <summary>
    /// As <see cref="RowsToBlock"/> but pixel j's vector goes to dst + <paramref name="pixelOffsets"/>[j] (floats), so
    /// rows narrower than a block still transpose 16 (8) pixels at a time straight into a padded layout.
    /// </summary>
    public static void RowsToBlockScatter(float* src, long srcStride, int lanes, int pixels, int channels, float* dst, int* pixelOffsets)
    {
        int j = 0;
        if (channels == lanes)
        {
            if (lanes == 16 && Avx512F.IsSupported && pixels >= 16)
            {
                for (; j + 16 <= pixels; j += 16)
                {
                    Transpose16x16(src + j, srcStride, dst, 0, pixelOffsets + j);
                }
                if (j < pixels)
                {
                    Transpose16x16(src + pixels - 16, srcStride, dst, 0, pixelOffsets + pixels - 16);
                }
                return;
            }
            if (lanes == 8 && Avx.IsSupported && pixels >= 8)
            {
                for (; j + 8 <= pixels; j += 8)
                {
                    Transpose8x8(src + j, srcStride, dst, 0, pixelOffsets + j);
                }
                if (j < pixels)
                {
                    Transpose8x8(src + pixels - 8, srcStride, dst, 0, pixelOffsets + pixels - 8);
                }
                return;
            }
        }
        for (; j < pixels; j++)
        {
            float* d = dst + pixelOffsets[j];
            for (int l = 0; l < lanes; l++)
            {
                d[l] = l < channels ? src[l * srcStride + j] : 0f;
            }
        }
    }

    private static void Transpose16(float* src, float* dst, long dstStride) => Transpose16x16(src, 16, dst, dstStride, null);

    private static void TransposeIn16(float* src, long s, float* dst) => Transpose16x16(src, s, dst, 16, null);

    /// <summary>
    /// dst[l·dstStride + i] = src[i·srcStride + l] for a 16×16 block. One method with the loads and stores inside
    /// (16 vector arguments would be passed through the stack).
    /// </summary>
    private static void Transpose16x16(float* src, long ss, float* dst, long ds, int* cols)
    {
        // Stage 1: interleave row pairs within each 128-bit lane.
        Vector512<float> r0 = Vector512.Load(src), r1 = Vector512.Load(src + ss);
        Vector512<float> t0 = Avx512F.UnpackLow(r0, r1), t1 = Avx512F.UnpackHigh(r0, r1);
        r0 = Vector512.Load(src + 2 * ss); r1 = Vector512.Load(src + 3 * ss);
        Vector512<float> t2 = Avx512F.UnpackLow(r0, r1), t3 = Avx512F.UnpackHigh(r0, r1);
        r0 = Vector512.Load(src + 4 * ss); r1 = Vector512.Load(src + 5 * ss);
        Vector512<float> t4 = Avx512F.UnpackLow(r0, r1), t5 = Avx512F.UnpackHigh(r0, r1);
        r0 = Vector512.Load(src + 6 * ss); r1 = Vector512.Load(src + 7 * ss);
        Vector512<float> t6 = Avx512F.UnpackLow(r0, r1), t7 = Avx512F.UnpackHigh(r0, r1);
        r0 = Vector512.Load(src + 8 * ss); r1 = Vector512.Load(src + 9 * ss);
        Vector512<float> t8 = Avx512F.UnpackLow(r0, r1), t9 = Avx512F.UnpackHigh(r0, r1);
        r0 = Vector512.Load(src + 10 * ss); r1 = Vector512.Load(src + 11 * ss);
        Vector512<float> t10 = Avx512F.UnpackLow(r0, r1), t11 = Avx512F.UnpackHigh(r0, r1);
        r0 = Vector512.Load(src + 12 * ss); r1 = Vector512.Load(src + 13 * ss);
        Vector512<float> t12 = Avx512F.UnpackLow(r0, r1), t13 = Avx512F.UnpackHigh(r0, r1);
        r0 = Vector512.Load(src + 14 * ss); r1 = Vector512.Load(src + 15 * ss);
        Vector512<float> t14 = Avx512F.UnpackLow(r0, r1), t15 = Avx512F.UnpackHigh(r0, r1);
        // Stage 2: u[4g + e] holds element e (+4i in 128-bit lane i) of rows 4g..4g+3.
        Vector512<float> u0 = Avx512F.Shuffle(t0, t2, 0x44), u1 = Avx512F.Shuffle(t0, t2, 0xEE);
        Vector512<float> u2 = Avx512F.Shuffle(t1, t3, 0x44), u3 = Avx512F.Shuffle(t1, t3, 0xEE);
        Vector512<float> u4 = Avx512F.Shuffle(t4, t6, 0x44), u5 = Avx512F.Shuffle(t4, t6, 0xEE);
        Vector512<float> u6 = Avx512F.Shuffle(t5, t7, 0x44), u7 = Avx512F.Shuffle(t5, t7, 0xEE);
        Vector512<float> u8 = Avx512F.Shuffle(t8, t10, 0x44), u9 = Avx512F.Shuffle(t8, t10, 0xEE);
        Vector512<float> u10 = Avx512F.Shuffle(t9, t11, 0x44), u11 = Avx512F.Shuffle(t9, t11, 0xEE);
        Vector512<float> u12 = Avx512F.Shuffle(t12, t14, 0x44), u13 = Avx512F.Shuffle(t12, t14, 0xEE);
        Vector512<float> u14 = Avx512F.Shuffle(t13, t15, 0x44), u15 = Avx512F.Shuffle(t13, t15, 0xEE);
        // Stages 3 and 4: gather the 128-bit lanes; column e of the block ends in one register.
        if (cols == null)
        {
            Columns(u0, u4, u8, u12, dst, ds);
            Columns(u1, u5, u9, u13, dst + ds, ds);
            Columns(u2, u6, u10, u14, dst + 2 * ds, ds);
            Columns(u3, u7, u11, u15, dst + 3 * ds, ds);
        }
        else
        {
            ColumnsAt(u0, u4, u8, u12, dst, cols);
            ColumnsAt(u1, u5, u9, u13, dst, cols + 1);
            ColumnsAt(u2, u6, u10, u14, dst, cols + 2);
            ColumnsAt(u3, u7, u11, u15, dst, cols + 3);
        }
    }

    /// <summary>From the stage-2 registers of element e (rows 0–3, 4–7, 8–11, 12–15): columns e, e+4, e+8, e+12.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Columns(Vector512<float> ua, Vector512<float> ub, Vector512<float> uc, Vector512<float> ud, float* dst, long ds)
    {
        Vector512<float> v0 = Avx512F.Shuffle4x128(ua, ub, 0x88); // 128-bit lanes 0, 2 of ua, ub: elements e, e+8
        Vector512<float> v1 = Avx512F.Shuffle4x128(ua, ub, 0xDD); // lanes 1, 3: elements e+4, e+12
        Vector512<float> v2 = Avx512F.Shuffle4x128(uc, ud, 0x88);
        Vector512<float> v3 = Avx512F.Shuffle4x128(uc, ud, 0xDD);
        Avx512F.Shuffle4x128(v0, v2, 0x88).Store(dst);
        Avx512F.Shuffle4x128(v1, v3, 0x88).Store(dst + 4 * ds);
        Avx512F.Shuffle4x128(v0, v2, 0xDD).Store(dst + 8 * ds);
        Avx512F.Shuffle4x128(v1, v3, 0xDD).Store(dst + 12 * ds);
    }

    /// <summary><see cref="Columns"/> with column e, e+4, e+8, e+12 stored at dst + cols[0], cols[4], cols[8], cols[12].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ColumnsAt(Vector512<float> ua, Vector512<float> ub, Vector512<float> uc, Vector512<float> ud, float* dst, int* cols)
    {
        Vector512<float> v0 = Avx512F.Shuffle4x128(ua, ub, 0x88);
        Vector512<float> v1 = Avx512F.Shuffle4x128(ua, ub, 0xDD);
        Vector512<float> v2 = Avx512F.Shuffle4x128(uc, ud, 0x88);
        Vector512<float> v3 = Avx512F.Shuffle4x128(uc, ud, 0xDD);
        Avx512F.Shuffle4x128(v0, v2, 0x88).Store(dst + cols[0]);
        Avx512F.Shuffle4x128(v1, v3, 0x88).Store(dst + cols[4]);
        Avx512F.Shuffle4x128(v0, v2, 0xDD).Store(dst + cols[8]);
        Avx512F.Shuffle4x128(v1, v3, 0xDD).Store(dst + cols[12]);
    }

    private static void Transpose8(float* src, float* dst, long dstStride) => Transpose8x8(src, 8, dst, dstStride, null);

    private static void TransposeIn8(float* src, long s, float* dst) => Transpose8x8(src, s, dst, 8, null);

    /// <summary>dst[l·stride + i] = src[i·ss + l] for an 8×8 block.</summary>
    private static void Transpose8x8(float* src, long ss, float* dst, long stride, int* cols)
    {
        Vector256<float> r0 = Vector256.Load(src), r1 = Vector256.Load(src + ss), r2 = Vector256.Load(src + 2 * ss), r3 = Vector256.Load(src + 3 * ss);
        Vector256<float> r4 = Vector256.Load(src + 4 * ss), r5 = Vector256.Load(src + 5 * ss), r6 = Vector256.Load(src + 6 * ss), r7 = Vector256.Load(src + 7 * ss);
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1);
        Vector256<float> t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5);
        Vector256<float> t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE);
        Vector256<float> u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE);
        Vector256<float> u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);
        long c0 = cols == null ? 0 : cols[0], c1 = cols == null ? stride : cols[1], c2 = cols == null ? 2 * stride : cols[2], c3 = cols == null ? 3 * stride : cols[3];
        long c4 = cols == null ? 4 * stride : cols[4], c5 = cols == null ? 5 * stride : cols[5], c6 = cols == null ? 6 * stride : cols[6], c7 = cols == null ? 7 * stride : cols[7];
        Avx.Permute2x128(u0, u4, 0x20).Store(dst + c0);
        Avx.Permute2x128(u1, u5, 0x20).Store(dst + c1);
        Avx.Permute2x128(u2, u6, 0x20).Store(dst + c2);
        Avx.Permute2x128(u3, u7, 0x20).Store(dst + c3);
        Avx.Permute2x128(u0, u4, 0x31).Store(dst + c4);
        Avx.Permute2x128(u1, u5, 0x31).Store(dst + c5);
        Avx.Permute2x128(u2, u6, 0x31).Store(dst + c6);
        Avx.Permute2x128(u3, u7, 0x31).Store(dst + c7);
    }
}
