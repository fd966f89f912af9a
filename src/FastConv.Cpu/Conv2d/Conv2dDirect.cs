using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using FastConv.Backends;
using FastConv.Cpu.Kernels;
using FastConv.Cpu.Threading;
using FastConv.Ops;

namespace FastConv.Cpu;

/// <summary>
/// <c>direct</c>: general dense or grouped convolution (any R, S, stride, dilation, padding, groups), summing
/// the same C/g·R·S products per output as the reference (so it is allowed under <see cref="CpuPrecision.Exact"/>).
/// <para>
/// Choice of micro-kernel. Activations are NCHW in and out, so the kernel vectorizes along the output row Q and
/// broadcasts weights: a tile is KT output channels × 3 output vectors (3·lanes pixels of one or more output
/// rows), accumulating over every (c, r, s) of the group. Per tap it loads 3 input vectors and KT broadcast
/// weights and issues 3·KT FMAs. On AVX-512 KT = 8: 24 zmm accumulators + 3 input vectors + 1 weight = 28 of
/// 32 registers, 24 FMAs per 11 loads (2.2 FMA per load; Zen 5 issues 2 FMAs and 2 vector loads a cycle, so
/// FMA-bound), 768 FLOP per tap against 3·64 B of input + 32 B of weights. KT = 8 divides every real K
/// (64…2048), where 6 would waste a block. On AVX2 and Vector128 (16 registers) KT = 4: 12 accumulators
/// + 3 inputs + 1 weight = 16. The other choice, MLAS's, broadcasts inputs into accumulators along K, which
/// needs NCHWc activations (or a transpose of every output tile back to NCHW); with NCHW it would cost a
/// 16×16 transpose per tile and strided stores.
/// </para>
/// <para>
/// Borders and strides. Each image is first copied into a zero-padded, column-de-interleaved scratch
/// (<see cref="ConvPaddedInput"/>), so every output pixel is "interior": whole-vector loads, no padding
/// checks, and stride 2/3 reads contiguous phases rather than gathering. The copy is H·W per channel against
/// K/g·R·S·P·Q multiply-adds. Output vectors past Q compute garbage lanes that are not stored.
/// </para>
/// <para>
/// Weights are packed once at plan time as [group][block of KT output channels][c][r·S+s][KT] (zero for the
/// channels past K/g), so the KT weights of a tap are one contiguous 32-byte run. Work is split over
/// (group, output-channel block, run of output rows) for each image; the epilogue runs on the finished rows
/// of each output channel while they are in cache.
/// </para>
/// </summary>
internal sealed class Conv2dDirect : IConv2dAlgorithm
{
    public const string AlgorithmName = "direct";

    public string Name => AlgorithmName;

    public bool Supports(Conv2dShape shape, CpuContext context) => true;

    public IConv2dPlan Plan(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue, CpuContext context)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(context);
        return context.Simd switch
        {
            SimdLevel.Avx512 => new DirectPlan<Vector512<float>, ConvVec512>(shape, weights, bias, epilogue, context, 8),
            SimdLevel.Avx2 => new DirectPlan<Vector256<float>, ConvVec256>(shape, weights, bias, epilogue, context, 4),
            SimdLevel.Vector128 => new DirectPlan<Vector128<float>, ConvVec128>(shape, weights, bias, epilogue, context, 4),
            _ => new DirectPlan<float, ConvVecScalar>(shape, weights, bias, epilogue, context, 4),
        };
    }
}

