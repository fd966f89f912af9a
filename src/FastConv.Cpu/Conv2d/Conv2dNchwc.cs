using System.Runtime.Intrinsics;
using FastConv.Backends;
using FastConv.Cpu.Kernels;
using FastConv.Cpu.Threading;
using FastConv.Ops;

namespace FastConv.Cpu.Conv2d;

/// <summary>
/// <c>direct-nchwc</c>: direct convolution with the channel-blocked micro-kernel of <see cref="NchwcKernels"/>
/// (vectors along output channels, one broadcast input value per output pixel) on NCHW tensors. Any R, S,
/// stride, dilation, padding and groups; it sums the same C/g·R·S products per output as the reference, so it
/// is allowed under <see cref="CpuPrecision.Exact"/>.
/// <para>
/// Why a second direct path. The <c>direct</c> kernel vectorizes along the output row, which wastes lanes on
/// small planes (Q = 7 fills 7 of 16 lanes) and needs a de-interleaved copy for strides. Here lanes are output
/// channels, so a 7×7 plane or a stride of 2 costs nothing extra: the stride only changes which input values are
/// broadcast. 1×1 convs on 7×7 and 14×14 planes become a small-N GEMM without packing B, and strided 1×1
/// downsamples read the input in place.
/// </para>
/// <para>
/// Blocking. A task is (group, block of KB·lanes output channels, run of output pixels). It walks the input
/// channels in ranges whose packed weights (C'·R·S·KB·lanes floats, ~64 KB) stay in L1/L2 while every 6-pixel
/// tile of the run passes under them, accumulating into a per-thread tile laid out [block][pixel][lanes]
/// (NCHWc), then transposes that tile into the NCHW rows (16×16 in registers) and runs the epilogue on them
/// while they are in cache. Padded convs read a zero-padded copy of the image (borders written once at plan
/// time); unpadded ones read the input in place.
/// </para>
/// </summary>
internal sealed class Conv2dNchwc : IConv2dAlgorithm
{
    public const string AlgorithmName = "direct-nchwc";

    public string Name => AlgorithmName;

    public bool Supports(Conv2dShape shape, CpuContext context) => true;

    /// <summary>
    /// Where it beats the other paths: not on depthwise or thin groups (a block of output channels per group
    /// would be mostly padding). Unpadded stride-1 1×1 convs run here on small planes, where the GEMM's 32-column
    /// tiles and its B packing do not pay, and on larger planes when C and K are both at least 64 (measured
    /// against ONNX Runtime in the same run, 1 thread, AVX-512: ResNet-50's l1_1x1_reduce 0.95 here against 1.66
    /// as a GEMM, l2_1x1_reduce_first 1.00 against 1.39, l3_1x1_reduce_first 0.99 against 1.21, the expands
    /// equal); MobileNet's thin pointwise layers (C or K of 16–32) keep <c>gemm-1x1</c>, which was faster there.
    /// Below AVX-512 only reducing pointwise layers come here (see the body).
    /// </summary>
    public bool IsWorthIt(Conv2dShape shape, CpuContext context)
    {
        if (shape.OutputChannelsPerGroup < 16 || shape.Groups > 1 && shape.InputChannelsPerGroup < 8)
        {
            return false;
        }
        Conv2dParams p = shape.Params;
        bool pointwise = shape.R == 1 && shape.S == 1 && p.StrideH == 1 && p.StrideW == 1 && p.Padding == default;
        if (!pointwise)
        {
            return true;
        }
        if (context.Simd < SimdLevel.Avx512)
        {
            // With 8 lanes the 8×8 transposes back to NCHW cost more per output and the tile is 16 channels, so only
            // reducing layers (K < C: few outputs per multiply-add) with C ≥ 64 gain (thinner ones stay with direct); measured against ONNX Runtime in the same
            // run with FASTCONV_SIMD=avx2, 1 thread: l1_1x1_reduce 1.12 here against 1.30 as a GEMM, pw960_320 1.43
            // against 1.56, but l1_1x1_expand 1.66 against 1.15 and l4_1x1_expand 1.64 against 1.41.
            return shape.OutputChannelsPerGroup < shape.InputChannelsPerGroup && shape.InputChannelsPerGroup >= 64;
        }
        return shape.P * shape.Q <= SmallPlane
            || shape.InputChannelsPerGroup >= 64 && shape.OutputChannelsPerGroup >= 64;
    }

