using System.Runtime.Intrinsics.X86;
using FastConv.Cpu.Threading;

namespace FastConv.Cpu.Kernels;

/// <summary>
/// C = alpha·A·B for at most <see cref="MaxRows"/> rows of A against a B packed by <see cref="Sgemm.PackB"/>: a
/// fully-connected layer at batch 1–4, where the product is a matrix–vector one and the time is the time to read B.
/// The SGEMM micro-kernel would pad A to MR rows (12 on AVX-512) and spend most of its FMAs on the padding; here each
/// NR-column panel of B is streamed once, in its packed order, two vectors per step of k, into the rows' accumulators
/// (one row: two steps of k in flight; more: four rows, those past M repeating row 0), and threads take panels. One instance serves one multiply at a time (a plan owns it).
/// </summary>
internal sealed unsafe class PackedGemv : IParallelJob
{
    /// <summary>Most rows of A one call takes; more go to the SGEMM.</summary>
    public const int MaxRows = 4;

    private readonly PackedB _b;
    private readonly SgemmBlocking _blocking;
    private readonly PinnedBuffer _scratch;
    private float* _a, _c;
    private nint _lda, _ldc;
    private int _m, _panelsPerPart;
    private float _alpha;
    private ISgemmRowEpilogue? _epilogue;

    public PackedGemv(PackedB b)
    {
        ArgumentNullException.ThrowIfNull(b);
        if (!Supports(b.Level))
        {
            throw new ArgumentException($"PackedGemv needs vectors; B was packed for {b.Level}.", nameof(b));
        }
        _b = b;
        _blocking = SgemmBlocking.For(b.Level);
        _scratch = new PinnedBuffer((long)MaxRows * b.NPad);
    }

    /// <summary>The running sums kept between B's KC blocks (4 rows × N, padded to the panel width).</summary>
    public long Bytes => _scratch.Bytes;

    /// <summary>Whether B packed for <paramref name="level"/> has the two-vector panels this kernel reads.</summary>
    public static bool Supports(SimdLevel level) => level >= SimdLevel.Vector128;