/// <summary>What one micro-kernel call reads and writes.</summary>
internal unsafe struct DirectTile
{
    /// <summary>The scratch plane of the group's first input channel.</summary>
    public float* Input;
    /// <summary>Distance between input channel planes in the scratch.</summary>
    public long PlaneStride;
    /// <summary>Packed weights of this block: [c][tap][KT].</summary>
    public float* Weights;
    public int* Taps;
    public int TapCount;
    /// <summary>Input channels per group.</summary>
    public int Channels;
    /// <summary>Output plane of the block's first channel (this image).</summary>
    public float* Output;
    /// <summary>P·Q.</summary>
    public long OutputPlane;
    /// <summary>How many of the block's KT channels exist (the last block of a group may be short).</summary>
    public int KValid;
    /// <summary>
    /// 0 when each output vector lies in one output row; else the padded row width Wp of the flat mode, where
    /// output vector j covers virtual pixels [j·lanes, (j+1)·lanes) of a P×Wp plane and lanes with q ≥ Q are dropped.
    /// </summary>
    public int VirtualWidth;
    /// <summary>P and Q, for the flat mode's scatter.</summary>
    public int P, Q;
}

internal static unsafe class DirectKernels
{
    /// <summary>Runs the KT×3 kernel over output vectors [first, end) of the slot table, 3 at a time.</summary>
    public static void Run<TV, TOps>(int kt, in DirectTile t, long* slotIn, int* slotOut, int* slotN, int first, int end)
        where TV : unmanaged
        where TOps : IConvVec<TV>
    {
        float* tmp = stackalloc float[3 * 8 * 16]; // [slot][kt][lanes] for short output vectors
        for (int i = first; i < end; i += 3)
        {
            // A short last group repeats its last vector: the same values are stored twice, which is harmless.
            int j1 = Math.Min(i + 1, end - 1), j2 = Math.Min(i + 2, end - 1);
            if (kt == 8)
            {
                Kernel8x3<TV, TOps>(t, tmp, slotIn[i], slotIn[j1], slotIn[j2], slotOut[i], slotOut[j1], slotOut[j2], slotN[i], slotN[j1], slotN[j2]);
            }
            else
            {
                Kernel4x3<TV, TOps>(t, tmp, slotIn[i], slotIn[j1], slotIn[j2], slotOut[i], slotOut[j1], slotOut[j2], slotN[i], slotN[j1], slotN[j2]);
            }
        }
    }

