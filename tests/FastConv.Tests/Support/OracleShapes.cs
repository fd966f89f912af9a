namespace FastConv.Tests.Support;

/// <summary>
/// Seeded random shapes for the ONNX Runtime comparisons: at least 50 per op, with the edges
/// (size-1 dimensions, odd sizes, ranks 1 to 5) always included.
/// </summary>
internal static class OracleShapes
{
    public const int CasesPerOp = 60;

    /// <summary>Shapes for element-wise ops: fixed edges first, then random ranks 1–5, dims 1–9.</summary>
    public static IEnumerable<TestCaseData> Elementwise(string op, int seed)
    {
        int[][] edges = [[1], [17], [1, 1, 1, 1], [1, 3, 5, 7], [2, 16, 8, 8], [3, 13, 1, 9], [2, 1, 2, 1, 2]];
        var rng = new Random(seed);
        int n = 0;
        foreach (var e in edges)
        {
            yield return new TestCaseData(e).SetName($"{op}(X=[{string.Join(",", e)}]) #{n++}");
        }
        while (n < CasesPerOp)
        {
            int rank = rng.Next(1, 6);
            var dims = new int[rank];
            for (int i = 0; i < rank; i++)
            {
                dims[i] = rng.Next(1, 10);
            }
            yield return new TestCaseData(dims).SetName($"{op}(X=[{string.Join(",", dims)}]) #{n++}");
        }
    }
}
