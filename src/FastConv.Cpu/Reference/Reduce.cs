using FastConv.Backends;
using FastConv.Graphs.Ops;

namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// ReduceSum, ReduceMean, ReduceMax and ReduceMin (ONNX) over <paramref name="axes"/> (normalized, distinct): each
    /// output element j combines the inputs i that reduce to it (i with the reduced axes set to 0): Σx (in double,
    /// rounded once), Σx/count, the largest or the smallest x (NaN when any of them is NaN). With
    /// <paramref name="keepDims"/> the reduced axes stay with extent 1, otherwise they are removed; an empty
    /// <paramref name="axes"/> copies x.
    /// </summary>
    public static void Reduce(ReduceKind kind, Tensor x, IReadOnlyList<int> axes, bool keepDims, Tensor y)
    {
        ArgumentNullException.ThrowIfNull(axes);
        if (kind == ReduceKind.Mean)
        {
            ReduceMean(x, axes, keepDims, y);
            return;
        }
        int r = x.Rank;
        var kept = new int[r];
        for (int d = 0; d < r; d++)
        {
            kept[d] = axes.Contains(d) ? 1 : x.Shape[d];
        }
        RequireShape(y, ReduceMeanOp.OutputShape(x.Shape, axes, keepDims), "output", "Reduce" + kind, $"input {x.Shape}, axes {LayoutIndex.Format(axes)}, keepdims {keepDims}");
        var keptShape = new TensorShape(kept);
        var acc = new double[keptShape.ElementCount];
        Array.Fill(acc, kind switch { ReduceKind.Max => double.NegativeInfinity, ReduceKind.Min => double.PositiveInfinity, _ => 0 });
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
            int j = LayoutIndex.Ravel(index, keptShape);
            double v = xs[i];
            acc[j] = kind switch
            {
                ReduceKind.Sum => acc[j] + v,
                _ when double.IsNaN(v) || double.IsNaN(acc[j]) => double.NaN,
                ReduceKind.Max => Math.Max(acc[j], v),
                _ => Math.Min(acc[j], v),
            };
        }
        Span<float> ys = y.Span;
        for (int j = 0; j < acc.Length; j++)
        {
            ys[j] = (float)acc[j];
        }
    }
}

public sealed partial class ReferenceBackend : IReducePlanner
{
    public IUnaryPlan PlanReduce(ReduceKind kind, TensorShape x, IReadOnlyList<int> axes, bool keepDims)
    {
        int[] a = [.. axes];
        return new UnaryPlan("Reduce" + kind, ReduceMeanOp.OutputShape(x, a, keepDims), (xi, y) => Reference.Reduce(kind, xi, a, keepDims, y));
    }
}