    /// <summary>Output pixels per image up to which a stride-1 1×1 conv runs here rather than as a GEMM.</summary>
    internal const int SmallPlane = 196;

    public IConv2dPlan Plan(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue, CpuContext context)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(context);
        return context.Simd switch
        {
            SimdLevel.Avx512 => new NchwcPlan<Vector512<float>, ConvVec512>(shape, weights, bias, epilogue, context),
            SimdLevel.Avx2 => new NchwcPlan<Vector256<float>, ConvVec256>(shape, weights, bias, epilogue, context),
            SimdLevel.Vector128 => new NchwcPlan<Vector128<float>, ConvVec128>(shape, weights, bias, epilogue, context),
            _ => new NchwcPlan<float, ConvVecScalar>(shape, weights, bias, epilogue, context),
        };
    }

    /// <summary>Output-channel blocks per kernel call: 4 on AVX-512 when K/g fills them, else 2 (see <see cref="NchwcKernels"/>).</summary>
    internal static int BlocksPerCall(int lanes, int kg) => lanes == 16 && (kg % 64 == 0 || kg > 128) ? 4 : 2;

    /// <summary>
    /// Packs OIHW weights of one conv as [g][channel group of gc = KB·lanes][c][r·S + s][gc], zero past K/g, so a
    /// tap's KB weight vectors are one contiguous run and a range of input channels is one contiguous slice.
    /// </summary>
    internal static unsafe PinnedBuffer PackWeights(Conv2dShape shape, ReadOnlySpan<float> w, int gc)
    {
        int cg = shape.InputChannelsPerGroup, kg = shape.OutputChannelsPerGroup, rs = shape.R * shape.S;
        int kGroups = (kg + gc - 1) / gc;
        // 64-byte aligned: a weight vector split across two cache lines costs two loads on every tap.
        var buffer = new PinnedBuffer((long)shape.Groups * kGroups * cg * rs * gc);
        var packed = new Span<float>(buffer.Pointer, checked((int)buffer.Length));
        packed.Clear();
        for (int g = 0; g < shape.Groups; g++)
        {
            for (int kk = 0; kk < kg; kk++)
            {
                int grp = kk / gc, lane = kk % gc;
                long groupBase = (long)(g * kGroups + grp) * cg * rs * gc;
                for (int c = 0; c < cg; c++)
                {
                    for (int t = 0; t < rs; t++)
                    {
                        packed[(int)(groupBase + ((long)c * rs + t) * gc + lane)] = w[((g * kg + kk) * cg + c) * rs + t];
                    }
                }
            }
        }
        return buffer;
    }

    /// <summary>Input channels per weight slice: about 64 KB of packed weights (at least one channel).</summary>
    internal static int ChannelRange(Conv2dShape shape, int gc)
    {
        int cg = shape.InputChannelsPerGroup, perChannel = shape.R * shape.S * gc;
        // Up to twice the slice is taken whole rather than split into a full range and a sliver (ResNet's stem:
        // 3 channels × 7×7 taps would run as 2 + 1 channels, a second pass over every output tile for one channel).
        return (long)cg * perChannel <= 2L * WeightSliceFloats ? cg : Math.Clamp(WeightSliceFloats / perChannel, 1, cg);
    }

    /// <summary>Packed weights per channel range: 32 KB, which stays in the 48 KB L1 beside the inputs of a tile.</summary>
    internal const int WeightSliceFloats = 8192;
}

