using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FastConv.Cpu.Threading;

namespace FastConv.Cpu.Kernels;

/// <summary>
/// The one memory-move kernel behind Transpose, Slice, Split, Expand, Tile, DepthToSpace and SpaceToDepth on the
/// <c>cpu</c> backend: <c>y[i] = x[base + Σ_d i_d·stride_d]</c> over a contiguous output, each op only choosing the
/// input strides (a permutation, a step, 0 for a broadcast axis). At plan time axes of extent 1 are dropped and
/// neighbours merged wherever stepping the outer one equals stepping over the whole inner one, so most problems
/// become a few long rows; a row whose input stride is 1 is one block copy (a plain loop up to <see cref="ShortRow"/>
/// floats), 0 a fill, anything else a gather. When
/// the innermost output axis is strided and the next one is contiguous in the input (NCHW ↔ NHWC, swapping the last
/// two axes) the two are moved as 32×32 tiles instead, so both sides stay in cache lines. Rows (or tile planes) are
/// split across the pool when the copy is large. Execute allocates nothing; results equal the reference exactly.
/// </summary>
internal sealed class StridedCopy : IParallelJob
{
    private const int Tile = 32;

    /// <summary>Rows up to this many floats are copied by a plain loop: a call to a block copy costs more than they do.</summary>
    private const int ShortRow = 16;

    /// <summary>
    /// Copies <paramref name="x"/> into the start of <paramref name="y"/>: a plain loop up to <see cref="ShortRow"/>
    /// floats (a detection head's [..,2] and [..,4] pieces), a block copy beyond. Also Concat's per-block copy.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CopyRow(ReadOnlySpan<float> x, Span<float> y)
    {
        if (x.Length > ShortRow)
        {
            x.CopyTo(y);
            return;
        }
        y = y[..x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            y[i] = x[i];
        }
    }

    private readonly int[] _dims;      // outer axes (row or tile-plane iterations), outermost first
    private readonly int[] _strides;   // their input strides
    private readonly int[][] _index;   // an odometer per chunk
    private readonly int _base;
    private readonly int _rows;        // product of _dims
    private readonly int _rowLength;   // output floats per row (or per tile plane)
    private readonly int _inner, _innerStride;          // row mode: length and input stride of the innermost axis
    private readonly int _tileA, _tileB, _strideA, _strideB; // tile mode: y[a·B + b] = x[a·strideA + b·strideB]
    private readonly bool _tiled;
    private readonly int _chunks;
    private float[]? _xArray;
    private float[]? _yArray;
    private int _xOffset, _yOffset;

    /// <param name="output">The output extents.</param>
    /// <param name="inStrides">The input stride of each output axis (may be 0 or negative).</param>
    /// <param name="baseOffset">The input offset of output element 0.</param>
    /// <param name="pool">Where large copies are split.</param>
    public StridedCopy(ReadOnlySpan<int> output, ReadOnlySpan<int> inStrides, int baseOffset, WorkerPool pool)
    {
        _base = baseOffset;
        var dims = new List<int>();
        var strides = new List<int>();
        for (int d = output.Length - 1; d >= 0; d--)
        {
            if (output[d] == 1)
            {
                continue;
            }
            if (dims.Count > 0 && inStrides[d] == strides[^1] * dims[^1])
            {
                dims[^1] *= output[d];
                continue;
            }
            dims.Add(output[d]);
            strides.Add(inStrides[d]);
        }
        if (dims.Count == 0)
        {
            dims.Add(1);
            strides.Add(0);
        }
        dims.Reverse();
        strides.Reverse();
        int total = 1;
        foreach (int n in output)
        {
            total *= n;
        }
        _tiled = dims.Count >= 2 && strides[^1] != 1 && strides[^2] == 1 && dims[^1] >= 4 && dims[^2] >= 4;
        if (_tiled)
        {
            _tileA = dims[^2];
            _tileB = dims[^1];
            _strideA = strides[^2];
            _strideB = strides[^1];
            _rowLength = _tileA * _tileB;
            dims.RemoveRange(dims.Count - 2, 2);
            strides.RemoveRange(strides.Count - 2, 2);
        }
        else
        {
            _inner = dims[^1];
            _innerStride = strides[^1];
            _rowLength = _inner;
            dims.RemoveAt(dims.Count - 1);
            strides.RemoveAt(strides.Count - 1);
        }
        _dims = [.. dims];
        _strides = [.. strides];
        _rows = total == 0 ? 0 : total / Math.Max(_rowLength, 1);
        _chunks = Elementwise.ElementwiseThreading.Chunks(total, _rows, pool);
        _index = [.. Enumerable.Range(0, _chunks).Select(_ => new int[_dims.Length])];
        Pool = pool;
        Algorithm = _tiled ? "copy-tiled-transpose" : _innerStride == 1 ? "copy-blocks" : _innerStride == 0 ? "copy-fill" : "copy-gather";
    }

