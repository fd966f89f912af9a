namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// Shape of ONNX <c>Transpose</c>: <c>out.dims[i] = in.dims[perm[i]]</c>. A null or empty
    /// <paramref name="perm"/> reverses the axes (perm = [r−1, …, 0]). Throws
    /// <see cref="InvalidHyperparameterException"/> unless perm is a permutation of 0..r−1.
    /// </summary>
    public static TensorShape TransposeOutputShape(TensorShape input, IReadOnlyList<int>? perm)
    {
        ArgumentNullException.ThrowIfNull(input);
        int[] p = TransposePerm(input, perm);
        var dims = new int[p.Length];
        for (int i = 0; i < p.Length; i++)
        {
            dims[i] = input[p[i]];
        }
        return new TensorShape(dims);
    }

    /// <summary>
    /// Transpose (ONNX <c>Transpose</c>): <c>y[i_0, …, i_{r−1}] = x[j]</c> where <c>j[perm[k]] = i_k</c>.
    /// </summary>
    public static void Transpose(Tensor x, IReadOnlyList<int>? perm, Tensor y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        int[] p = TransposePerm(x.Shape, perm);
        RequireShape(y, TransposeOutputShape(x.Shape, p), "output", "Transpose", $"input {x.Shape}, perm {LayoutIndex.Format(p)}");
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        var outIndex = new int[p.Length];
        var inIndex = new int[p.Length];
        for (int o = 0; o < ys.Length; o++)
        {
            LayoutIndex.Unravel(o, y.Shape, outIndex);
            for (int k = 0; k < p.Length; k++)
            {
                inIndex[p[k]] = outIndex[k];
            }
            ys[o] = xs[LayoutIndex.Ravel(inIndex, x.Shape)];
        }
    }

    private static int[] TransposePerm(TensorShape input, IReadOnlyList<int>? perm)
    {
        int r = input.Rank;
        if (perm is null || perm.Count == 0)
        {
            return Enumerable.Range(0, r).Reverse().ToArray();
        }
        if (perm.Count != r)
        {
            throw new InvalidHyperparameterException($"Transpose: perm {LayoutIndex.Format(perm)} has {perm.Count} entries but input shape {input} has rank {r}.");
        }
        var seen = new bool[r];
        foreach (int a in perm)
        {
            if (a < 0 || a >= r || seen[a])
            {
                throw new InvalidHyperparameterException($"Transpose: perm {LayoutIndex.Format(perm)} is not a permutation of 0..{r - 1} (entry {a}); input shape {input}.");
            }
            seen[a] = true;
        }
        return perm.ToArray();
    }
}