/// <summary>A <c>direct-nchwc</c> plan at one SIMD level on NCHW input and output.</summary>
internal sealed unsafe class NchwcPlan<TV, TOps> : IConv2dPlan
    where TV : unmanaged
    where TOps : IConvVec<TV>
{
    private const int TargetPixels = 96;

    private readonly Conv2dShape _shape;
    private readonly CpuContext _context;
    private readonly CpuEpilogue _epilogue;
    private readonly int _kb, _gc, _kGroups, _cRange;
    private readonly int _chunkPixels, _chunks;
    private readonly bool _padded;
    private readonly int _rowStride;
    private readonly long _plane;
    private readonly PinnedBuffer _packed;
    private readonly float[] _scratch;   // pinned: one padded image (padded convs only)
    private readonly int[] _offsets;     // pinned: c·plane + tap offset for every (c, tap) of a channel range
    private readonly int[] _pix;         // pinned: first-tap offset of every output pixel, the last repeated 5 times
    private readonly PinnedBuffer[] _tiles; // one [KB][chunk pixels][lanes] accumulator tile per thread
    private readonly int[] _busy;
    private readonly CopyJob _copy;
    private readonly ComputeJob _compute;

    public NchwcPlan(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue, CpuContext context)
    {
        _shape = shape;
        _context = context;
        _epilogue = new CpuEpilogue(shape.K, bias is null ? default : bias.Span, epilogue);
        int lanes = TOps.Count;
        int kg = shape.OutputChannelsPerGroup;
        _kb = Conv2dNchwc.BlocksPerCall(lanes, kg);
        _gc = _kb * lanes;
        _kGroups = (kg + _gc - 1) / _gc;
        int gc = _gc;
        _packed = PlanSharing.Get(weights.Memory, ("nchwc", shape.Groups, shape.K, shape.C, shape.R, shape.S, gc), () => Conv2dNchwc.PackWeights(shape, weights.Span, gc));
        _cRange = Conv2dNchwc.ChannelRange(shape, _gc);

        Conv2dParams p = shape.Params;
        _padded = p.Padding != default;
        int hp = shape.H + p.Padding.Top + p.Padding.Bottom, wp = shape.W + p.Padding.Left + p.Padding.Right;
        _rowStride = _padded ? wp : shape.W;
        _plane = _padded ? (long)hp * wp : (long)shape.H * shape.W;
        _scratch = _padded ? GC.AllocateArray<float>(checked((int)(shape.C * _plane)), pinned: true) : [];
        int rs = shape.R * shape.S;
        _offsets = GC.AllocateArray<int>(_cRange * rs, pinned: true);
        for (int c = 0; c < _cRange; c++)
        {
            for (int r = 0; r < shape.R; r++)
            {
                for (int s = 0; s < shape.S; s++)
                {
                    _offsets[(c * shape.R + r) * shape.S + s] = checked((int)(c * _plane + (long)r * p.DilationH * _rowStride + s * p.DilationW));
                }
            }
        }
        int pq = shape.P * shape.Q;
        _pix = GC.AllocateArray<int>(pq + NchwcKernels.Pixels - 1, pinned: true);
        for (int j = 0; j < _pix.Length; j++)
        {
            int jj = Math.Min(j, pq - 1), pp = jj / shape.Q, qq = jj % shape.Q;
            _pix[j] = pp * p.StrideH * _rowStride + qq * p.StrideW;
        }

        // Runs of ~96 pixels (16 tiles under each weight slice), more of them when the channel blocks alone
        // would leave a thread idle; a multiple of 6 so only a run's last tile is short.
        int threads = context.Pool.Threads;
        int chunks = Math.Max((pq + TargetPixels - 1) / TargetPixels, (2 * threads + shape.Groups * _kGroups - 1) / (shape.Groups * _kGroups));
        chunks = Math.Clamp(chunks, 1, (pq + NchwcKernels.Pixels - 1) / NchwcKernels.Pixels);
        int per = (pq + chunks - 1) / chunks;
        _chunkPixels = (per + NchwcKernels.Pixels - 1) / NchwcKernels.Pixels * NchwcKernels.Pixels;
        _chunks = (pq + _chunkPixels - 1) / _chunkPixels;

        _tiles = new PinnedBuffer[threads];
        for (int i = 0; i < threads; i++)
        {
            _tiles[i] = new PinnedBuffer((long)_kb * _chunkPixels * lanes);
        }
        _busy = new int[threads];
        _copy = new CopyJob(this);
        _compute = new ComputeJob(this);
    }

    public Conv2dShape Shape => _shape;
    public string Algorithm => Conv2dNchwc.AlgorithmName;
    public long WorkspaceBytes => _packed.Bytes + 4L * (_scratch.Length + _pix.Length + _offsets.Length) + _tiles.Sum(t => t.Bytes);
    public TensorShape OutputShape => _shape.OutputShape;

    public void Execute(Tensor x, Tensor y, Tensor? residual = null)
    {
        ConvPlanChecks.Require(_shape, _epilogue.AddResidual, x, y, residual);
        Conv2dShape s = _shape;
        fixed (float* px = x.Span)
        fixed (float* py = y.Span)
        fixed (float* pr = residual is null ? default : residual.Span)
        fixed (float* scratch = _scratch)
        {
            for (int n = 0; n < s.N; n++)
            {
                float* image = px + (long)n * s.C * s.H * s.W;
                if (_padded)
                {
                    _copy.Source = image;
                    _copy.Target = scratch;
                    _context.Pool.For(s.C, _copy);
                    _compute.Input = scratch;
                }
                else
                {
                    _compute.Input = image;
                }
                _compute.Output = py + (long)n * s.K * s.P * s.Q;
                _compute.Residual = pr is null ? null : pr + (long)n * s.K * s.P * s.Q;
                _context.Pool.For(s.Groups * _kGroups * _chunks, _compute);
            }
        }
        _copy.Source = _copy.Target = null;
        _compute.Input = _compute.Output = _compute.Residual = null;
    }

    public void Dispose()
    {
    }

    private int AcquireSlot()
    {
        while (true)
        {
            for (int s = 0; s < _busy.Length; s++)
            {
                if (Interlocked.CompareExchange(ref _busy[s], 1, 0) == 0)
                {
                    return s;
                }
            }
            Thread.SpinWait(1);
        }
    }

    /// <summary>Copies input channel <c>index</c> into the interior of its zero-padded plane.</summary>
    private sealed class CopyJob(NchwcPlan<TV, TOps> plan) : IParallelJob
    {
        public float* Source;
        public float* Target;

        public void Run(int index)
        {
            Conv2dShape s = plan._shape;
            Padding2d pad = s.Params.Padding;
            float* src = Source + (long)index * s.H * s.W;
            float* dst = Target + index * plan._plane + (long)pad.Top * plan._rowStride + pad.Left;
            for (int h = 0; h < s.H; h++)
            {
                new ReadOnlySpan<float>(src + (long)h * s.W, s.W).CopyTo(new Span<float>(dst + (long)h * plan._rowStride, s.W));
            }
        }
    }

    private sealed class ComputeJob(NchwcPlan<TV, TOps> plan) : IParallelJob
    {
        public float* Input;
        public float* Output;
        public float* Residual;

        public void Run(int index)
        {
            NchwcPlan<TV, TOps> pl = plan;
            int slot = pl.AcquireSlot();
            try
            {
                Compute(pl, index, slot);
            }
            finally
            {
                Volatile.Write(ref pl._busy[slot], 0);
            }
        }

        private void Compute(NchwcPlan<TV, TOps> pl, int index, int slot)
        {
            Conv2dShape s = pl._shape;
            int lanes = TOps.Count;
            // Output-channel groups vary fastest: consecutive tasks (on any thread) share the run's input pixels,
            // which then stay in cache across the groups instead of being fetched again per group.
            int kgi = index % pl._kGroups, rest = index / pl._kGroups;
            int chunk = rest % pl._chunks, g = rest / pl._chunks;
            int cg = s.InputChannelsPerGroup, kg = s.OutputChannelsPerGroup, rs = s.R * s.S, gc = pl._gc;
            int pq = s.P * s.Q;
            int j0 = chunk * pl._chunkPixels, j1 = Math.Min(pq, j0 + pl._chunkPixels), np = j1 - j0;
            float* packed = pl._packed.Pointer, tile = pl._tiles[slot].Pointer;
            fixed (int* offsets = pl._offsets)
            fixed (int* pix = pl._pix)
            {
                var t = new NchwcTile
                {
                    Offsets = offsets,
                    OutBlockStride = (long)pl._chunkPixels * lanes,
                };
                for (int c0 = 0; c0 < cg; c0 += pl._cRange)
                {
                    t.Input = Input + (long)(g * cg + c0) * pl._plane;
                    t.Count = Math.Min(pl._cRange, cg - c0) * rs;
                    t.Weights = packed + ((long)(g * pl._kGroups + kgi) * cg + c0) * rs * gc;
                    t.Accumulate = c0 > 0;
                    for (int j = j0; j < j1; j += NchwcKernels.Pixels)
                    {
                        NchwcKernels.Run<TV, TOps>(pl._kb, t, pix + j, tile + (j - j0) * lanes, Math.Min(NchwcKernels.Pixels, j1 - j));
                    }
                }
                for (int b = 0; b < pl._kb; b++)
                {
                    int kk = kgi * gc + b * lanes;
                    int valid = Math.Min(lanes, kg - kk);
                    if (valid <= 0)
                    {
                        break;
                    }
                    int k = g * kg + kk;
                    float* dst = Output + (long)k * pq + j0;
                    float* block = tile + (long)b * pl._chunkPixels * lanes;
                    bool finished = pl._epilogue.IsIdentity || pl._epilogue.TryApplyBlocked(k, valid, block, np, lanes);
                    NchwcTranspose.BlockToRows(block, lanes, np, valid, dst, pq);
                    if (!finished)
                    {
                        for (int l = 0; l < valid; l++)
                        {
                            long off = (long)(k + l) * pq + j0;
                            pl._epilogue.Apply(k + l, new Span<float>(Output + off, np),
                                Residual is null ? default : new ReadOnlySpan<float>(Residual + off, np));
                        }
                    }
                }
            }
        }
    }
}

