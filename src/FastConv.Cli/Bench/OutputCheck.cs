namespace FastConv.Cli.Bench;

/// <summary>
/// The agreement check every benchmark runs in its GlobalSetup before anything is timed: a benchmark of
/// wrong answers is reported as a failure, never as a time. NaN (our outputs are poisoned before the
/// check run) and infinities never pass.
/// </summary>
internal static class OutputCheck
{
    /// <summary>
    /// Relative tolerance for FastConv algorithms that sum exactly the products ORT sums (direct, GEMM), in
    /// another order: inputs are U(−1,1) and weights U(−1,1)/√(C·R·S/groups), so outputs are O(1) and the
    /// rounding difference of two fp32 summation orders of n ≤ 4608 terms is about √n·2⁻²⁴·|terms| ≈ 1e-5 of
    /// the largest output; 1e-4 leaves a tenfold margin, while a real bug (a dropped channel, a shifted
    /// window, an unwritten tile) moves outputs by 1e-2 or more.
    /// </summary>
    public const float SameSumsTolerance = 1e-4f;

    /// <summary>
    /// Relative tolerance for the default (fast) precision, which may pick Winograd: F(4×4,3×3)'s transforms
    /// multiply the rounding error by roughly 10²–10³ on fp32 (Lavin and Gray 2016; MLAS and oneDNN see
    /// ~1e-4–1e-3 of the output range on real layers), so 5e-3 of the largest output still catches any bug
    /// that moves a whole element.
    /// </summary>
    public const float FastTolerance = 5e-3f;

    /// <summary>Throws unless every |actual − expected| ≤ tolerance·max|expected| (tolerance 0: bit-exact).</summary>
    public static void Agree(string what, ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, float tolerance)
    {
        Agreement a = Compare(actual, expected, tolerance, "FastConv", "ONNX Runtime");
        if (!a.Agrees)
        {
            throw new InvalidOperationException($"{what}: {a.Detail} Not timing wrong answers.");
        }
    }

    /// <summary>
    /// Compares <paramref name="actual"/> (from <paramref name="actualName"/>) with <paramref name="expected"/>
    /// element by element: each |actual − expected| must be ≤ tolerance·max|expected| (tolerance 0: bit-exact).
    /// Never throws; the result says whether they agree, how far apart they are, and where the worst element is.
    /// </summary>
    public static Agreement Compare(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, float tolerance, string actualName, string expectedName)
    {
        if (actual.Length != expected.Length)
        {
            return new Agreement(false, double.NaN, 0, tolerance, actual.Length,
                $"{actualName} wrote {actual.Length} values, {expectedName} {expected.Length}.");
        }
        float scale = 0f;
        foreach (float e in expected)
        {
            if (!float.IsFinite(e))
            {
                return new Agreement(false, double.NaN, 0, tolerance, actual.Length,
                    $"{expectedName}'s output holds a non-finite value {e}; the problem setup is wrong.");
            }
            scale = Math.Max(scale, Math.Abs(e));
        }
        float bound = tolerance * Math.Max(scale, float.Epsilon);
        int worst = -1;
        float worstDiff = 0f;
        int bad = 0;
        float maxDiff = 0f;
        for (int i = 0; i < actual.Length; i++)
        {
            float d = Math.Abs(actual[i] - expected[i]);
            maxDiff = float.IsNaN(d) ? float.NaN : float.IsNaN(maxDiff) ? maxDiff : Math.Max(maxDiff, d);
            // !(d <= bound) is true for NaN too, so an unwritten (poisoned) element always fails.
            if (!(d <= bound))
            {
                bad++;
                if (worst < 0 || !(d <= worstDiff))
                {
                    worst = i;
                    worstDiff = d;
                }
            }
        }
        if (bad > 0)
        {
            return new Agreement(false, maxDiff, bound, tolerance, bad,
                $"{actualName} disagrees with {expectedName} at {bad} of {actual.Length} elements (tolerance {tolerance:G3} × max|{expectedName}| {scale:G6} = {bound:G3}); "
                + $"worst at flat index {worst}: {actualName} {actual[worst]:G9}, {expectedName} {expected[worst]:G9}.");
        }
        return new Agreement(true, maxDiff, bound, tolerance, 0, $"max |difference| {maxDiff:G3} ≤ {bound:G3}");
    }
}

/// <summary>The outcome of one output comparison.</summary>
/// <param name="Agrees">Every element within the bound.</param>
/// <param name="MaxAbsDiff">The largest |actual − expected| (NaN when an element was NaN or the lengths differ).</param>
/// <param name="Bound">The absolute bound: tolerance × max|expected|.</param>
/// <param name="Tolerance">The relative tolerance used.</param>
/// <param name="BadElements">How many elements were out of bounds.</param>
/// <param name="Detail">One line for a person: the bound, or the worst element when they disagree.</param>
internal sealed record Agreement(bool Agrees, double MaxAbsDiff, double Bound, double Tolerance, int BadElements, string Detail);