    /// <summary>8 output channels × 3 output vectors; see the class comment for the register budget.</summary>
    private static void Kernel8x3<TV, TOps>(in DirectTile t, float* tmp, long b0, long b1, long b2, int o0, int o1, int o2, int n0, int n1, int n2)
        where TV : unmanaged
        where TOps : IConvVec<TV>
    {
        TV a00 = TOps.Zero; TV a01 = TOps.Zero; TV a02 = TOps.Zero;
        TV a10 = TOps.Zero; TV a11 = TOps.Zero; TV a12 = TOps.Zero;
        TV a20 = TOps.Zero; TV a21 = TOps.Zero; TV a22 = TOps.Zero;
        TV a30 = TOps.Zero; TV a31 = TOps.Zero; TV a32 = TOps.Zero;
        TV a40 = TOps.Zero; TV a41 = TOps.Zero; TV a42 = TOps.Zero;
        TV a50 = TOps.Zero; TV a51 = TOps.Zero; TV a52 = TOps.Zero;
        TV a60 = TOps.Zero; TV a61 = TOps.Zero; TV a62 = TOps.Zero;
        TV a70 = TOps.Zero; TV a71 = TOps.Zero; TV a72 = TOps.Zero;
        float* i0 = t.Input + b0, i1 = t.Input + b1, i2 = t.Input + b2;
        float* w = t.Weights;
        int* taps = t.Taps;
        int nTaps = t.TapCount;
        long planeStride = t.PlaneStride;
        for (int c = 0; c < t.Channels; c++)
        {
            for (int tap = 0; tap < nTaps; tap++)
            {
                int off = taps[tap];
                TV x0 = TOps.Load(i0 + off), x1 = TOps.Load(i1 + off), x2 = TOps.Load(i2 + off);
                TV w0 = TOps.Broadcast(w + 0);
                a00 = TOps.Fma(x0, w0, a00);
                a01 = TOps.Fma(x1, w0, a01);
                a02 = TOps.Fma(x2, w0, a02);
                TV w1 = TOps.Broadcast(w + 1);
                a10 = TOps.Fma(x0, w1, a10);
                a11 = TOps.Fma(x1, w1, a11);
                a12 = TOps.Fma(x2, w1, a12);
                TV w2 = TOps.Broadcast(w + 2);
                a20 = TOps.Fma(x0, w2, a20);
                a21 = TOps.Fma(x1, w2, a21);
                a22 = TOps.Fma(x2, w2, a22);
                TV w3 = TOps.Broadcast(w + 3);
                a30 = TOps.Fma(x0, w3, a30);
                a31 = TOps.Fma(x1, w3, a31);
                a32 = TOps.Fma(x2, w3, a32);
                TV w4 = TOps.Broadcast(w + 4);
                a40 = TOps.Fma(x0, w4, a40);
                a41 = TOps.Fma(x1, w4, a41);
                a42 = TOps.Fma(x2, w4, a42);
                TV w5 = TOps.Broadcast(w + 5);
                a50 = TOps.Fma(x0, w5, a50);
                a51 = TOps.Fma(x1, w5, a51);
                a52 = TOps.Fma(x2, w5, a52);
                TV w6 = TOps.Broadcast(w + 6);
                a60 = TOps.Fma(x0, w6, a60);
                a61 = TOps.Fma(x1, w6, a61);
                a62 = TOps.Fma(x2, w6, a62);
                TV w7 = TOps.Broadcast(w + 7);
                a70 = TOps.Fma(x0, w7, a70);
                a71 = TOps.Fma(x1, w7, a71);
                a72 = TOps.Fma(x2, w7, a72);
                w += 8;
            }
            i0 += planeStride;
            i1 += planeStride;
            i2 += planeStride;
        }

        // No call may sit among these stores: every zmm is caller-saved, and a call while the accumulators
        // are live makes the register allocator spill them on every FMA of the loop above. So a short
        // output vector goes whole into tmp ([slot][KT][lanes]) and is copied out after the last store.
        int lanes = TOps.Count;
        long plane = t.OutputPlane;
        float* y = t.Output;
        float* d0 = n0 == lanes ? y + o0 : tmp + 0 * lanes;
        long s0 = n0 == lanes ? plane : lanes;
        float* d1 = n1 == lanes ? y + o1 : tmp + 8 * lanes;
        long s1 = n1 == lanes ? plane : lanes;
        float* d2 = n2 == lanes ? y + o2 : tmp + 16 * lanes;
        long s2 = n2 == lanes ? plane : lanes;
        TOps.Store(d0, a00);
        TOps.Store(d1, a01);
        TOps.Store(d2, a02);
        if (t.KValid > 1)
        {
            TOps.Store(d0 + s0, a10);
            TOps.Store(d1 + s1, a11);
            TOps.Store(d2 + s2, a12);
        }
        if (t.KValid > 2)
        {
            TOps.Store(d0 + 2 * s0, a20);
            TOps.Store(d1 + 2 * s1, a21);
            TOps.Store(d2 + 2 * s2, a22);
        }
        if (t.KValid > 3)
        {
            TOps.Store(d0 + 3 * s0, a30);
            TOps.Store(d1 + 3 * s1, a31);
            TOps.Store(d2 + 3 * s2, a32);
        }
        if (t.KValid > 4)
        {
            TOps.Store(d0 + 4 * s0, a40);
            TOps.Store(d1 + 4 * s1, a41);
            TOps.Store(d2 + 4 * s2, a42);
        }
        if (t.KValid > 5)
        {
            TOps.Store(d0 + 5 * s0, a50);
            TOps.Store(d1 + 5 * s1, a51);
            TOps.Store(d2 + 5 * s2, a52);
        }
        if (t.KValid > 6)
        {
            TOps.Store(d0 + 6 * s0, a60);
            TOps.Store(d1 + 6 * s1, a61);
            TOps.Store(d2 + 6 * s2, a62);
        }
        if (t.KValid > 7)
        {
            TOps.Store(d0 + 7 * s0, a70);
            TOps.Store(d1 + 7 * s1, a71);
            TOps.Store(d2 + 7 * s2, a72);
        }
        if ((n0 & n1 & n2) != lanes)
        {
            CopyShortVectors(tmp, 8, lanes, t, o0, o1, o2, n0, n1, n2);
        }
    }

