using FastConv.Cpu.Kernels;
using FastConv.Cpu.Threading;
using FastConv.Ops;

namespace FastConv.Cpu.Conv2d;

/// <summary>
/// im2col of one image and group, a chunk of output pixels at a time, into a buffer sized at plan time:
/// row (c·R + r)·S + s, column j − j0 holds x[c, p·strideH − padTop + r·dilH, q·strideW − padLeft + s·dilW]
/// for output pixel j = p·Q + q (zero where that falls in the padding). Rows are split among the threads.
/// </summary>
internal sealed unsafe class Im2colJob : IParallelJob
{
    /// <summary>Below this many floats one thread fills the chunk: waking the pool costs more.</summary>
    private const int ParallelFloats = 1 << 16;

    private readonly Conv2dShape _s;
    private readonly int _rows;
    private readonly int _threads;
    private readonly PinnedBuffer _buffer;
    private float* _x;
    private int _j0, _nc, _parts;

    public Im2colJob(Conv2dShape shape, int maxColumns, int threads)
    {
        _s = shape;
        _rows = shape.InputChannelsPerGroup * shape.R * shape.S;
        _threads = threads;
        _buffer = new PinnedBuffer((long)_rows * maxColumns);
    }

    public long Bytes => _buffer.Bytes;

    /// <summary>The filled matrix: rows × nc floats, row-major with leading dimension nc.</summary>
    public ReadOnlySpan<float> Matrix(int nc) => new(_buffer.Pointer, _rows * nc);

    /// <summary>Fills columns [j0, j0 + nc) from the group's input <paramref name="x"/> (C/g × H × W).</summary>
    public void Fill(float* x, int j0, int nc, WorkerPool pool)
    {
        _x = x;
        _j0 = j0;
        _nc = nc;
        if ((long)_rows * nc < ParallelFloats || _threads == 1)
        {
            _parts = 1;
            Run(0);
        }
        else
        {
            _parts = Math.Min(_rows, 2 * _threads);
            pool.For(_parts, this);
        }
        _x = null;
    }

    public void Run(int index)
    {
        int r0 = (int)((long)_rows * index / _parts), r1 = (int)((long)_rows * (index + 1) / _parts);
        for (int row = r0; row < r1; row++)
        {
            FillRow(row);
        }
    }

    private void FillRow(int row)
    {
        Conv2dShape s = _s;
        Conv2dParams p = s.Params;
        int rs = s.R * s.S;
        int c = row / rs, r = row / s.S % s.R, sx = row % s.S;
        int h = s.H, w = s.W, q = s.Q, sw = p.StrideW;
        float* xc = _x + (long)c * h * w;
        float* dst = _buffer.Pointer + (long)row * _nc;
        // Output columns q whose input column q·sw + off lies inside [0, W): [qLo, qHi).
        int off = sx * p.DilationW - p.Padding.Left;
        int qLo = off >= 0 ? 0 : (-off + sw - 1) / sw;
        int limit = w - off;
        int qHi = limit <= 0 ? 0 : (limit + sw - 1) / sw;
        int j = _j0, end = _j0 + _nc;
        while (j < end)
        {
            int op = j / q, q0 = j - op * q, q1 = Math.Min(q, q0 + (end - j));
            float* d = dst + (j - _j0) - q0;
            int ih = op * p.StrideH - p.Padding.Top + r * p.DilationH;
            if ((uint)ih >= (uint)h)
            {
                new Span<float>(d + q0, q1 - q0).Clear();
            }
            else
            {
                int a = Math.Clamp(qLo, q0, q1), b = Math.Clamp(qHi, a, q1);
                new Span<float>(d + q0, a - q0).Clear();
                float* src = xc + (long)ih * w + off;
                if (sw == 1)
                {
                    new ReadOnlySpan<float>(src + a, b - a).CopyTo(new Span<float>(d + a, b - a));
                }
                else
                {
                    for (int qq = a; qq < b; qq++)
                    {
                        d[qq] = src[qq * sw];
                    }
                }
                new Span<float>(d + b, q1 - b).Clear();
            }
            j += q1 - q0;
        }
    }
}