    public WorkerPool Pool { get; }
    public string Algorithm { get; }

    /// <summary>Copies from <paramref name="x"/> into <paramref name="y"/> (whose lengths the plan checked).</summary>
    public void Execute(Tensor x, Tensor y)
    {
        if (_rows == 0)
        {
            return;
        }
        // Arrays, not spans, so the pool's workers can see them; tensors here are always array-backed views.
        if (!MemoryMarshal.TryGetArray<float>(x.Memory, out var xa) || !MemoryMarshal.TryGetArray<float>(y.Memory, out var ya))
        {
            throw new InvalidShapeException("copy: tensors must be backed by managed arrays.");
        }
        _xArray = xa.Array;
        _yArray = ya.Array;
        _xOffset = xa.Offset;
        _yOffset = ya.Offset;
        try
        {
            Pool.For(_chunks, this);
        }
        finally
        {
            _xArray = null;
            _yArray = null;
        }
    }

    public void Run(int chunk)
    {
        int first = (int)((long)chunk * _rows / _chunks), end = (int)((long)(chunk + 1) * _rows / _chunks);
        int[] index = _index[chunk];
        int off = _base;
        int rem = first;
        for (int d = _dims.Length - 1; d >= 0; d--)
        {
            index[d] = rem % _dims[d];
            rem /= _dims[d];
            off += index[d] * _strides[d];
        }
        ref float x = ref MemoryMarshal.GetArrayDataReference(_xArray!);
        ref float y = ref MemoryMarshal.GetArrayDataReference(_yArray!);
        x = ref Unsafe.Add(ref x, _xOffset);
        y = ref Unsafe.Add(ref y, _yOffset);
        for (int row = first; row < end; row++)
        {
            ref float yr = ref Unsafe.Add(ref y, (nint)row * _rowLength);
            if (_tiled)
            {
                TransposeTiles(ref Unsafe.Add(ref x, off), ref yr);
            }
            else
            {
                Row(ref Unsafe.Add(ref x, off), ref yr);
            }
            for (int d = _dims.Length - 1; d >= 0; d--)
            {
                off += _strides[d];
                if (++index[d] < _dims[d])
                {
                    break;
                }
                off -= _strides[d] * _dims[d];
                index[d] = 0;
            }
        }
    }

    private void Row(ref float x, ref float y)
    {
        int n = _inner, s = _innerStride;
        if (s == 1)
        {
            CopyRow(MemoryMarshal.CreateReadOnlySpan(ref x, n), MemoryMarshal.CreateSpan(ref y, n));
        }
        else if (s == 0)
        {
            MemoryMarshal.CreateSpan(ref y, n).Fill(x);
        }
        else
        {
            for (int i = 0; i < n; i++)
            {
                Unsafe.Add(ref y, i) = Unsafe.Add(ref x, (nint)i * s);
            }
        }
    }

    /// <summary>y[a·B + b] = x[a·strideA + b·strideB] (strideA = 1) in Tile×Tile blocks: reads run along a, writes along b.</summary>
    private void TransposeTiles(ref float x, ref float y)
    {
        int na = _tileA, nb = _tileB, sa = _strideA, sb = _strideB;
        for (int a0 = 0; a0 < na; a0 += Tile)
        {
            int a1 = Math.Min(a0 + Tile, na);
            for (int b0 = 0; b0 < nb; b0 += Tile)
            {
                int b1 = Math.Min(b0 + Tile, nb);
                for (int a = a0; a < a1; a++)
                {
                    ref float xa = ref Unsafe.Add(ref x, (nint)a * sa);
                    ref float ya = ref Unsafe.Add(ref y, (nint)a * nb);
                    for (int b = b0; b < b1; b++)
                    {
                        Unsafe.Add(ref ya, b) = Unsafe.Add(ref xa, (nint)b * sb);
                    }
                }
            }
        }
    }
}