/// <summary>
/// The channel-blocked layout NCHWc the layout pass keeps between layers: [N][⌈C/L⌉][H][W][L] with L = 16 on
/// AVX-512, 8 on AVX2, 4 on Vector128 and 1 on the scalar level; channels past C in the last block are zero on input
/// and unspecified on output (a following blocked conv multiplies them by zero weights).
/// </summary>
internal static unsafe class NchwcLayout
{
    /// <summary>Lanes per channel block at a SIMD level.</summary>
    public static int Lanes(SimdLevel level) => level switch
    {
        SimdLevel.Avx512 => 16,
        SimdLevel.Avx2 => 8,
        SimdLevel.Vector128 => 4,
        _ => 1,
    };

    /// <summary>Floats of an N×C×H×W tensor in NCHWc with <paramref name="lanes"/> lanes.</summary>
    public static long Length(int n, int c, int h, int w, int lanes) => (long)n * ((c + lanes - 1) / lanes) * h * w * lanes;

    /// <summary>NCHW → NCHWc (the reorder at a blocked chain's start; zero lanes past C).</summary>
    public static void FromNchw(ReadOnlySpan<float> nchw, int n, int c, int h, int w, int lanes, Span<float> blocked)
    {
        if (nchw.Length < (long)n * c * h * w || blocked.Length < Length(n, c, h, w, lanes))
        {
            throw new InvalidShapeException($"NCHWc reorder: spans of {nchw.Length} and {blocked.Length} floats are too short for {n}×{c}×{h}×{w} at {lanes} lanes.");
        }
        int blocks = (c + lanes - 1) / lanes, hw = h * w;
        fixed (float* src = nchw, dst = blocked)
        {
            for (int i = 0; i < n; i++)
            {
                for (int b = 0; b < blocks; b++)
                {
                    NchwcTranspose.RowsToBlock(src + ((long)i * c + b * lanes) * hw, hw, lanes, hw, Math.Min(lanes, c - b * lanes), dst + ((long)i * blocks + b) * hw * lanes);
                }
            }
        }
    }

