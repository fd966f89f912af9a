namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// ReduceMean (ONNX <c>ReduceMean</c>) over <paramref name="axes"/> (normalized, distinct):
    /// <c>y[j] = (Σ_{i reduces to j} x[i]) / (number of such i)</c>, summed in double and rounded once. With
    /// <paramref name="keepDims"/> the reduced axes stay with extent 1; otherwise they are removed. An empty
    /// <paramref name="axes"/> copies x (ONNX's noop_with_empty_axes).
    /// </summary>
    public static void ReduceMean(Tensor x, IReadOnlyList<int> axes, bool keepDims, Tensor y)
    {
        ArgumentNullException.ThrowIfNull(axes);
        int r = x.Rank;
        var kept = new int[r];
        var outDims = new List<int>();
        long count = 1;
        for (int d = 0; d < r; d++)
        {
            bool reduced = axes.Contains(d);
            kept[d] = reduced ? 1 : x.Shape[d];
            if (reduced)
            {
                count *= x.Shape[d];
            }
            if (!reduced || keepDims)
            {
                outDims.Add(kept[d]);
            }
        }
        RequireShape(y, new TensorShape([.. outDims]), "output", "ReduceMean", $"input {x.Shape}, axes {LayoutIndex.Format(axes)}, keepdims {keepDims}");
        var keptShape = new TensorShape(kept);
        var sums = new double[keptShape.ElementCount];
        var index = new int[r];
        ReadOnlySpan<float> xs = x.Span;
        for (int i = 0; i < xs.Length; i++)
        {
            LayoutIndex.Unravel(i, x.Shape, index);
            for (int d = 0; d < r; d++)
            {
                if (kept[d] == 1)
                {
                    index[d] = 0;
                }
            }
            sums[LayoutIndex.Ravel(index, keptShape)] += xs[i];
        }
        Span<float> ys = y.Span;
        for (int j = 0; j < sums.Length; j++)
        {
            ys[j] = (float)(sums[j] / count);
        }
    }
}
