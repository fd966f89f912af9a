using FastConv.Graphs;

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

    /// <summary>Unit roundoff of fp32.</summary>
    private const double U = 1.0 / (1 << 24);

    /// <summary>Unit roundoff of TF32 (10 stored mantissa bits).</summary>
    private const double UTf32 = 1.0 / (1 << 11);

    /// <summary>
    /// How much more a Winograd F(4×4,3×3) layer adds than a direct one: relative L2 error 1.6e-6 against 8.9e-7
    /// for direct fp32 on a 256-channel layer (measured against fp64; Barabasz et al. 2018 give the same order).
    /// </summary>
    private const double WinogradFactor = 2;

    /// <summary>
    /// The relative tolerance of a whole network's output, from its depth and accumulation lengths instead of a
    /// constant. A sum of n fp32 terms of random sign carries a rounding error of about u·√n of its value (the
    /// partial sums' roundings add like a random walk), and each layer passes on what it received with a gain of
    /// about one (batch norm and the residuals keep activations O(1)); so the two computations may drift apart by
    /// about u·Σ_layers (√n_l + c), where n_l is a node's accumulation length (FLOPs / 2 / outputs: C/g·R·S for a
    /// conv, the inner dimension for a Gemm, the window for a pool) and c = 4 covers its elementwise steps (an
    /// activation's error is at most 2.3 ulp, see VectorMath). The terms are added, not added in quadrature, and
    /// Winograd's conv layers count twice (<see cref="WinogradFactor"/>) when the fast precision allows it. For
    /// ResNet-18 this is ~1e-4 of the output's norm, where FastConv and ONNX Runtime differ by ~6e-7; a wrong layer,
    /// a dropped residual or a shifted window moves the logits by 1e-2 and more, a thousand times the bound.
    /// </summary>
    /// <param name="info">The graph's nodes with their shapes and FLOPs.</param>
    /// <param name="exact">Whether Winograd was ruled out.</param>
    /// <param name="tf32Layers">
    /// Layers that ran on tensor cores in TF32 (a GPU backend's fast precision): TF32 rounds both operands of every
    /// product to 11 significant bits (u = 2⁻¹¹), so such a layer's relative error is about u_tf32 whatever its length,
    /// and the layers' errors, independent, add in quadrature: 2·u_tf32·√L more. For ResNet-18 on cuda-emu (14 TF32
    /// layers) that is 3.7e-3 of the largest output, where the measured difference is 3.4e-4.
    /// </param>
    public static float NetworkTolerance(GraphInfo info, bool exact, int tf32Layers = 0)
    {
        ArgumentNullException.ThrowIfNull(info);
        ArgumentOutOfRangeException.ThrowIfNegative(tf32Layers);
        double sum = 0;
        foreach (NodeInfo n in info.Nodes)
        {
            long outputs = n.OutputShapes.Sum(s => s.ElementCount);
            double length = outputs > 0 ? Math.Max(1.0, n.Flops / (2.0 * outputs)) : 1.0;
            double term = Math.Sqrt(length) + 4;
            sum += !exact && n.Node.OpType == "Conv" ? WinogradFactor * term : term;
        }
        return (float)(U * Math.Max(sum, 1) + 2 * UTf32 * Math.Sqrt(tf32Layers));
    }

    /// <summary>The layers of <paramref name="session"/> whose chosen algorithm computes in TF32 (its name says tf32).</summary>
    public static int Tf32Layers(Sessions.FastConvSession session)
        => session.NodePlans.Count(p => p.Algorithm.Contains("tf32", StringComparison.OrdinalIgnoreCase));

    /// <summary>The three most used algorithms of a session's nodes with their counts, e.g. <c>winograd×12,direct-nchwc×5</c>.</summary>
    public static string TopAlgorithms(Sessions.FastConvSession session)
        => string.Join(",", session.NodePlans.Where(p => p.Algorithm.Length > 0).GroupBy(p => p.Algorithm)
            .OrderByDescending(g => g.Count()).Take(3).Select(g => $"{g.Key}×{g.Count()}"));

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
    /// With <paramref name="normwise"/> (whole networks) the difference must also be small as a whole:
    /// ‖actual − expected‖₂ ≤ tolerance·‖expected‖₂, so many small errors fail as well as one large one.
    /// </summary>
    public static Agreement Compare(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, float tolerance, string actualName, string expectedName, bool normwise = false)
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
        if (bad == 0 && normwise)
        {
            double diff2 = 0, ref2 = 0;
            for (int i = 0; i < actual.Length; i++)
            {
                double d = (double)actual[i] - expected[i];
                diff2 += d * d;
                ref2 += (double)expected[i] * expected[i];
            }
            double relative = Math.Sqrt(diff2) / Math.Max(Math.Sqrt(ref2), double.Epsilon);
            string norm = $"‖{actualName} − {expectedName}‖₂ / ‖{expectedName}‖₂ = {relative:G3}";
            if (!(relative <= tolerance))
            {
                return new Agreement(false, maxDiff, bound, tolerance, actual.Length,
                    $"{actualName} disagrees with {expectedName} as a whole: {norm} > tolerance {tolerance:G3} (every element was within {bound:G3}).");
            }
            return new Agreement(true, maxDiff, bound, tolerance, 0, $"max |difference| {maxDiff:G3} ≤ {bound:G3}; {norm} ≤ {tolerance:G3}");
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
