using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FastConv.Backends;
using FastConv.Cpu.Threading;
using FastConv.Ops;

namespace FastConv.Cpu.Elementwise;

/// <summary>
/// Resize on the <c>cpu</c> backend. Every per-axis decision (source index, linear taps and weights, cubic taps and
/// weights) is made once at plan time with the reference's own functions, so Execute is table look-ups and the
/// reference's arithmetic in the reference's order — results equal the reference exactly.
/// <list type="bullet">
/// <item>nearest: an output row is a gather through the column table; a row whose source row equals the previous
/// one is a copy of the row just written; integer factors ×2 and ×4 along W (the FPN/UNet case) skip the table.</item>
/// <item>linear: four taps and the reference's <c>dw2·dh2·x11 + dw1·dh2·x21 + dw2·dh1·x12 + dw1·dh1·x22</c> per pixel.</item>
/// <item>cubic: 4×4 taps, rows then columns, in double as the reference.</item>
/// </list>
/// N·C planes are split across the pool when the output is large. Allocates nothing.
/// </summary>
internal sealed class CpuResizePlan : IUnaryPlan, IParallelJob
{
    private readonly TensorShape _input;
    private readonly ResizeParams _p;
    private readonly CpuContext _context;
    private readonly int _planes, _h, _w, _outH, _outW, _chunks, _factorW;
    private readonly int[] _hi, _wi;                    // nearest indices, or linear first taps
    private readonly int[] _h2 = [], _w2 = [];          // linear second taps
    private readonly float[] _dh1 = [], _dh2 = [], _dw1 = [], _dw2 = [];
    private readonly int[] _hc = [], _wc = [];          // cubic: 4 taps per output coordinate
    private readonly double[] _hcw = [], _wcw = [];
    private Tensor? _x, _y;

    public CpuResizePlan(TensorShape x, ResizeParams p, CpuContext context)
    {
        var (scaleH, scaleW, outH, outW) = Reference.ResizeValidate(x, p);
        OutputShape = TensorShape.Of(x[0], x[1], outH, outW);
        _input = x;
        _p = p;
        _context = context;
        _planes = x[0] * x[1];
        _h = x[2];
        _w = x[3];
        _outH = outH;
        _outW = outW;
        float[] hIn = [.. Enumerable.Range(0, outH).Select(o => Reference.ResizeSourceCoordinate(p.CoordinateTransform, o, scaleH, outH, _h))];
        float[] wIn = [.. Enumerable.Range(0, outW).Select(o => Reference.ResizeSourceCoordinate(p.CoordinateTransform, o, scaleW, outW, _w))];
        switch (p.Mode)
        {
            case ResizeMode.Nearest:
                _hi = [.. hIn.Select(v => Reference.ResizeNearestIndex(p.NearestMode, v, _h))];
                _wi = [.. wIn.Select(v => Reference.ResizeNearestIndex(p.NearestMode, v, _w))];
                foreach (int f in (int[])[2, 4])
                {
                    if (outW == _w * f && Enumerable.Range(0, outW).All(o => _wi[o] == o / f))
                    {
                        _factorW = f;
                    }
                }
                break;
            case ResizeMode.Linear:
                var th = hIn.Select(v => Reference.ResizeLinearTaps(v, _h)).ToArray();
                var tw = wIn.Select(v => Reference.ResizeLinearTaps(v, _w)).ToArray();
                (_hi, _h2, _dh1, _dh2) = ([.. th.Select(t => t.I1)], [.. th.Select(t => t.I2)], [.. th.Select(t => t.D1)], [.. th.Select(t => t.D2)]);
                (_wi, _w2, _dw1, _dw2) = ([.. tw.Select(t => t.I1)], [.. tw.Select(t => t.I2)], [.. tw.Select(t => t.D1)], [.. tw.Select(t => t.D2)]);
                break;
            default:
                _hi = _wi = [];
                var ch = hIn.Select(v => Reference.ResizeCubicTaps(v, _h, p.CubicCoeffA, p.ExcludeOutside)).ToArray();
                var cw = wIn.Select(v => Reference.ResizeCubicTaps(v, _w, p.CubicCoeffA, p.ExcludeOutside)).ToArray();
                (_hc, _hcw) = ([.. ch.SelectMany(t => t.Index)], [.. ch.SelectMany(t => t.Weight)]);
                (_wc, _wcw) = ([.. cw.SelectMany(t => t.Index)], [.. cw.SelectMany(t => t.Weight)]);
                break;
        }
        _chunks = ElementwiseThreading.Chunks(OutputShape.ElementCount, _planes, context.Pool);
        Algorithm = $"resize-{p.OnnxMode}" + (_factorW > 0 ? $"-x{_factorW}" : "");
    }