    /// <summary>NCHWc → NCHW (the reorder at a blocked chain's end).</summary>
    public static void ToNchw(ReadOnlySpan<float> blocked, int n, int c, int h, int w, int lanes, Span<float> nchw)
    {
        if (nchw.Length < (long)n * c * h * w || blocked.Length < Length(n, c, h, w, lanes))
        {
            throw new InvalidShapeException($"NCHWc reorder: spans of {blocked.Length} and {nchw.Length} floats are too short for {n}×{c}×{h}×{w} at {lanes} lanes.");
        }
        int blocks = (c + lanes - 1) / lanes, hw = h * w;
        fixed (float* src = blocked, dst = nchw)
        {
            for (int i = 0; i < n; i++)
            {
                for (int b = 0; b < blocks; b++)
                {
                    NchwcTranspose.BlockToRows(src + ((long)i * blocks + b) * hw * lanes, lanes, hw, Math.Min(lanes, c - b * lanes), dst + ((long)i * c + b * lanes) * hw, hw);
                }
            }
        }
    }
}

/// <summary>
/// A dense convolution (groups = 1) whose input and output are NCHWc (<see cref="NchwcLayout"/>): the
/// <see cref="NchwcKernels"/> micro-kernel reading blocked input (a channel step is one float, a block step one
/// blocked plane) and writing blocked output directly, with the epilogue (bias, scale/shift, a blocked residual,
/// the activation) applied on each finished block in place. For the layout pass: a chain of these needs no
/// transposes between layers. Padded convs copy each image's blocked rows into a zero-bordered scratch.
/// </summary>
internal interface INchwcConv2d
{
    Conv2dShape Shape { get; }

