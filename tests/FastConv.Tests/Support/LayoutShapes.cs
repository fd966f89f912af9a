namespace FastConv.Tests.Support;

/// <summary>Small helpers for the layout-op oracle tests (Concat, Flatten, Reshape, Transpose, Pad, Resize).</summary>
internal static class LayoutShapes
{
    /// <summary>Random dims in [lo, hi].</summary>
    public static int[] RandomDims(Random rng, int rank, int lo = 1, int hi = 6)
    {
        var dims = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            dims[i] = rng.Next(lo, hi + 1);
        }
        return dims;
    }

    /// <summary>A uniformly random permutation of 0..n−1.</summary>
    public static int[] RandomPerm(Random rng, int n)
    {
        int[] p = Enumerable.Range(0, n).ToArray();
        rng.Shuffle(p);
        return p;
    }

    public static string Fmt<T>(IEnumerable<T> values) => "[" + string.Join(",", values) + "]";

    /// <summary>A seed derived from the case's numbers, so each case draws its own data.</summary>
    public static int Seed(params int[] values) => values.Aggregate(17, (h, d) => unchecked(h * 31 + d));

    public static long[] Longs(IEnumerable<int> values) => values.Select(v => (long)v).ToArray();
}
