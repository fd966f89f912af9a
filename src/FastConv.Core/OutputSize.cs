namespace FastConv;

/// <summary>
/// The one place FastConv computes spatial output sizes. Letters as everywhere: input extent H,
/// filter extent R, output extent P.
/// </summary>
public static class OutputSize
{
    /// <summary>Extent covered by a dilated filter: <c>dil·(R−1) + 1</c>.</summary>
    public static int Dilated(int kernel, int dilation) => dilation * (kernel - 1) + 1;

    /// <summary>
    /// Convolution (and floor-mode pooling): <c>P = floor((H + padBegin + padEnd − dil·(R−1) − 1) / stride) + 1</c>.
    /// Callers validate first (stride, dilation ≥ 1, pads ≥ 0, dilated kernel ≤ padded input), so the
    /// numerator is never negative.
    /// </summary>
    public static int Conv(int input, int kernel, int stride, int padBegin, int padEnd, int dilation)
        => (input + padBegin + padEnd - Dilated(kernel, dilation)) / stride + 1;

    /// <summary>
    /// Pooling: floor mode is <see cref="Conv"/>; ceil mode rounds the division up,
    /// <c>P = ceil((H + padBegin + padEnd − dil·(R−1) − 1) / stride) + 1</c>, then drops the last window
    /// when it would start inside the end padding (<c>(P−1)·stride ≥ H + padBegin</c>), as ONNX,
    /// ONNX Runtime and PyTorch do, so every window sees at least one real input element.
    /// </summary>
    public static int Pool(int input, int kernel, int stride, int padBegin, int padEnd, int dilation, bool ceilMode)
    {
        if (!ceilMode)
        {
            return Conv(input, kernel, stride, padBegin, padEnd, dilation);
        }
        long span = (long)input + padBegin + padEnd - Dilated(kernel, dilation);
        int p = (int)((span + stride - 1) / stride + 1);
        if ((long)(p - 1) * stride >= (long)input + padBegin)
        {
            p--;
        }
        return p;
    }

    /// <summary>
    /// Transposed convolution: <c>P = (H − 1)·stride − padBegin − padEnd + dil·(R−1) + outputPadding + 1</c>.
    /// </summary>
    public static int ConvTranspose(int input, int kernel, int stride, int padBegin, int padEnd, int dilation, int outputPadding)
        => (input - 1) * stride - padBegin - padEnd + Dilated(kernel, dilation) + outputPadding;

    /// <summary>
    /// Resize: output extent from a scale, as ONNX Runtime computes it: <c>floor(H · scale)</c> with the
    /// product rounded to float32 first (so 5 × 0.6f = 3.0000001f gives 3).
    /// </summary>
    public static int Resize(int input, float scale) => (int)(scale * (float)input);

    /// <summary>
    /// Shape of ONNX <c>Reshape</c> (allowzero = 0): entry i of <paramref name="shape"/> is the output dim,
    /// except 0, which copies input dim i, and at most one −1, which is inferred so the element count is
    /// unchanged: <c>dims[j] = count(x) / ∏_{i≠j} dims[i]</c>. Throws <see cref="InvalidShapeException"/> for
    /// two −1s, entries below −1, a 0 past the input rank, or an element count that does not match.
    /// </summary>
    public static TensorShape Reshape(TensorShape input, ReadOnlySpan<long> shape)
    {
        ArgumentNullException.ThrowIfNull(input);
        string requested = "[" + string.Join(",", shape.ToArray()) + "]";
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
}