    /// <summary>Lanes per channel block of both layouts.</summary>
    int Lanes { get; }

    /// <summary>Bytes of packed weights and scratch the plan holds.</summary>
    long WorkspaceBytes { get; }

    /// <summary>x: NCHWc input, y: NCHWc output, residual: NCHWc like y (only when the epilogue adds one).</summary>
    void Execute(ReadOnlySpan<float> x, Span<float> y, ReadOnlySpan<float> residual);
}

internal static class Conv2dNchwcBlocked
{
    public static INchwcConv2d Create(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue, CpuContext context)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(context);
        shape.Validate(weights.Shape, bias?.Shape);
        epilogue.Validate(shape.K, shape.ToString());
        if (shape.Groups != 1)
        {
            throw new InvalidHyperparameterException($"Conv2dNchwc: only dense convolutions (groups = 1) run on the blocked layout; {shape}.");
        }
        return context.Simd switch
        {
            SimdLevel.Avx512 => new NchwcBlockedPlan<Vector512<float>, ConvVec512>(shape, weights, bias, epilogue, context),
            SimdLevel.Avx2 => new NchwcBlockedPlan<Vector256<float>, ConvVec256>(shape, weights, bias, epilogue, context),
            SimdLevel.Vector128 => new NchwcBlockedPlan<Vector128<float>, ConvVec128>(shape, weights, bias, epilogue, context),
            _ => new NchwcBlockedPlan<float, ConvVecScalar>(shape, weights, bias, epilogue, context),
        };
    }
}

