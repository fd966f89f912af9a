namespace FastConv;

/// <summary>
/// The one place FastConv computes broadcast shapes (NumPy / ONNX rules). Shapes are aligned at their
/// last dimension; a missing leading dimension counts as 1; two dimensions are compatible when equal or
/// when one of them is 1, and the output takes the larger. Every broadcasting op (Add, Sub, Mul, Div,
/// PRelu's slope, Gemm's C, MatMul's batch dimensions) goes through here.
/// </summary>
public static class Broadcast
{
    /// <summary>
    /// Multidirectional (NumPy) broadcast: the shape both <paramref name="a"/> and <paramref name="b"/>
    /// stretch to. Rank = max of the ranks; dimension d = max(a_d, b_d) where each is equal or 1.
    /// Throws <see cref="InvalidShapeException"/> naming both shapes when they are incompatible.
    /// </summary>
    public static TensorShape BroadcastShape(TensorShape a, TensorShape b, string op = "Broadcast")
    {
        int rank = Math.Max(a.Rank, b.Rank);
        var dims = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = DimFromEnd(a, rank - 1 - i);
            int db = DimFromEnd(b, rank - 1 - i);
            if (da != db && da != 1 && db != 1)
            {
                throw new InvalidShapeException(
                    $"{op}: shapes {a} and {b} cannot broadcast: dimension {da} vs {db} at output axis {i} (shapes are aligned at the last axis; each pair must be equal or contain a 1).");
            }
            dims[i] = da == 1 ? db : da;
        }
        return new TensorShape(dims);
    }

    /// <summary>
    /// Unidirectional broadcast (ONNX PRelu's slope, Gemm's C): <paramref name="from"/> must stretch to
    /// exactly <paramref name="to"/> without changing <paramref name="to"/>. Throws
    /// <see cref="InvalidShapeException"/> naming both shapes otherwise.
    /// </summary>
    public static void RequireUnidirectional(TensorShape from, TensorShape to, string what, string op)
    {
        bool ok = from.Rank <= to.Rank;
        for (int i = 0; ok && i < from.Rank; i++)
        {
            int df = from[from.Rank - 1 - i], dt = to[to.Rank - 1 - i];
            ok = df == dt || df == 1;
        }
        if (!ok)
        {
            throw new InvalidShapeException(
                $"{op}: {what} of shape {from} cannot broadcast (unidirectionally) to shape {to}; each of its dimensions, aligned at the last axis, must equal the target's or be 1, and its rank must not exceed {to.Rank}.");
        }
    }

    /// <summary>
    /// Element strides of <paramref name="input"/> read as a tensor of shape <paramref name="output"/>
    /// (rank of the output): the row-major stride of each real dimension, 0 for a broadcast dimension
    /// (size 1 stretched, or a missing leading one). The caller has checked compatibility.
    /// Element at output multi-index (i₀,…) lives at flat offset Σ iₖ·stride[k] of the input.
    /// </summary>
    public static int[] Strides(TensorShape input, TensorShape output)
    {
        int[] own = input.Strides();
        var strides = new int[output.Rank];
        int shift = output.Rank - input.Rank;
        for (int k = 0; k < output.Rank; k++)
        {
            int j = k - shift;
            strides[k] = j < 0 || input[j] == 1 ? 0 : own[j];
        }
        return strides;
    }

    /// <summary>Flat offset into a broadcast input for output flat index <paramref name="flat"/>.</summary>
    public static int Offset(int flat, TensorShape output, int[] strides)
    {
        int offset = 0;
        for (int k = output.Rank - 1; k >= 0; k--)
        {
            int d = output[k];
            offset += flat % d * strides[k];
            flat /= d;
        }
        return offset;
    }

    private static int DimFromEnd(TensorShape s, int fromEnd) => fromEnd < s.Rank ? s[s.Rank - 1 - fromEnd] : 1;
}
