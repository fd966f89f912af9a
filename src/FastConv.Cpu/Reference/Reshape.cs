namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// Shape of ONNX <c>Reshape</c> (allowzero = 0): entry i of <paramref name="shape"/> is the output dim,
    /// except 0, which copies input dim i, and at most one −1, which is inferred so the element count is
    /// unchanged: <c>dims[j] = count(x) / ∏_{i≠j} dims[i]</c>. Throws <see cref="InvalidShapeException"/> for
    /// two −1s, entries below −1, a 0 past the input rank, or an element count that does not match.
    /// </summary>
    public static TensorShape ReshapeOutputShape(TensorShape input, ReadOnlySpan<long> shape)
    {
        ArgumentNullException.ThrowIfNull(input);
        string requested = LayoutIndex.Format(shape.ToArray());
        var dims = new int[shape.Length];
        int inferred = -1;
        long known = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            long s = shape[i];
            if (s == -1)
            {
                if (inferred >= 0)
                {
                    throw new InvalidShapeException($"Reshape: shape {requested} has more than one -1 (at {inferred} and {i}); input shape {input}.");
                }
                inferred = i;
                continue;
            }
            if (s < -1)
            {
                throw new InvalidShapeException($"Reshape: shape {requested} has {s} at {i}; only -1 may be negative; input shape {input}.");
            }
            if (s == 0)
            {
                if (i >= input.Rank)
                {
                    throw new InvalidShapeException($"Reshape: shape {requested} has 0 at {i}, past the input rank {input.Rank}, so there is no input dim to copy; input shape {input}.");
                }
                s = input[i];
            }
            if (s > int.MaxValue)
            {
                throw new InvalidShapeException($"Reshape: shape {requested} has {s} at {i}, too large; input shape {input}.");
            }
            dims[i] = (int)s;
            known *= s;
            if (known > int.MaxValue)
            {
                throw new InvalidShapeException($"Reshape: shape {requested} has more elements than input shape {input} ({input.ElementCount}).");
            }
        }
        if (inferred >= 0)
        {
            if (known == 0 || input.ElementCount % known != 0)
            {
                throw new InvalidShapeException($"Reshape: cannot infer the -1 in shape {requested}: the other dims multiply to {known}, which does not divide the {input.ElementCount} elements of input shape {input}.");
            }
            dims[inferred] = (int)(input.ElementCount / known);
        }
        else if (known != input.ElementCount)
        {
            throw new InvalidShapeException($"Reshape: shape {requested} has {known} elements but input shape {input} has {input.ElementCount}.");
        }
        return new TensorShape(dims);
    }

    /// <summary>
    /// Reshape (ONNX <c>Reshape</c>, allowzero = 0): the same row-major elements under the shape
    /// <see cref="ReshapeOutputShape"/>: <c>y.flat[i] = x.flat[i]</c>.
    /// </summary>
    public static void Reshape(Tensor x, ReadOnlySpan<long> shape, Tensor y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        RequireShape(y, ReshapeOutputShape(x.Shape, shape), "output", "Reshape", $"input {x.Shape}, shape {LayoutIndex.Format(shape.ToArray())}");
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        for (int i = 0; i < xs.Length; i++)
        {
            ys[i] = xs[i];
        }
    }
}
