using FastConv.Cpu;
using FastConv.Ops;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>Gemm of the reference against ONNX Runtime (transposes, alpha/beta, every C broadcast form), and by hand.</summary>
public sealed class GemmOracleTests
{
    /// <summary>The forms of C: absent, scalar, [1], [N], [1,N], [M,1], [M,N].</summary>
    private static readonly string[] CForms = ["none", "[]", "[1]", "[N]", "[1,N]", "[M,1]", "[M,N]"];

    /// <summary>
    /// 60 problems: the four transpose combinations and the seven C forms cycle independently (every pair
    /// occurs), M, N, K in 1–20 (edges: all 1, K = 1, odd sizes, a long K).
    /// </summary>
    public static IEnumerable<TestCaseData> Cases()
    {
        int[][] edges = [[1, 1, 1], [1, 7, 1], [5, 1, 9], [16, 16, 16], [3, 5, 200], [17, 13, 11]];
        var rng = new Random(212);
        for (int n = 0; n < OracleShapes.CasesPerOp; n++)
        {
            int[] mnk = n < edges.Length ? edges[n] : [rng.Next(1, 21), rng.Next(1, 21), rng.Next(1, 21)];
            bool transA = (n & 1) != 0, transB = (n & 2) != 0;
            string cForm = CForms[n % CForms.Length];
            yield return new TestCaseData(mnk[0], mnk[1], mnk[2], transA, transB, cForm)
                .SetName($"Gemm(M={mnk[0]}, N={mnk[1]}, K={mnk[2]}, transA={(transA ? 1 : 0)}, transB={(transB ? 1 : 0)}, C={cForm}) #{n}");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesOnnxRuntime(int m, int n, int k, bool transA, bool transB, string cForm)
    {
        var rng = new Random(HashCode.Combine(m, n, k, transA, transB, cForm));
        var aShape = transA ? TensorShape.Of(k, m) : TensorShape.Of(m, k);
        var bShape = transB ? TensorShape.Of(n, k) : TensorShape.Of(k, n);
        TensorShape? cShape = cForm switch
        {
            "none" => null,
            "[]" => TensorShape.Of(),
            "[1]" => TensorShape.Of(1),
            "[N]" => TensorShape.Of(n),
            "[1,N]" => TensorShape.Of(1, n),
            "[M,1]" => TensorShape.Of(m, 1),
            _ => TensorShape.Of(m, n),
        };

        // Integer-valued A, B, C and power-of-two alpha, beta (0 included: C is then ignored): every product and
        // partial sum is a small integer or a dyadic fraction, exact in float32, so the results match bit for bit.
        float[] dyadic = [1f, 0.5f, 2f, -1f, 0.25f, 0f];
        var pInt = new GemmParams { TransA = transA, TransB = transB, Alpha = dyadic[rng.Next(4)], Beta = dyadic[rng.Next(dyadic.Length)] };
        var a = TestData.Ints(rng, aShape);
        var b = TestData.Ints(rng, bShape);
        var c = cShape is null ? null : TestData.Ints(rng, cShape);
        string problem = $"Gemm A={aShape} B={bShape} C={cShape?.ToString() ?? "none"}";
        Compare.Exact(RunOnnx(a, b, c, pInt), RunReference(a, b, c, pInt), $"{problem} {pInt} (integer-valued)");

        // Float inputs and arbitrary alpha, beta: a sum of K products then alpha·s + beta·c, in any order, is
        // within γ_(K+2)·Σ|terms| of the exact value (Higham §3.1); two such results within 2γ_(K+2)·Σ|terms|.
        // Σ|terms| = |alpha|·|A|·|B| + |beta|·|C|, the reference run on absolute values.
        var pFloat = pInt with { Alpha = -2f + 4f * rng.NextSingle(), Beta = -2f + 4f * rng.NextSingle() };
        var af = TestData.Floats(rng, aShape);
        var bf = TestData.Floats(rng, bShape);
        var cf = cShape is null ? null : TestData.Floats(rng, cShape);
        var magnitude = RunReference(TestData.Abs(af), TestData.Abs(bf), cf is null ? null : TestData.Abs(cf),
            pFloat with { Alpha = MathF.Abs(pFloat.Alpha), Beta = MathF.Abs(pFloat.Beta) });
        Compare.Close(RunOnnx(af, bf, cf, pFloat), RunReference(af, bf, cf, pFloat), $"{problem} {pFloat} (float)", Tolerance.Accumulation(k + 1, magnitude));
    }

    private static Tensor RunOnnx(Tensor a, Tensor b, Tensor? c, GemmParams p)
    {
        var g = new OnnxGraphBuilder("Gemm", opset: 13).Input("A", a).Input("B", b);
        if (c is not null)
        {
            g.Input("C", c);
        }
        return g.Attr("transA", p.TransA ? 1L : 0L).Attr("transB", p.TransB ? 1L : 0L).Attr("alpha", p.Alpha).Attr("beta", p.Beta).Run();
    }

    private static Tensor RunReference(Tensor a, Tensor b, Tensor? c, GemmParams p)
    {
        var y = TestData.Poisoned(p.OutputShape(a.Shape, b.Shape));
        Reference.Gemm(a, b, c, p, y);
        return y;
    }

    [Test]
    public void ByHand()
    {
        // A = [[1,2,3],[4,5,6]], B = [[1,0],[0,1],[1,1]]: A·B = [[4,5],[10,11]].
        var a = Tensor.FromArray([1f, 2f, 3f, 4f, 5f, 6f], 2, 3);
        var b = Tensor.FromArray([1f, 0f, 0f, 1f, 1f, 1f], 3, 2);
        var y = Tensor.Allocate(2, 2);
        Reference.Gemm(a, b, null, GemmParams.Default, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 4f, 5f, 10f, 11f }));
        // 2·A·B + 0.5·C with C = [M,1] = [[2],[-4]]: [[9,11],[18,20]].
        Reference.Gemm(a, b, Tensor.FromArray([2f, -4f], 2, 1), new GemmParams { Alpha = 2f, Beta = 0.5f }, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 9f, 11f, 18f, 20f }));
        // Both transposed: pass Aᵀ (3×2) and Bᵀ (2×3) with TransA, TransB: op(·) transposes them back, so the
        // product is A·B again; C = scalar (rank 0) 1 adds 1 everywhere: [[5,6],[11,12]].
        var at = Tensor.FromArray([1f, 4f, 2f, 5f, 3f, 6f], 3, 2);
        var bt = Tensor.FromArray([1f, 0f, 1f, 0f, 1f, 1f], 2, 3);
        Reference.Gemm(at, bt, Tensor.FromArray([1f]), new GemmParams { TransA = true, TransB = true }, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 5f, 6f, 11f, 12f }));
        // NaN and infinity propagate: a NaN in A poisons its row; ∞·0 is NaN.
        var an = Tensor.FromArray([float.NaN, 0f, 0f, float.PositiveInfinity, 0f, 0f], 2, 3);
        Reference.Gemm(an, b, Tensor.FromArray([1f, 2f], 2), GemmParams.Default, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { float.NaN, float.NaN, float.PositiveInfinity, float.NaN }));
    }

    [Test]
    public void InnerDimensionMismatchThrows()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => Reference.Gemm(Tensor.Allocate(2, 3), Tensor.Allocate(4, 5), null, GemmParams.Default, Tensor.Allocate(2, 5)));
        Assert.That(ex!.Message, Does.Contain("[2,3]").And.Contain("[4,5]"));
        // With transB the inner dimension of B is its second.
        var ex2 = Assert.Throws<InvalidShapeException>(() => new GemmParams { TransB = true }.OutputShape(TensorShape.Of(2, 3), TensorShape.Of(3, 5)));
        Assert.That(ex2!.Message, Does.Contain("[2,3]").And.Contain("[3,5]").And.Contain("transB=1"));
    }

    [Test]
    public void CThatDoesNotBroadcastThrows()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => Reference.Gemm(Tensor.Allocate(2, 3), Tensor.Allocate(3, 4), Tensor.Allocate(2), GemmParams.Default, Tensor.Allocate(2, 4)));
        Assert.That(ex!.Message, Does.Contain("[2]").And.Contain("[2,4]"));
    }

    [Test]
    public void NonMatrixOperandThrows()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => GemmParams.Default.OutputShape(TensorShape.Of(2, 3, 1), TensorShape.Of(3, 4)));
        Assert.That(ex!.Message, Does.Contain("[2,3,1]").And.Contain("[3,4]"));
    }
}
