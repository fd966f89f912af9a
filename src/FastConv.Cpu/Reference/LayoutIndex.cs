namespace FastConv.Cpu;

/// <summary>Multi-index helpers shared by the reference layout ops (Concat, Transpose, Pad): plain arithmetic.</summary>
internal static class LayoutIndex
{
    /// <summary>Writes the row-major multi-index of flat index <paramref name="flat"/> in <paramref name="shape"/> into <paramref name="index"/>.</summary>
    public static void Unravel(int flat, TensorShape shape, Span<int> index)
    {
        for (int d = shape.Rank - 1; d >= 0; d--)
        {
            index[d] = flat % shape[d];
            flat /= shape[d];
        }
    }

    /// <summary>Row-major flat index of multi-index <paramref name="index"/> in <paramref name="shape"/>.</summary>
    public static int Ravel(ReadOnlySpan<int> index, TensorShape shape)
    {
        int flat = 0;
        for (int d = 0; d < shape.Rank; d++)
        {
            flat = flat * shape[d] + index[d];
        }
        return flat;
    }

    /// <summary>"[a,b,c]" for messages.</summary>
    public static string Format<T>(IEnumerable<T> values) => "[" + string.Join(",", values) + "]";
}