    /// <summary>4 output channels × 3 output vectors; see the class comment for the register budget.</summary>
    private static void Kernel4x3<TV, TOps>(in DirectTile t, float* tmp, long b0, long b1, long b2, int o0, int o1, int o2, int n0, int n1, int n2)
        where TV : unmanaged
        where TOps : IConvVec<TV>
    {
        TV a00 = TOps.Zero; TV a01 = TOps.Zero; TV a02 = TOps.Zero;
        TV a10 = TOps.Zero; TV a11 = TOps.Zero; TV a12 = TOps.Zero;
        TV a20 = TOps.Zero; TV a21 = TOps.Zero; TV a22 = TOps.Zero;
        TV a30 = TOps.Zero; TV a31 = TOps.Zero; TV a32 = TOps.Zero;
        float* i0 = t.Input + b0, i1 = t.Input + b1, i2 = t.Input + b2;
        float* w = t.Weights;
        int* taps = t.Taps;
        int nTaps = t.TapCount;
        long planeStride = t.PlaneStride;
        for (int c = 0; c < t.Channels; c++)
        {
            for (int tap = 0; tap < nTaps; tap++)
            {
                int off = taps[tap];
                TV x0 = TOps.Load(i0 + off), x1 = TOps.Load(i1 + off), x2 = TOps.Load(i2 + off);
                TV w0 = TOps.Broadcast(w + 0);
                a00 = TOps.Fma(x0, w0, a00);
                a01 = TOps.Fma(x1, w0, a01);
                a02 = TOps.Fma(x2, w0, a02);
                TV w1 = TOps.Broadcast(w + 1);
                a10 = TOps.Fma(x0, w1, a10);
                a11 = TOps.Fma(x1, w1, a11);
                a12 = TOps.Fma(x2, w1, a12);
                TV w2 = TOps.Broadcast(w + 2);
                a20 = TOps.Fma(x0, w2, a20);
                a21 = TOps.Fma(x1, w2, a21);
                a22 = TOps.Fma(x2, w2, a22);
                TV w3 = TOps.Broadcast(w + 3);
                a30 = TOps.Fma(x0, w3, a30);
                a31 = TOps.Fma(x1, w3, a31);
                a32 = TOps.Fma(x2, w3, a32);
                w += 4;
            }
            i0 += planeStride;
            i1 += planeStride;
            i2 += planeStride;
        }

        // No call may sit among these stores: every zmm is caller-saved, and a call while the accumulators
        // are live makes the register allocator spill them on every FMA of the loop above. So a short
        // output vector goes whole into tmp ([slot][KT][lanes]) and is copied out after the last store.
        int lanes = TOps.Count;
        long plane = t.OutputPlane;
        float* y = t.Output;
        float* d0 = n0 == lanes ? y + o0 : tmp + 0 * lanes;
        long s0 = n0 == lanes ? plane : lanes;
        float* d1 = n1 == lanes ? y + o1 : tmp + 4 * lanes;
        long s1 = n1 == lanes ? plane : lanes;
        float* d2 = n2 == lanes ? y + o2 : tmp + 8 * lanes;
        long s2 = n2 == lanes ? plane : lanes;
        TOps.Store(d0, a00);
        TOps.Store(d1, a01);
        TOps.Store(d2, a02);
        if (t.KValid > 1)
        {
            TOps.Store(d0 + s0, a10);
            TOps.Store(d1 + s1, a11);
            TOps.Store(d2 + s2, a12);
        }
        if (t.KValid > 2)
        {
            TOps.Store(d0 + 2 * s0, a20);
            TOps.Store(d1 + 2 * s1, a21);
            TOps.Store(d2 + 2 * s2, a22);
        }
        if (t.KValid > 3)
        {
            TOps.Store(d0 + 3 * s0, a30);
            TOps.Store(d1 + 3 * s1, a31);
            TOps.Store(d2 + 3 * s2, a32);
        }
        if ((n0 & n1 & n2) != lanes)
        {
            CopyShortVectors(tmp, 4, lanes, t, o0, o1, o2, n0, n1, n2);
        }
    }

