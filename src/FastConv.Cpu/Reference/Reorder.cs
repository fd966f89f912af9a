namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// FastConv's <c>Reorder</c>: the N×C×H×W value <paramref name="x"/>, laid out as <paramref name="from"/>, written
    /// into <paramref name="y"/> laid out as <paramref name="to"/>. In NCHWc, element (n, c, h, w) sits at
    /// <c>[n][c / b][h][w][c % b]</c>; the channels past C in the last block are written as zeros.
    /// </summary>
    public static void Reorder(Tensor x, TensorShape shape, TensorLayout from, TensorLayout to, Tensor y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(y);
        shape.RequireRank(4, "value", "Reorder");
        string problem = $"value {shape}, {from} -> {to}";
        RequireShape(x, from.PhysicalShape(shape), "input", "Reorder", problem);
        RequireShape(y, to.PhysicalShape(shape), "output", "Reorder", problem);
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        ys.Clear(); // the padding channels of a blocked output are zeros
        int n = shape[0], c = shape[1], h = shape[2], w = shape[3];
        for (int ni = 0; ni < n; ni++)
        {
            for (int ci = 0; ci < c; ci++)
            {
                for (int hi = 0; hi < h; hi++)
                {
                    for (int wi = 0; wi < w; wi++)
                    {
                        ys[LayoutOffset(to, c, h, w, ni, ci, hi, wi)] = xs[LayoutOffset(from, c, h, w, ni, ci, hi, wi)];
                    }
                }
            }
        }
    }

    /// <summary>The offset of element (n, c, h, w) of a C×H×W-per-image value in <paramref name="layout"/>.</summary>
    internal static int LayoutOffset(TensorLayout layout, int c, int h, int w, int n, int ci, int hi, int wi)
    {
        if (!layout.IsBlocked)
        {
            return ((n * c + ci) * h + hi) * w + wi;
        }
        int b = layout.Block, blocks = (c + b - 1) / b;
        return (((n * blocks + ci / b) * h + hi) * w + wi) * b + ci % b;
    }
}
