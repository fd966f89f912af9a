namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// Shape of <c>Concat(inputs, axis)</c>: every input has the same rank r ≥ 1 and the same dimensions
    /// except on <paramref name="axis"/> (in [−r, r−1], negative counts from the end), whose output extent is
    /// the sum of the inputs' extents (an input may have extent 0 there).
    /// </summary>
    public static TensorShape ConcatOutputShape(IReadOnlyList<TensorShape> inputs, int axis)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count == 0)
        {
            throw new InvalidShapeException("Concat: needs at least one input, got none.");
        }
        string all = string.Join(" ", inputs.Select(s => s.ToString()));
        TensorShape first = inputs[0];
        if (first.Rank == 0)
        {
            throw new InvalidShapeException($"Concat: inputs must have rank >= 1, got scalar inputs; inputs {all}.");
        }
        int a = axis < 0 ? axis + first.Rank : axis;
        if (a < 0 || a >= first.Rank)
        {
            throw new InvalidHyperparameterException($"Concat: axis {axis} is outside [-{first.Rank}, {first.Rank - 1}]; inputs {all}.");
        }
        var dims = first.Dims.ToArray();
        dims[a] = 0;
        for (int i = 0; i < inputs.Count; i++)
        {
            TensorShape s = inputs[i];
            if (s.Rank != first.Rank)
            {
                throw new InvalidShapeException($"Concat: input {i} has rank {s.Rank} but input 0 has rank {first.Rank}; inputs {all}, axis {axis}.");
            }
            for (int d = 0; d < s.Rank; d++)
            {
                if (d != a && s[d] != first[d])
                {
                    throw new InvalidShapeException($"Concat: input {i} shape {s} differs from input 0 shape {first} on axis {d}, which is not the concat axis {axis}; inputs {all}.");
                }
            }
            dims[a] += s[a];
        }
        return new TensorShape(dims);
    }

    /// <summary>
    /// Concat (ONNX <c>Concat</c>): joins the inputs along <paramref name="axis"/>. With a = the normalized axis
    /// and off_i = Σ_{j&lt;i} inputs[j].dims[a]:
    /// <c>y[..., off_i + k, ...] = inputs[i][..., k, ...]</c> for k in [0, inputs[i].dims[a]).
    /// </summary>
    public static void Concat(IReadOnlyList<Tensor> inputs, int axis, Tensor y)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var shapes = inputs.Select(t => t.Shape).ToArray();
        TensorShape outShape = ConcatOutputShape(shapes, axis);
        RequireShape(y, outShape, "output", "Concat", $"inputs {string.Join(" ", shapes.Select(s => s.ToString()))}, axis {axis}");
        int a = axis < 0 ? axis + outShape.Rank : axis;
        Span<float> ys = y.Span;
        var index = new int[outShape.Rank];
        int offset = 0;
        foreach (Tensor x in inputs)
        {
            ReadOnlySpan<float> xs = x.Span;
            for (int i = 0; i < xs.Length; i++)
            {
                LayoutIndex.Unravel(i, x.Shape, index);
                index[a] += offset;
                ys[LayoutIndex.Ravel(index, outShape)] = xs[i];
            }
            offset += x.Shape[a];
        }
    }
}