    /// <summary>Copies the valid lanes of the short output vectors a kernel left in tmp ([slot][kt][lanes]).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void CopyShortVectors(float* tmp, int kt, int lanes, in DirectTile t, int o0, int o1, int o2, int n0, int n1, int n2)
    {
        CopyShort(tmp, lanes, t, o0, n0);
        CopyShort(tmp + kt * lanes, lanes, t, o1, n1);
        CopyShort(tmp + 2 * kt * lanes, lanes, t, o2, n2);
    }

    private static void CopyShort(float* src, int lanes, in DirectTile t, int o, int n)
    {
        if (n == lanes)
        {
            return;
        }
        float* y = t.Output;
        long plane = t.OutputPlane;
        if (t.VirtualWidth == 0)
        {
            for (int k = 0; k < t.KValid; k++)
            {
                for (int i = 0; i < n; i++)
                {
                    y[k * plane + o + i] = src[k * lanes + i];
                }
            }
            return;
        }
        for (int i = 0; i < lanes; i++)
        {
            int v = o + i, p = v / t.VirtualWidth, q = v - p * t.VirtualWidth;
            if (q < t.Q && p < t.P)
            {
                for (int k = 0; k < t.KValid; k++)
                {
                    y[k * plane + p * t.Q + q] = src[k * lanes + i];
                }
            }
        }
    }
}

