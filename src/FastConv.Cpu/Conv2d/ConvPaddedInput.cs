using FastConv.Ops;

namespace FastConv.Cpu;

/// <summary>
/// The layout of one input channel copied into a zero-padded, column-de-interleaved plane, so that the
/// direct kernels read full vectors along the output row Q with no padding checks and no gathers:
/// padded position (y, x) lives at <c>y·RowStride + (x mod sw)·PhaseStride + x / sw</c>. For output pixel
/// (p, q) and tap (r, s) the input sits at <c>SlotBase(p, q) + TapOffset(r, s)</c>, and consecutive q are
/// consecutive floats even when the stride sw is 2 or 3 (tap s reads phase (s·dw) mod sw shifted by
/// (s·dw) / sw). Each phase row is wide enough for whole vectors past Q (those lanes are computed and
/// discarded), so no load ever leaves the plane. The copy costs H·W per channel against K/g·R·S·P·Q
/// multiply-adds per channel of compute: well under 1 % on every real layer.
/// Positions never written (the padding and the slack) stay zero from allocation, so a buffer is cleared once.
/// </summary>
internal sealed class ConvPaddedInput
{
    /// <param name="s">The convolution.</param>
    /// <param name="lanes">Vector width of the kernels that will read it.</param>
    /// <param name="flat">
    /// Rows exactly Wp wide (stride 1 only), for kernels that run vectors across row ends over the whole
    /// plane as one line of P·Wp "virtual" pixels; the loads then stay inside the next rows and the planes
    /// after, and <see cref="Slack"/> floats after the last plane cover the last vector.
    /// </param>
    public ConvPaddedInput(Conv2dShape s, int lanes, bool flat = false)
    {
        var p = s.Params;
        H = s.H;
        W = s.W;
        Top = p.Padding.Top;
        Left = p.Padding.Left;
        Sw = p.StrideW;
        int hp = s.H + p.Padding.Top + p.Padding.Bottom;
        int wp = s.W + p.Padding.Left + p.Padding.Right;
        int maxShift = (s.S - 1) * p.DilationW / Sw;
        int q = s.Q;
        int qRounded = (q + lanes - 1) / lanes * lanes;
        PhaseStride = flat ? wp : Math.Max((wp + Sw - 1) / Sw, qRounded + maxShift);
        Slack = lanes;
        RowStride = Sw * PhaseStride;
        PlaneStride = (long)hp * RowStride;
        TapOffsets = new int[s.R * s.S];
        for (int r = 0; r < s.R; r++)
        {
            for (int t = 0; t < s.S; t++)
            {
                int x = t * p.DilationW;
                TapOffsets[r * s.S + t] = r * p.DilationH * RowStride + x % Sw * PhaseStride + x / Sw;
            }
        }
        StrideH = p.StrideH;
    }

    public int H { get; }
    public int W { get; }
    public int Top { get; }
    public int Left { get; }
    public int Sw { get; }
    public int StrideH { get; }
    public int PhaseStride { get; }
    public int RowStride { get; }
    public long PlaneStride { get; }

    /// <summary>Floats a buffer of these planes needs past the last plane.</summary>
    public int Slack { get; }

    /// <summary>Offset of tap (r, s) = index r·S + s relative to <see cref="SlotBase"/>.</summary>
    public int[] TapOffsets { get; }

    /// <summary>Offset, within a plane, of output pixel (p, q)'s first tap.</summary>
    public long SlotBase(int p, int q) => (long)p * StrideH * RowStride + q;

    /// <summary>Copies one H×W input plane into its padded, de-interleaved place (padding left untouched).</summary>
    public unsafe void CopyPlane(float* src, float* dst)
    {
        for (int h = 0; h < H; h++)
        {
            float* srow = src + (long)h * W;
            float* drow = dst + (long)(h + Top) * RowStride;
            if (Sw == 1)
            {
                new ReadOnlySpan<float>(srow, W).CopyTo(new Span<float>(drow + Left, W));
                continue;
            }
            // One phase at a time: strided reads, contiguous writes, no division per element.
            for (int phase = 0; phase < Sw; phase++)
            {
                int w0 = ((phase - Left) % Sw + Sw) % Sw; // first column with (w + Left) mod Sw = phase
                float* d = drow + phase * PhaseStride + (w0 + Left) / Sw;
                for (int w = w0; w < W; w += Sw)
                {
                    *d++ = srow[w];
                }
            }
        }
    }
}
