using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FastConv.Cpu.Kernels;

/// <summary>
/// Called by <see cref="Sgemm"/> on each finished piece of a row of C (all k summed, alpha and beta applied)
/// while it is still in cache: values is C[row, column .. column + values.Length).
/// Pieces are disjoint and may be handed to several threads at once.
/// </summary>
public interface ISgemmRowEpilogue
{
    void Apply(int row, int column, Span<float> values);
}

/// <summary>
/// A float buffer on the pinned object heap, its start aligned to 64 bytes (one cache line, one zmm), so
/// kernels hold a raw pointer for the buffer's whole life without <c>fixed</c>.
/// </summary>
internal sealed unsafe class PinnedBuffer
{
    private readonly float[] _array;

    public PinnedBuffer(long length)
    {
        if (length + 16 > Array.MaxLength)
        {
            throw new InvalidShapeException($"Sgemm: a packed buffer of {length} floats is larger than .NET arrays allow.");
        }
        _array = GC.AllocateUninitializedArray<float>((int)length + 16, pinned: true);
        float* p = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_array));
        int misaligned = (int)(((nint)p & 63) / sizeof(float));
        Pointer = p + (misaligned == 0 ? 0 : 16 - misaligned);
        Length = length;
    }

    public float* Pointer { get; }
    public long Length { get; }
    public long Bytes => (long)_array.Length * sizeof(float);
}

/// <summary>
/// op(A) (M×K) packed once, e.g. conv weights W[K, C·R·S] at plan time: for each KC block of k, the rows in
/// MR-row micro-panels (kc × MR, zero-padded past M), exactly what the micro-kernel of <see cref="Level"/> reads.
/// </summary>
public sealed class PackedA
{
    internal PackedA(SimdLevel level, int m, int k, PinnedBuffer data)
    {
        Level = level;
        M = m;
        K = k;
        Data = data;
        MPad = RoundUp(m, SgemmBlocking.For(level).MR);
    }

    public SimdLevel Level { get; }
    public int M { get; }
    public int K { get; }
    public long Bytes => Data.Bytes;
    internal PinnedBuffer Data { get; }
    internal int MPad { get; }

    internal static int RoundUp(int x, int multiple) => (x + multiple - 1) / multiple * multiple;
}

/// <summary>
/// op(B) (K×N) packed once, e.g. fully-connected weights at plan time: for each KC block of k, the columns in
/// NR-column micro-panels (kc × NR, zero-padded past N).
/// </summary>
public sealed class PackedB
{
    internal PackedB(SimdLevel level, int k, int n, PinnedBuffer data)
    {
        Level = level;
        K = k;
        N = n;
        Data = data;
        NPad = PackedA.RoundUp(n, SgemmBlocking.For(level).NR);
    }

    public SimdLevel Level { get; }
    public int K { get; }
    public int N { get; }
    public long Bytes => Data.Bytes;
    internal PinnedBuffer Data { get; }
    internal int NPad { get; }
}

/// <summary>
/// Everything one <see cref="Sgemm"/> call needs besides its operands, created once (by a plan) so that
/// multiplying allocates nothing: per thread slot a packed-A block, a packed-B panel and an edge tile, plus
/// the parallel job object. One workspace serves one multiply at a time.
/// </summary>
public sealed class SgemmWorkspace
{
    private readonly int[] _busy;

    /// <param name="level">SIMD level of the kernels (lowered to what this CPU runs).</param>
    /// <param name="threads">Thread slots: the pool's thread count for parallel multiplies, 1 otherwise.</param>
    /// <param name="maxM">Largest M (rows of C) it will see; sizes the packed-A block below MC when smaller.</param>
    /// <param name="maxN">Largest N (columns of C); sizes the packed-B panel below NC when smaller.</param>
    /// <param name="maxK">Largest K; sizes both below KC when smaller.</param>
    public SgemmWorkspace(SimdLevel level, int threads, int maxM = int.MaxValue, int maxN = int.MaxValue, int maxK = int.MaxValue)
    {
        if (threads < 1)
        {
            throw new InvalidHyperparameterException($"SgemmWorkspace: threads must be >= 1, got {threads}.");
        }
        Level = level < CpuFeatures.Detected ? level : CpuFeatures.Detected;
        Blocking = SgemmBlocking.For(Level);
        SgemmBlocking bl = Blocking;
        int mc = PackedA.RoundUp(Math.Clamp(maxM, 1, bl.MC), bl.MR);
        int nc = PackedA.RoundUp(Math.Clamp(maxN, 1, bl.NC), bl.NR);
        int kc = Math.Clamp(maxK, 1, bl.KC);
        _busy = new int[threads];
        A = new PinnedBuffer[threads];
        B = new PinnedBuffer[threads];
        Tile = new PinnedBuffer[threads];
        for (int t = 0; t < threads; t++)
        {
            A[t] = new PinnedBuffer((long)mc * kc);
            B[t] = new PinnedBuffer((long)kc * nc);
            Tile[t] = new PinnedBuffer(bl.MR * bl.NR);
        }
        MaxMc = mc;
        MaxNc = nc;
        MaxKc = kc;
        Job = new SgemmJob(this);
    }

    public SimdLevel Level { get; }
    public int Threads => _busy.Length;
    public long Bytes => A.Sum(a => a.Bytes) + B.Sum(b => b.Bytes) + Tile.Sum(t => t.Bytes);

    internal SgemmBlocking Blocking { get; }
    internal int MaxMc { get; }
    internal int MaxNc { get; }
    internal int MaxKc { get; }
    internal PinnedBuffer[] A { get; }
    internal PinnedBuffer[] B { get; }
    internal PinnedBuffer[] Tile { get; }
    internal SgemmJob Job { get; }

    /// <summary>A free thread slot; there is always one, because at most <see cref="Threads"/> tasks run at once.</summary>
    internal int AcquireSlot()
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

    internal void ReleaseSlot(int slot) => Volatile.Write(ref _busy[slot], 0);
}
