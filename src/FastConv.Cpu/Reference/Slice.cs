using FastConv.Backends;
using FastConv.Graphs.Ops;

namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// Slice (ONNX <c>Slice</c>, with starts and steps already normalized per axis by the op's definition):
    /// <c>y[i₀, …, i_{r−1}] = x[starts[0] + i₀·steps[0], …, starts[r−1] + i_{r−1}·steps[r−1]]</c> for every index of y.
    /// Every index read must lie inside x.
    /// </summary>
    public static void Slice(Tensor x, IReadOnlyList<int> starts, IReadOnlyList<int> steps, Tensor y)
    {
        int r = x.Rank;
        if (starts.Count != r || steps.Count != r || y.Rank != r)
        {
            throw new InvalidShapeException($"Slice: input {x.Shape}, output {y.Shape}, starts {LayoutIndex.Format(starts)} and steps {LayoutIndex.Format(steps)} must have the same rank.");
        }
        for (int d = 0; d < r; d++)
        {
            long last = starts[d] + (long)(y.Shape[d] - 1) * steps[d];
            if (y.Shape[d] > 0 && (steps[d] == 0 || starts[d] < 0 || starts[d] >= x.Shape[d] || last < 0 || last >= x.Shape[d]))
            {
                throw new InvalidHyperparameterException($"Slice: axis {d} reads {starts[d]}, {starts[d]} + {steps[d]}, … {last}, outside input {x.Shape}; output {y.Shape}.");
            }
        }
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        var outIndex = new int[r];
        var inIndex = new int[r];
        for (int o = 0; o < ys.Length; o++)
        {
            LayoutIndex.Unravel(o, y.Shape, outIndex);
            for (int d = 0; d < r; d++)
            {
                inIndex[d] = starts[d] + outIndex[d] * steps[d];
            }
            ys[o] = xs[LayoutIndex.Ravel(inIndex, x.Shape)];
        }
    }

    /// <summary>
    /// Split (ONNX <c>Split</c>): output k gets the <paramref name="sizes"/>[k] consecutive indices of
    /// <paramref name="axis"/> that follow the earlier outputs': <c>ys[k][…, i, …] = x[…, Σ_{j&lt;k} sizes[j] + i, …]</c>.
    /// </summary>
    public static void Split(Tensor x, int axis, IReadOnlyList<int> sizes, IReadOnlyList<Tensor> ys)
    {
        int a = x.Shape.NormalizeAxis(axis, "Split");
        if (sizes.Count != ys.Count || sizes.Sum() != x.Shape[a])
        {
            throw new InvalidHyperparameterException($"Split: sizes {LayoutIndex.Format(sizes)} must give one part per output ({ys.Count}) and add up to {x.Shape[a]}; input {x.Shape}, axis {axis}.");
        }
        var index = new int[x.Rank];
        ReadOnlySpan<float> xs = x.Span;
        for (int i = 0; i < xs.Length; i++)
        {
            LayoutIndex.Unravel(i, x.Shape, index);
            int k = 0;
            while (index[a] >= sizes[k])
            {
                index[a] -= sizes[k++];
            }
            ys[k].Span[LayoutIndex.Ravel(index, ys[k].Shape)] = xs[i];
        }
    }
}

public sealed partial class ReferenceBackend : ISlicePlanner
{
    public IUnaryPlan PlanSlice(TensorShape x, IReadOnlyList<int> starts, IReadOnlyList<int> steps, TensorShape output)
    {
        int[] s = [.. starts], t = [.. steps];
        return new UnaryPlan("Slice", output, (xi, y) => Reference.Slice(xi, s, t, y));
    }
}
