using FastConv.Ops;

namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// Shape of ONNX <c>Pad</c>: <c>out.dims[d] = dims[d] + begin[d] + end[d]</c>. Validates the pads:
    /// 2·rank of them; negative pads may crop at most the whole axis; <see cref="PadMode.Reflect"/> needs every
    /// positive pad &lt; the (cropped) extent; <see cref="PadMode.Edge"/> cannot pad an empty axis.
    /// </summary>
    public static TensorShape PadOutputShape(TensorShape input, PadParams p)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(p);
        int r = input.Rank;
        if (p.Pads.Count != 2 * r)
        {
            throw new InvalidHyperparameterException($"Pad: needs 2·rank = {2 * r} pads (all begins, then all ends), got {p.Pads.Count}; input shape {input}, {p}.");
        }
        var dims = new int[r];
        for (int d = 0; d < r; d++)
        {
            int b = p.Begin(d), e = p.End(d);
            long extent = PadCroppedExtent(input[d], b, e);
            if (extent < 0)
            {
                throw new InvalidHyperparameterException($"Pad: the negative pads on axis {d} crop {-Math.Min(b, 0) - Math.Min(e, 0)} elements from a dim of {input[d]}; input shape {input}, {p}.");
            }
            if (p.Mode == PadMode.Reflect && (b > 0 && b >= extent || e > 0 && e >= extent))
            {
                throw new InvalidHyperparameterException($"Pad: reflect pads on axis {d} (begin {b}, end {e}) must be smaller than the dim {extent}; input shape {input}, {p}.");
            }
            if (p.Mode == PadMode.Edge && extent == 0 && (b > 0 || e > 0))
            {
                // ONNX Runtime quietly gives an empty output here (numpy's behaviour); FastConv calls it an error.
                throw new InvalidShapeException($"Pad: edge mode cannot pad axis {d}, which is empty; input shape {input}, {p}.");
            }
            long size = (long)input[d] + b + e;
            if (size > int.MaxValue)
            {
                throw new InvalidHyperparameterException($"Pad: output dim {d} would be {size}; input shape {input}, {p}.");
            }
            dims[d] = (int)size;
        }
        return new TensorShape(dims);
    }

    /// <summary>
    /// Pad (ONNX <c>Pad</c>, opset 13+). Negative pads first crop the input (as ONNX Runtime does), leaving on
    /// axis d the extent <c>E = dims[d] + min(begin,0) + min(end,0)</c> starting at <c>s = max(−begin, 0)</c>;
    /// then, per axis, output index o reads input index <c>i = o − max(begin, 0)</c> of the cropped range:
    /// inside [0, E) it is copied; outside, <see cref="PadMode.Constant"/> writes <see cref="PadParams.Value"/>,
    /// <see cref="PadMode.Edge"/> reads <c>clamp(i, 0, E−1)</c>, and <see cref="PadMode.Reflect"/> reads
    /// <c>−i</c> (i &lt; 0) or <c>2(E−1) − i</c> (i ≥ E).
    /// </summary>
    public static void Pad(Tensor x, PadParams p, Tensor y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(p);
        ArgumentNullException.ThrowIfNull(y);
        RequireShape(y, PadOutputShape(x.Shape, p), "output", "Pad", $"input {x.Shape}, {p}");
        int r = x.Rank;
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        var outIndex = new int[r];
        var inIndex = new int[r];
        for (int o = 0; o < ys.Length; o++)
        {
            LayoutIndex.Unravel(o, y.Shape, outIndex);
            bool inBorder = false;
            for (int d = 0; d < r; d++)
            {
                int b = p.Begin(d), e = p.End(d);
                int extent = (int)PadCroppedExtent(x.Shape[d], b, e);
                int i = outIndex[d] - Math.Max(b, 0);
                if (i < 0 || i >= extent)
                {
                    switch (p.Mode)
                    {
                        case PadMode.Constant:
                            inBorder = true;
                            break;
                        case PadMode.Edge:
                            i = Math.Clamp(i, 0, extent - 1);
                            break;
                        default:
                            i = i < 0 ? -i : 2 * (extent - 1) - i;
                            break;
                    }
                }
                inIndex[d] = Math.Max(-b, 0) + i;
            }
            ys[o] = inBorder ? p.Value : xs[LayoutIndex.Ravel(inIndex, x.Shape)];
        }
    }

    private static long PadCroppedExtent(int dim, int begin, int end) => (long)dim + Math.Min(begin, 0) + Math.Min(end, 0);
}