/// <summary>A <c>direct</c> plan at one SIMD level.</summary>
internal sealed unsafe class DirectPlan<TV, TOps> : IConv2dPlan
    where TV : unmanaged
    where TOps : IConvVec<TV>
{
    private readonly Conv2dShape _shape;
    private readonly CpuContext _context;
    private readonly CpuEpilogue _epilogue;
    private readonly ConvPaddedInput _layout;
    private readonly int _kt;
    private readonly int _blocks;       // output-channel blocks per group
    private readonly int _rowsPerChunk;
    private readonly int _chunks;       // row chunks per output plane
    private readonly int _vectorsPerRow;
    private readonly bool _flat;        // see the constructor
    private readonly bool _inPlace;     // unpadded stride-1 1×1: the image read where it is (see the constructor)
    private readonly int[] _chunkStart; // in-place mode: first slot of each chunk (and the slot count last)
    private readonly int _slotCount;
    private readonly float[] _packed;   // pinned
    private readonly float[] _scratch;  // pinned: one image, padded and de-interleaved
    private readonly int[] _taps;       // pinned
    private readonly long[] _slotIn;    // pinned: per output vector (p, q0): scratch offset of its first tap
    private readonly int[] _slotOut;    // pinned: its offset in the output plane
    private readonly int[] _slotN;      // pinned: its valid lanes
    private readonly CopyJob _copy;
    private readonly ComputeJob _compute;

    public DirectPlan(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue, CpuContext context, int kt)
    {
        _shape = shape;
        _context = context;
        _kt = kt;
        _epilogue = new CpuEpilogue(shape.K, bias is null ? default : bias.Span, epilogue);
        int lanes = TOps.Count;
        // Flat mode for small stride-1 planes (ResNet's 7×7 stage: 16 lanes over Q = 7 would drop 9 of every
        // 16 lanes): vectors run across row ends over P·Wp virtual pixels and the Wp − Q pad columns are
        // dropped, 7 of 9 lanes useful instead of 7 of 16. Only when it needs fewer vectors than one per row
        // piece, and only for planes small enough to be one task per output-channel block.
        int pRows = shape.P, qCols = shape.Q;
        int wpFlat = shape.W + shape.Params.Padding.Left + shape.Params.Padding.Right;
        int flatVectors = ((pRows - 1) * wpFlat + qCols + lanes - 1) / lanes;
        int rowVectors = pRows * ((qCols + lanes - 1) / lanes);
        _flat = shape.Params.StrideW == 1 && shape.Params.StrideH == 1 && lanes > 1 && flatVectors < rowVectors && flatVectors <= 24;
        // An unpadded stride-1 1×1 conv (MobileNet's thin pointwise layers) reads the image in place as one flat run
        // of H·W pixels: no copy (it was a plain copy of the whole input per run), and whole vectors everywhere,
        // the last one overlapping the one before it (it recomputes a few pixels with the same values) so no load
        // leaves a plane. Needs H·W ≥ lanes.
        int hw = shape.H * shape.W;
        _inPlace = shape.R == 1 && shape.S == 1 && shape.Params.StrideH == 1 && shape.Params.StrideW == 1
            && shape.Params.Padding == default && hw >= lanes && lanes > 1;
        if (_inPlace)
        {
            _flat = false;
        }
        _layout = new ConvPaddedInput(shape, lanes, _flat);
        int cg = shape.InputChannelsPerGroup, kg = shape.OutputChannelsPerGroup, rs = shape.R * shape.S;
        _blocks = (kg + kt - 1) / kt;

        // Pack: [g][block][c][tap][kt], zero past K/g (once per weights for all of a session's execution contexts).
        int blocks = _blocks, groups = shape.Groups;
        _packed = PlanSharing.Get(weights.Memory, ("direct", groups, kg, cg, rs, kt), () =>
        {
            float[] packed = GC.AllocateArray<float>(groups * blocks * cg * rs * kt, pinned: true);
            ReadOnlySpan<float> w = weights.Span;
            for (int g = 0; g < groups; g++)
            {
                for (int kk = 0; kk < kg; kk++)
                {
                    int b = kk / kt, lane = kk % kt;
                    long blockBase = (long)(g * blocks + b) * cg * rs * kt;
                    for (int c = 0; c < cg; c++)
                    {
                        for (int t = 0; t < rs; t++)
                        {
                            packed[blockBase + ((long)c * rs + t) * kt + lane] = w[((g * kg + kk) * cg + c) * rs + t];
                        }
                    }
                }
            }
            return packed;
        });

        _taps = GC.AllocateArray<int>(rs, pinned: true);
        _layout.TapOffsets.CopyTo(_taps, 0);
        _scratch = _inPlace ? [] : GC.AllocateArray<float>(checked((int)(shape.C * _layout.PlaneStride + _layout.Slack)), pinned: true);
        _chunkStart = [];

        int p = shape.P, q = shape.Q;
        _vectorsPerRow = (q + lanes - 1) / lanes;
        _slotCount = _flat ? flatVectors : p * _vectorsPerRow;
        _slotIn = GC.AllocateArray<long>(_slotCount, pinned: true);
        _slotOut = GC.AllocateArray<int>(_slotCount, pinned: true);
        _slotN = GC.AllocateArray<int>(_slotCount, pinned: true);
        if (_inPlace)
        {
            int whole = hw / lanes;
            _slotCount = whole + (hw % lanes == 0 ? 0 : 1);
            _slotIn = GC.AllocateArray<long>(_slotCount, pinned: true);
            _slotOut = GC.AllocateArray<int>(_slotCount, pinned: true);
            _slotN = GC.AllocateArray<int>(_slotCount, pinned: true);
            for (int i = 0; i < _slotCount; i++)
            {
                int at = Math.Min(i * lanes, hw - lanes);
                _slotIn[i] = at;
                _slotOut[i] = at;
                _slotN[i] = lanes;
            }
            // 24 vectors (8 kernel calls) per chunk, like the row mode; the overlapping last vector stays in the
            // chunk of the one before it, so the epilogue runs once on every pixel.
            int chunks = Math.Max(1, _slotCount / 24);
            _chunkStart = new int[chunks + 1];
            for (int c = 0; c <= chunks; c++)
            {
                _chunkStart[c] = (int)((long)_slotCount * c / chunks);
            }
            _rowsPerChunk = 1;
            _chunks = chunks;
        }
        else if (_flat)
        {
            for (int i = 0; i < _slotCount; i++)
            {
                _slotIn[i] = (long)i * lanes; // virtual pixel i·lanes = (p, q) at p·Wp + q, whose first tap is there too
                _slotOut[i] = i * lanes;
                _slotN[i] = 0;                // never a whole output vector: always stored through the scatter
            }
            _rowsPerChunk = p;
            _chunks = 1;
        }
        else
        {
            for (int pp = 0; pp < p; pp++)
            {
                for (int v = 0; v < _vectorsPerRow; v++)
                {
                    int i = pp * _vectorsPerRow + v, q0 = v * lanes;
                    _slotIn[i] = _layout.SlotBase(pp, q0);
                    _slotOut[i] = pp * q + q0;
                    _slotN[i] = Math.Min(lanes, q - q0);
                }
            }
            // About 8 kernel calls (24 output vectors) per task: enough rows to amortize the weight block's trip
            // through L1/L2, few enough that small layers still give every thread work.
            _rowsPerChunk = Math.Clamp((24 + _vectorsPerRow - 1) / _vectorsPerRow, 1, p);
            _chunks = (p + _rowsPerChunk - 1) / _rowsPerChunk;
        }
        _copy = new CopyJob(this);
        _compute = new ComputeJob(this);
    }

    public Conv2dShape Shape => _shape;
    public string Algorithm => Conv2dDirect.AlgorithmName;
    public long WorkspaceBytes => 4L * (_packed.Length + _scratch.Length + _chunkStart.Length) + 16L * _slotIn.Length;
    public TensorShape OutputShape => _shape.OutputShape;

    public void Execute(Tensor x, Tensor y, Tensor? residual = null)
    {
        ConvPlanChecks.Require(_shape, _epilogue.AddResidual, x, y, residual);
        Conv2dShape s = _shape;
        fixed (float* px = x.Span)
        fixed (float* py = y.Span)
        fixed (float* pr = residual is null ? default : residual.Span)
        {
            for (int n = 0; n < s.N; n++)
            {
                _copy.Source = px + (long)n * s.C * s.H * s.W;
                _compute.Image = _copy.Source;
                if (!_inPlace)
                {
                    _context.Pool.For(s.C, _copy);
                }
                _compute.Output = py + (long)n * s.K * s.P * s.Q;
                _compute.Residual = pr is null ? null : pr + (long)n * s.K * s.P * s.Q;
                _context.Pool.For(s.Groups * _blocks * _chunks, _compute);
            }
        }
    }

    public void Dispose()
    {
    }

    private sealed class CopyJob(DirectPlan<TV, TOps> plan) : IParallelJob
    {
        public float* Source;

        public void Run(int index)
        {
            fixed (float* scratch = plan._scratch)
            {
                ConvPaddedInput l = plan._layout;
                plan._layout.CopyPlane(Source + (long)index * l.H * l.W, scratch + index * l.PlaneStride);
            }
        }
    }

    private sealed class ComputeJob(DirectPlan<TV, TOps> plan) : IParallelJob
    {
        public float* Output;
        public float* Residual;
        public float* Image;

        public void Run(int index)
        {
            DirectPlan<TV, TOps> pl = plan;
            Conv2dShape s = pl._shape;
            int chunk = index % pl._chunks, rest = index / pl._chunks;
            int b = rest % pl._blocks, g = rest / pl._blocks;
            int cg = s.InputChannelsPerGroup, kg = s.OutputChannelsPerGroup, rs = s.R * s.S, kt = pl._kt;
            int k0 = g * kg + b * kt;
            int kValid = Math.Min(kt, kg - b * kt);
            long outPlane = (long)s.P * s.Q;
            int p0 = chunk * pl._rowsPerChunk, p1 = Math.Min(s.P, p0 + pl._rowsPerChunk);
            fixed (float* scratch = pl._scratch)
            fixed (float* packed = pl._packed)
            fixed (int* taps = pl._taps)
            fixed (long* slotIn = pl._slotIn)
            fixed (int* slotOut = pl._slotOut)
            fixed (int* slotN = pl._slotN)
            {
                long planeStride = pl._inPlace ? (long)s.H * s.W : pl._layout.PlaneStride;
                var tile = new DirectTile
                {
                    Input = (pl._inPlace ? Image : scratch) + (long)g * cg * planeStride,
                    PlaneStride = planeStride,
                    Weights = packed + (long)(g * pl._blocks + b) * cg * rs * kt,
                    Taps = taps,
                    TapCount = rs,
                    Channels = cg,
                    Output = Output + k0 * outPlane,
                    OutputPlane = outPlane,
                    KValid = kValid,
                    VirtualWidth = pl._flat ? pl._layout.RowStride : 0,
                    P = s.P,
                    Q = s.Q,
                };
                if (pl._inPlace)
                {
                    int first = pl._chunkStart[chunk], end = pl._chunkStart[chunk + 1];
                    DirectKernels.Run<TV, TOps>(kt, tile, slotIn, slotOut, slotN, first, end);
                    if (!pl._epilogue.IsIdentity)
                    {
                        int j0 = slotOut[first], len = Math.Min(s.H * s.W, slotOut[end - 1] + TOps.Count) - j0;
                        for (int k = 0; k < kValid; k++)
                        {
                            long off = (k0 + k) * outPlane + j0;
                            pl._epilogue.Apply(k0 + k, new Span<float>(Output + off, len),
                                Residual is null ? default : new ReadOnlySpan<float>(Residual + off, len));
                        }
                    }
                    return;
                }
                if (pl._flat)
                {
                    DirectKernels.Run<TV, TOps>(kt, tile, slotIn, slotOut, slotN, 0, pl._slotCount);
                }
                else
                {
                    DirectKernels.Run<TV, TOps>(kt, tile, slotIn, slotOut, slotN, p0 * pl._vectorsPerRow, p1 * pl._vectorsPerRow);
                }
                if (!pl._epilogue.IsIdentity)
                {
                    int len = (p1 - p0) * s.Q;
                    for (int k = 0; k < kValid; k++)
                    {
                        long off = (k0 + k) * outPlane + (long)p0 * s.Q;
                        pl._epilogue.Apply(k0 + k, new Span<float>(Output + off, len),
                            Residual is null ? default : new ReadOnlySpan<float>(Residual + off, len));
                    }
                }
            }
        }
    }
}