internal sealed unsafe class NchwcBlockedPlan<TV, TOps> : INchwcConv2d
    where TV : unmanaged
    where TOps : IConvVec<TV>
{
    private const int TargetPixels = 96;

    private readonly CpuContext _context;
    private readonly CpuEpilogue _epilogue;
    private readonly int _kb, _gc, _kGroups, _cRange, _cBlocks, _kBlocks;
    private readonly int _chunkPixels, _chunks;
    private readonly bool _padded;
    private readonly int _wp;
    private readonly long _plane;          // one blocked channel plane of the (padded) input: Hp·Wp·L
    private readonly PinnedBuffer _packed;
    private readonly float[] _scratch;     // pinned: one padded blocked image
    private readonly int[] _offsets;       // pinned
    private readonly int[] _pix;           // pinned
    private readonly PinnedBuffer[] _tiles; // a whole KB-block tile per thread, for groups that run past the last output block
    private readonly int[] _busy;
    private readonly Job _job;

    public NchwcBlockedPlan(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue, CpuContext context)
    {
        Shape = shape;
        _context = context;
        _epilogue = new CpuEpilogue(shape.K, bias is null ? default : bias.Span, epilogue);
        int lanes = TOps.Count;
        _kb = Conv2dNchwc.BlocksPerCall(lanes, shape.K);
        _gc = _kb * lanes;
        _kGroups = (shape.K + _gc - 1) / _gc;
        _kBlocks = (shape.K + lanes - 1) / lanes;
        _cBlocks = (shape.C + lanes - 1) / lanes;
        int gc = _gc;
        _packed = PlanSharing.Get(weights.Memory, ("nchwc", shape.Groups, shape.K, shape.C, shape.R, shape.S, gc), () => Conv2dNchwc.PackWeights(shape, weights.Span, gc));
        // Whole channel blocks per range, so every range's offsets are the same relative to its first channel.
        _cRange = Math.Max(lanes, Conv2dNchwc.ChannelRange(shape, _gc) / lanes * lanes);

        Conv2dParams p = shape.Params;
        _padded = p.Padding != default;
        int hp = shape.H + p.Padding.Top + p.Padding.Bottom;
        _wp = shape.W + p.Padding.Left + p.Padding.Right;
        int rowStride = _padded ? _wp : shape.W;
        _plane = (long)(_padded ? hp : shape.H) * rowStride * lanes;
        _scratch = _padded ? GC.AllocateArray<float>(checked((int)(_cBlocks * _plane)), pinned: true) : [];
        int rs = shape.R * shape.S;
        _offsets = GC.AllocateArray<int>(_cRange * rs, pinned: true);
        for (int c = 0; c < _cRange; c++)
        {
            for (int r = 0; r < shape.R; r++)
            {
                for (int s = 0; s < shape.S; s++)
                {
                    _offsets[(c * shape.R + r) * shape.S + s] = checked((int)(c / lanes * _plane + c % lanes
                        + ((long)r * p.DilationH * rowStride + (long)s * p.DilationW) * lanes));
                }
            }
        }
        int pq = shape.P * shape.Q;
        _pix = GC.AllocateArray<int>(pq + NchwcKernels.Pixels - 1, pinned: true);
        for (int j = 0; j < _pix.Length; j++)
        {
            int jj = Math.Min(j, pq - 1);
            _pix[j] = checked((jj / shape.Q * p.StrideH * rowStride + jj % shape.Q * p.StrideW) * lanes);
        }
        int threads = context.Pool.Threads;
        int chunks = Math.Max((pq + TargetPixels - 1) / TargetPixels, (2 * threads + _kGroups - 1) / _kGroups);
        chunks = Math.Clamp(chunks, 1, (pq + NchwcKernels.Pixels - 1) / NchwcKernels.Pixels);
        int per = (pq + chunks - 1) / chunks;
        _chunkPixels = (per + NchwcKernels.Pixels - 1) / NchwcKernels.Pixels * NchwcKernels.Pixels;
        _chunks = (pq + _chunkPixels - 1) / _chunkPixels;
        _tiles = new PinnedBuffer[threads];
        for (int i = 0; i < threads; i++)
        {
            _tiles[i] = new PinnedBuffer((long)_kb * _chunkPixels * lanes);
        }
        _busy = new int[threads];
        _job = new Job(this);
    }

    public Conv2dShape Shape { get; }

    public int Lanes => TOps.Count;

    public long WorkspaceBytes => _packed.Bytes + 4L * (_scratch.Length + _pix.Length + _offsets.Length) + _tiles.Sum(t => t.Bytes);

    public void Execute(ReadOnlySpan<float> x, Span<float> y, ReadOnlySpan<float> residual)
    {
        Conv2dShape s = Shape;
        int lanes = TOps.Count;
        long inImage = (long)_cBlocks * s.H * s.W * lanes, outImage = (long)_kBlocks * s.P * s.Q * lanes;
        if (x.Length < s.N * inImage || y.Length < s.N * outImage)
        {
            throw new InvalidShapeException($"Conv2dNchwc: input of {x.Length} floats or output of {y.Length} is shorter than {s} needs in NCHW{lanes}c ({s.N * inImage}, {s.N * outImage}).");
        }
        if (_epilogue.AddResidual != (residual.Length > 0) || residual.Length > 0 && residual.Length < s.N * outImage)
        {
            throw new InvalidShapeException($"Conv2dNchwc: the epilogue {(_epilogue.AddResidual ? $"adds an NCHW{lanes}c residual of {s.N * outImage} floats" : "adds no residual")}, got {residual.Length} floats; {s}.");
        }
        Padding2d pad = s.Params.Padding;
        fixed (float* px = x, py = y, pr = residual, scratch = _scratch)
        {
            for (int n = 0; n < s.N; n++)
            {
                float* image = px + n * inImage;
                if (_padded)
                {
                    // Blocked rows are contiguous runs of W·L floats: copy them inside the zero border.
                    long rowFloats = (long)s.W * lanes;
                    for (int cb = 0; cb < _cBlocks; cb++)
                    {
                        for (int h = 0; h < s.H; h++)
                        {
                            new ReadOnlySpan<float>(image + ((long)cb * s.H + h) * rowFloats, (int)rowFloats).CopyTo(
                                new Span<float>(scratch + cb * _plane + ((long)(h + pad.Top) * _wp + pad.Left) * lanes, (int)rowFloats));
                        }
                    }
                    _job.Input = scratch;
                }
                else
                {
                    _job.Input = image;
                }
                _job.Output = py + n * outImage;
                _job.Residual = pr == null ? null : pr + n * outImage;
                _context.Pool.For(_kGroups * _chunks, _job);
            }
        }
        _job.Input = _job.Output = _job.Residual = null;
    }

    private sealed class Job(NchwcBlockedPlan<TV, TOps> plan) : IParallelJob
    {
        public float* Input;
        public float* Output;
        public float* Residual;

        public void Run(int index)
        {
            NchwcBlockedPlan<TV, TOps> pl = plan;
            int slot = 0;
            while (Interlocked.CompareExchange(ref pl._busy[slot], 1, 0) != 0)
            {
                slot = slot + 1 == pl._busy.Length ? 0 : slot + 1;
                if (slot == 0)
                {
                    Thread.SpinWait(1);
                }
            }
            try
            {
                Compute(pl, index, pl._tiles[slot].Pointer);
            }
            finally
            {
                Volatile.Write(ref pl._busy[slot], 0);
            }
        }

        private void Compute(NchwcBlockedPlan<TV, TOps> pl, int index, float* tile)
        {
            Conv2dShape s = pl.Shape;
            int lanes = TOps.Count, rs = s.R * s.S, pq = s.P * s.Q;
            int chunk = index % pl._chunks, kgi = index / pl._chunks;
            int j0 = chunk * pl._chunkPixels, j1 = Math.Min(pq, j0 + pl._chunkPixels), np = j1 - j0;
            int firstBlock = kgi * pl._kb, blocks = Math.Min(pl._kb, pl._kBlocks - firstBlock);
            // A group whose blocks all exist writes the output in place; the last one may run past it.
            bool direct = blocks == pl._kb;
            float* outBase = direct ? Output + ((long)firstBlock * pq + j0) * lanes : tile;
            long outBlockStride = direct ? (long)pq * lanes : (long)pl._chunkPixels * lanes;
            fixed (int* offsets = pl._offsets)
            fixed (int* pix = pl._pix)
            {
                var t = new NchwcTile { Offsets = offsets, OutBlockStride = outBlockStride };
                for (int c0 = 0; c0 < s.C; c0 += pl._cRange)
                {
                    t.Input = Input + c0 / lanes * pl._plane;
                    t.Count = Math.Min(pl._cRange, s.C - c0) * rs;
                    t.Weights = pl._packed.Pointer + ((long)kgi * s.C + c0) * rs * pl._gc;
                    t.Accumulate = c0 > 0;
                    for (int j = j0; j < j1; j += NchwcKernels.Pixels)
                    {
                        NchwcKernels.Run<TV, TOps>(pl._kb, t, pix + j, outBase + (long)(j - j0) * lanes, Math.Min(NchwcKernels.Pixels, j1 - j));
                    }
                }
                for (int b = 0; b < blocks; b++)
                {
                    int k = (firstBlock + b) * lanes;
                    float* block = Output + ((long)(firstBlock + b) * pq + j0) * lanes;
                    if (!direct)
                    {
                        new ReadOnlySpan<float>(tile + b * outBlockStride, np * lanes).CopyTo(new Span<float>(block, np * lanes));
                    }
                    if (!pl._epilogue.IsIdentity)
                    {
                        float* residual = Residual == null ? null : Residual + ((long)(firstBlock + b) * pq + j0) * lanes;
                        if (!pl._epilogue.TryApplyBlocked(k, Math.Min(lanes, s.K - k), block, np, lanes, residual))
                        {
                            throw new InvalidHyperparameterException($"Conv2dNchwc: the epilogue's activation {pl._epilogue.Activation.Kind} has no blocked form; {s}.");
                        }
                    }
                }
            }
        }
    }
}