    /// <summary>C (m×N, row stride ldc) = alpha·A·B (+ the epilogue per finished row piece); A is m×K, row stride lda.</summary>
    public void Multiply(int m, float alpha, ReadOnlySpan<float> a, int lda, Span<float> c, int ldc, WorkerPool? pool, ISgemmRowEpilogue? epilogue)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(m, MaxRows);
        ArgumentOutOfRangeException.ThrowIfLessThan(m, 1);
        if (lda < _b.K || ldc < _b.N || a.Length < (long)(m - 1) * lda + _b.K || c.Length < (long)(m - 1) * ldc + _b.N)
        {
            throw new ArgumentException($"PackedGemv: A ({a.Length} floats, lda {lda}) or C ({c.Length}, ldc {ldc}) too small for {m}×{_b.K} · {_b.K}×{_b.N}.");
        }
        fixed (float* pa = a, pc = c)
        {
            _a = pa;
            _c = pc;
            (_lda, _ldc, _m, _alpha, _epilogue) = (lda, ldc, m, alpha, epilogue);
            try
            {
                int panels = (_b.N + _blocking.NR - 1) / _blocking.NR;
                int threads = pool?.Threads ?? 1;
                if (threads == 1 || (long)_b.N * _b.K < Sgemm.ParallelThreshold / 2)
                {
                    _panelsPerPart = panels;
                    Run(0);
                    return;
                }
                // About three parts per thread (a thread slowed by another process does not hold up the rest).
                int parts = Math.Min(panels, 3 * threads);
                _panelsPerPart = (panels + parts - 1) / parts;
                pool!.For((panels + _panelsPerPart - 1) / _panelsPerPart, this);
            }
            finally
            {
                _a = _c = null;
                _epilogue = null;
            }
        }
    }

    public void Run(int index)
    {
        int panels = (_b.N + _blocking.NR - 1) / _blocking.NR;
        int first = index * _panelsPerPart, last = Math.Min(panels, first + _panelsPerPart);
        switch (_b.Level)
        {
            case SimdLevel.Avx512:
                Panels<Float512>(first, last);
                break;
            case SimdLevel.Avx2:
                Panels<Float256>(first, last);
                break;
            default:
                Panels<Float128>(first, last);
                break;
        }
    }

    private void Panels<TV>(int first, int last) where TV : struct, IFloatVector<TV>
    {
        // Block by block in B's packed order, so that a thread reads one contiguous run per block; the four rows'
        // sums of a panel wait in the scratch between blocks (4·NR floats per panel: in L1 or L2).
        int nr = _blocking.NR, kcMax = _blocking.KC, k = _b.K;
        float* data = _b.Data.Pointer;
        for (int pc = 0; pc < k; pc += kcMax)
        {
            int kc = Math.Min(kcMax, k - pc);
            bool firstBlock = pc == 0;
            for (int p = first; p < last; p++)
            {
                float* b = data + (nint)pc * _b.NPad + (nint)p * nr * kc;
                float* acc = _scratch.Pointer + (nint)p * MaxRows * nr;
                if (_m == 1)
                {
                    Row1<TV>(b, _a + pc, kc, acc, firstBlock);
                }
                else
                {
                    Rows4<TV>(b, pc, kc, acc, firstBlock);
                }
            }
        }
        for (int p = first; p < last; p++)
        {
            int j0 = p * nr, cols = Math.Min(nr, _b.N - j0);
            float* acc = _scratch.Pointer + (nint)p * MaxRows * nr;
            for (int r = 0; r < _m; r++)
            {
                var row = new Span<float>(_c + r * _ldc + j0, cols);
                float* sums = acc + r * nr;
                for (int j = 0; j < cols; j++)
                {
                    row[j] = _alpha * sums[j];
                }
                _epilogue?.Apply(r, j0, row);
            }
        }
    }

    /// <summary>One row: four accumulators (two steps of k in flight), so FMA latency never waits on B.</summary>
    private static void Row1<TV>(float* b, float* a, int kc, float* acc, bool first) where TV : struct, IFloatVector<TV>
    {
        int w = TV.Count;
        TV c0 = first ? default : TV.Load(ref *acc, 0), c1 = first ? default : TV.Load(ref *acc, w), d0 = default, d1 = default;
        int q = 0;
        for (; q + 1 < kc; q += 2, b += 4 * w)
        {
            if (Sse.IsSupported)
            {
                // B comes from L3 or memory once per call: ask for it 2 KB ahead of the loads.
                byte* ahead = (byte*)b + 2048;
                for (int line = 0; line < 4 * w * sizeof(float); line += 64)
                {
                    Sse.Prefetch0(ahead + line);
                }
            }
            TV x = TV.Broadcast(a[q]), y = TV.Broadcast(a[q + 1]);
            c0 = TV.MultiplyAdd(x, TV.Load(ref *b, 0), c0);
            c1 = TV.MultiplyAdd(x, TV.Load(ref *b, w), c1);
            d0 = TV.MultiplyAdd(y, TV.Load(ref *b, 2 * w), d0);
            d1 = TV.MultiplyAdd(y, TV.Load(ref *b, 3 * w), d1);
        }
        if (q < kc)
        {
            TV x = TV.Broadcast(a[q]);
            c0 = TV.MultiplyAdd(x, TV.Load(ref *b, 0), c0);
            c1 = TV.MultiplyAdd(x, TV.Load(ref *b, w), c1);
        }
        TV.Store(TV.Add(c0, d0), ref *acc, 0);
        TV.Store(TV.Add(c1, d1), ref *acc, w);
    }

    /// <summary>Two to four rows, each B vector loaded once for all of them (rows past M repeat row 0, their sums unused).</summary>
    private void Rows4<TV>(float* b, int pc, int kc, float* acc, bool first) where TV : struct, IFloatVector<TV>
    {
        int w = TV.Count;
        float* a0 = _a + pc, a1 = a0 + _lda, a2 = _m > 2 ? a0 + 2 * _lda : a0, a3 = _m > 3 ? a0 + 3 * _lda : a0;
        TV c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        if (!first)
        {
            c00 = TV.Load(ref *acc, 0);
            c01 = TV.Load(ref *acc, w);
            c10 = TV.Load(ref *acc, 2 * w);
            c11 = TV.Load(ref *acc, 3 * w);
            c20 = TV.Load(ref *acc, 4 * w);
            c21 = TV.Load(ref *acc, 5 * w);
            c30 = TV.Load(ref *acc, 6 * w);
            c31 = TV.Load(ref *acc, 7 * w);
        }
        for (int q = 0; q < kc; q++, b += 2 * w)
        {
            TV b0 = TV.Load(ref *b, 0), b1 = TV.Load(ref *b, w);
            TV x = TV.Broadcast(a0[q]);
            c00 = TV.MultiplyAdd(x, b0, c00);
            c01 = TV.MultiplyAdd(x, b1, c01);
            x = TV.Broadcast(a1[q]);
            c10 = TV.MultiplyAdd(x, b0, c10);
            c11 = TV.MultiplyAdd(x, b1, c11);
            x = TV.Broadcast(a2[q]);
            c20 = TV.MultiplyAdd(x, b0, c20);
            c21 = TV.MultiplyAdd(x, b1, c21);
            x = TV.Broadcast(a3[q]);
            c30 = TV.MultiplyAdd(x, b0, c30);
            c31 = TV.MultiplyAdd(x, b1, c31);
        }
        TV.Store(c00, ref *acc, 0);
        TV.Store(c01, ref *acc, w);
        TV.Store(c10, ref *acc, 2 * w);
        TV.Store(c11, ref *acc, 3 * w);
        TV.Store(c20, ref *acc, 4 * w);
        TV.Store(c21, ref *acc, 5 * w);
        TV.Store(c30, ref *acc, 6 * w);
        TV.Store(c31, ref *acc, 7 * w);
    }
}
