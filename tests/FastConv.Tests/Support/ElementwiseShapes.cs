namespace FastConv.Tests.Support;

/// <summary>
/// Seeded random problems for the broadcasting, Gemm, MatMul and Softmax oracle tests (60 per op,
/// hand-picked edges first). Each case is named after the whole problem.
/// </summary>
internal static class ElementwiseShapes
{
    public static string Format(int[] dims) => "[" + string.Join(",", dims) + "]";

    /// <summary>A shape that broadcasts (unidirectionally) to <paramref name="target"/>: a random suffix with random dims set to 1.</summary>
    public static int[] BroadcastableTo(Random rng, int[] target, int minRank = 0)
    {
        int rank = rng.Next(Math.Min(minRank, target.Length), target.Length + 1);
        var dims = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int d = target[target.Length - rank + i];
            dims[i] = rng.Next(3) == 0 ? 1 : d;
        }
        return dims;
    }

    /// <summary>
    /// Pairs (A, B) for the binary ops: identical shapes, scalars (rank 0) on either side, different ranks,
    /// size-1 dims on both sides (so both stretch), then random pairs of ranks 0–5.
    /// </summary>
    public static IEnumerable<TestCaseData> BinaryPairs(string op, int seed)
    {
        int[][][] edges =
        [
            [[2, 3, 4, 5], [2, 3, 4, 5]], // identical
            [[7], [7]],
            [[], []], // scalar ∘ scalar
            [[2, 3, 5], []], // tensor ∘ scalar
            [[], [4, 1, 3]], // scalar ∘ tensor
            [[1], [3, 5]], // [1] stretches everywhere
            [[2, 16, 7, 7], [16, 1, 1]], // per-channel bias, NCHW
            [[2, 3, 1, 5], [4, 1]], // both stretch, different ranks
            [[1, 6, 1], [5, 1, 4]], // both stretch, same rank
            [[3, 1, 2, 1, 2], [1, 4, 1, 3, 1]], // rank 5, alternating
            [[13], [9, 1]], // outer product
        ];
        var rng = new Random(seed);
        int n = 0;
        foreach (var e in edges)
        {
            yield return Case(op, e[0], e[1], n++);
        }
        while (n < OracleShapes.CasesPerOp)
        {
            int rank = rng.Next(0, 6);
            var outDims = new int[rank];
            for (int i = 0; i < rank; i++)
            {
                outDims[i] = rng.Next(1, 8);
            }
            int[] a = BroadcastableTo(rng, outDims), b = BroadcastableTo(rng, outDims);
            if (rng.Next(2) == 0)
            {
                (a, b) = (b, a);
            }
            yield return Case(op, a, b, n++);
        }

        static TestCaseData Case(string op, int[] a, int[] b, int n)
            => new TestCaseData(a, b).SetName($"{op}(A={Format(a)}, B={Format(b)}) #{n}");
    }
}

/// <summary>Float32 unit roundoff and per-element bounds for the transcendental oracle comparisons.</summary>
internal static class Ulp
{
    /// <summary>u = 2⁻²⁴, half the spacing of floats in [1, 2).</summary>
    public const float U = 1f / (1 << 24);

    /// <summary>Per-element bound <c>rel·|expected| + perX·|x| + abs</c> (all in units of u).</summary>
    public static Tensor Bound(Tensor expected, Tensor x, float rel, float perX = 0f, float abs = 0f)
    {
        var b = Tensor.Allocate(expected.Shape);
        for (int i = 0; i < b.Length; i++)
        {
            b.Span[i] = U * (rel * MathF.Abs(expected.Span[i]) + perX * MathF.Abs(x.Span[i]) + abs) + float.Epsilon;
        }
        return b;
    }
}