    public string Algorithm { get; }
    public long WorkspaceBytes => 4L * (_hi.Length + _wi.Length) * 4 + 12L * (_hc.Length + _wc.Length);
    public TensorShape OutputShape { get; }

    public void Execute(Tensor x, Tensor y)
    {
        Reference.RequireShape(x, _input, "input", "Resize", _p);
        Reference.RequireShape(y, OutputShape, "output", "Resize", _p);
        if (OutputShape.ElementCount == 0)
        {
            return;
        }
        _x = x;
        _y = y;
        try
        {
            _context.Pool.For(_chunks, this);
        }
        finally
        {
            _x = null;
            _y = null;
        }
    }

    public void Run(int chunk)
    {
        int first = (int)((long)chunk * _planes / _chunks), end = (int)((long)(chunk + 1) * _planes / _chunks);
        ReadOnlySpan<float> xs = _x!.Span;
        Span<float> ys = _y!.Span;
        for (int plane = first; plane < end; plane++)
        {
            ReadOnlySpan<float> xp = xs.Slice(plane * _h * _w, _h * _w);
            Span<float> yp = ys.Slice(plane * _outH * _outW, _outH * _outW);
            switch (_p.Mode)
            {
                case ResizeMode.Nearest: Nearest(xp, yp); break;
                case ResizeMode.Linear: Linear(xp, yp); break;
                default: Cubic(xp, yp); break;
            }
        }
    }

    private void Nearest(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int oh = 0; oh < _outH; oh++)
        {
            Span<float> row = y.Slice(oh * _outW, _outW);
            if (oh > 0 && _hi[oh] == _hi[oh - 1])
            {
                y.Slice((oh - 1) * _outW, _outW).CopyTo(row);
                continue;
            }
            ref float src = ref Unsafe.AsRef(in x[_hi[oh] * _w]);
            ref float dst = ref MemoryMarshal.GetReference(row);
            if (_factorW == 2)
            {
                for (int i = 0; i < _w; i++)
                {
                    float v = Unsafe.Add(ref src, i);
                    Unsafe.Add(ref dst, 2 * i) = v;
                    Unsafe.Add(ref dst, 2 * i + 1) = v;
                }
            }
            else if (_factorW == 4)
            {
                for (int i = 0; i < _w; i++)
                {
                    float v = Unsafe.Add(ref src, i);
                    ref float d = ref Unsafe.Add(ref dst, 4 * i);
                    d = v;
                    Unsafe.Add(ref d, 1) = v;
                    Unsafe.Add(ref d, 2) = v;
                    Unsafe.Add(ref d, 3) = v;
                }
            }
            else
            {
                for (int ow = 0; ow < _outW; ow++)
                {
                    Unsafe.Add(ref dst, ow) = Unsafe.Add(ref src, _wi[ow]);
                }
            }
        }
    }

    private void Linear(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int oh = 0; oh < _outH; oh++)
        {
            ReadOnlySpan<float> r1 = x.Slice(_hi[oh] * _w, _w), r2 = x.Slice(_h2[oh] * _w, _w);
            float dh1 = _dh1[oh], dh2 = _dh2[oh];
            Span<float> row = y.Slice(oh * _outW, _outW);
            for (int ow = 0; ow < _outW; ow++)
            {
                int w1 = _wi[ow], w2 = _w2[ow];
                float dw1 = _dw1[ow], dw2 = _dw2[ow];
                // The reference's expression and order, so the result is the same float.
                row[ow] = dw2 * dh2 * r1[w1] + dw1 * dh2 * r1[w2] + dw2 * dh1 * r2[w1] + dw1 * dh1 * r2[w2];
            }
        }
    }

    private void Cubic(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int oh = 0; oh < _outH; oh++)
        {
            Span<float> row = y.Slice(oh * _outW, _outW);
            for (int ow = 0; ow < _outW; ow++)
            {
                double sum = 0;
                for (int r = 0; r < 4; r++)
                {
                    ReadOnlySpan<float> xr = x.Slice(_hc[4 * oh + r] * _w, _w);
                    double acc = 0;
                    for (int t = 0; t < 4; t++)
                    {
                        acc += _wcw[4 * ow + t] * xr[_wc[4 * ow + t]];
                    }
                    sum += _hcw[4 * oh + r] * acc;
                }
                row[ow] = (float)sum;
            }
        }
    }

    public void Dispose()
    {
    }
}