/// <summary>The checks every CPU conv plan makes on its arguments before running.</summary>
internal static class ConvPlanChecks
{
    /// <summary>
    /// The checks every CPU conv plan makes on each execution; they compare dimensions and build no shape or
    /// message unless one fails, so Execute stays allocation-free.
    /// </summary>
    public static void Require(Conv2dShape s, bool addResidual, Tensor x, Tensor y, Tensor? residual)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (!Is(x.Shape, s.N, s.C, s.H, s.W))
        {
            Reference.RequireShape(x, s.InputShape, "input", "Conv2d", s);
        }
        if (!Is(y.Shape, s.N, s.K, s.P, s.Q))
        {
            Reference.RequireShape(y, s.OutputShape, "output", "Conv2d", s);
        }
        if (addResidual != residual is not null)
        {
            throw new InvalidShapeException($"Conv2d: the epilogue {(addResidual ? "adds a residual but none was given" : "adds no residual but one was given")}; {s}.");
        }
        if (residual is not null && !Is(residual.Shape, s.N, s.K, s.P, s.Q))
        {
            Reference.RequireShape(residual, s.OutputShape, "residual", "Conv2d", s);
        }
    }

    private static bool Is(TensorShape t, int n, int c, int h, int w) => t.Rank == 4 && t[0] == n && t[1] == c && t[2] == h && t[3] == w;
}
