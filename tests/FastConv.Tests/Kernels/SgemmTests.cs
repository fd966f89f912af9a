using FastConv.Cpu;
using FastConv.Cpu.Kernels;
using FastConv.Cpu.Threading;
using FastConv.Tests.Support;

namespace FastConv.Tests.Kernels;

/// <summary>
/// The packed SGEMM against a plain triple loop in double, at every SIMD level this machine runs: every M and N
/// edge modulo the micro-tiles (a 1..40 × 1..70 grid), a few large problems that cross every cache block, all
/// four transpose combinations, alpha/beta (beta = 0 overwrites NaN), leading dimensions wider than the rows,
/// 1 and 2 threads, and the packed-operand API with its row epilogue. Bound: 2·γ_k·Σ|a·b| (+ the alpha/beta steps).
/// </summary>
public sealed class SgemmTests
{
    private static readonly SimdLevel[] Levels = Enum.GetValues<SimdLevel>().Where(l => l <= CpuFeatures.Detected).ToArray();

    public static IEnumerable<TestCaseData> LevelsAndTransposes()
    {
        foreach (SimdLevel level in Levels)
        {
            foreach (bool ta in new[] { false, true })
            {
                foreach (bool tb in new[] { false, true })
                {
                    yield return new TestCaseData(level, ta, tb).SetName($"Sgemm/{level} transA={ta} transB={tb}");
                }
            }
        }
    }

    [TestCaseSource(nameof(LevelsAndTransposes))]
    public void EveryEdgeOfTheSmallGrid(SimdLevel level, bool transA, bool transB)
    {
        var rng = new Random(17 + (int)level * 4 + (transA ? 2 : 0) + (transB ? 1 : 0));
        for (int m = 1; m <= 40; m++)
        {
            for (int n = 1; n <= 70; n++)
            {
                int k = (m * 7 + n * 3) % 37 + 1;
                (float alpha, float beta) = ((m + n) % 3) switch { 0 => (1f, 0f), 1 => (0.5f, 1f), _ => (-1.25f, 0.75f) };
                Check(rng, level, transA, transB, m, n, k, alpha, beta, pool: null, ldPad: (m + n) % 2);
            }
        }
    }

    public static IEnumerable<TestCaseData> LargeCases()
    {
        (int M, int N, int K)[] sizes = [(257, 513, 129), (145, 1030, 385), (64, 3136, 576), (1000, 7, 300), (3, 600, 1)];
        foreach (SimdLevel level in Levels)
        {
            foreach ((int m, int n, int k) in sizes)
            {
                foreach (int threads in new[] { 1, 2 })
                {
                    bool ta = (m + threads) % 2 == 0, tb = (n + threads + (int)level) % 2 == 1;
                    yield return new TestCaseData(level, m, n, k, threads, ta, tb).SetName($"Sgemm/{level} M={m} N={n} K={k} threads={threads} transA={ta} transB={tb}");
                }
            }
        }
    }

    [TestCaseSource(nameof(LargeCases))]
    public void LargeProblemsCrossEveryBlock(SimdLevel level, int m, int n, int k, int threads, bool transA, bool transB)
    {
        var rng = new Random(m * 31 + n * 7 + k + threads);
        WorkerPool? pool = threads == 1 ? null : WorkerPool.ForThreads(threads);
        Check(rng, level, transA, transB, m, n, k, 1f, 0f, pool, ldPad: 0);
        Check(rng, level, transA, transB, m, n, k, 0.5f, -2f, pool, ldPad: 3);
    }

    [TestCaseSource(nameof(LevelsAndTransposes))]
    public void ZeroKScalesOrClearsC(SimdLevel level, bool transA, bool transB)
    {
        var rng = new Random(3);
        Check(rng, level, transA, transB, 13, 37, 0, 1f, 0f, null, 0);
        Check(rng, level, transA, transB, 13, 37, 0, 1f, 0.5f, null, 0);
    }

    public static IEnumerable<TestCaseData> PackedCases()
    {
        foreach (SimdLevel level in Levels)
        {
            foreach (int threads in new[] { 1, 2 })
            {
                yield return new TestCaseData(level, threads, 150, 700, 450).SetName($"SgemmPacked/{level} threads={threads} M=150 N=700 K=450");
                yield return new TestCaseData(level, threads, 7, 33, 5).SetName($"SgemmPacked/{level} threads={threads} M=7 N=33 K=5");
            }
        }
    }

    /// <summary>PackA / PackB at plan time, then multiplies from a plan-owned workspace, with the row epilogue applied once per element.</summary>
    [TestCaseSource(nameof(PackedCases))]
    public void PackedOperandsWithRowEpilogue(SimdLevel level, int threads, int m, int n, int k)
    {
        var rng = new Random(m + n + k + threads);
        WorkerPool? pool = threads == 1 ? null : WorkerPool.ForThreads(threads);
        var ws = new SgemmWorkspace(level, threads, m, n, k);
        foreach (bool packA in new[] { true, false })
        {
            foreach (bool trans in new[] { false, true })
            {
                float[] a = Random(rng, m * k), b = Random(rng, k * n);
                float[] c = Enumerable.Repeat(float.NaN, m * n).ToArray();
                var epilogue = new CountingEpilogue(m, n);
                if (packA)
                {
                    PackedA pa = Sgemm.PackA(level, trans, m, k, a, trans ? m : k);
                    Sgemm.Multiply(ws, pa, false, n, 1f, b, n, 0f, c, n, pool, epilogue);
                }
                else
                {
                    PackedB pb = Sgemm.PackB(level, trans, k, n, b, trans ? k : n);
                    Sgemm.Multiply(ws, false, m, 1f, a, k, pb, 0f, c, n, pool, epilogue);
                }
                bool ta = packA && trans, tb = !packA && trans;
                var (expected, bound) = Expected(ta, tb, m, n, k, 1f, a, ta ? m : k, b, tb ? k : n, 0f, new float[m * n]);
                for (int i = 0; i < m * n; i++)
                {
                    expected[i] += i / n;
                }
                AssertClose(expected, bound, c, $"{level} packed{(packA ? "A" : "B")} trans={trans} M={m} N={n} K={k} threads={threads}");
                Assert.That(epilogue.Counts, Is.All.EqualTo(1), "every element of C passes through the epilogue exactly once");
            }
        }
    }

    /// <summary>Adds the row index (so its effect is visible) and counts visits.</summary>
    private sealed class CountingEpilogue(int m, int n) : ISgemmRowEpilogue
    {
        public int[] Counts { get; } = new int[m * n];

        public void Apply(int row, int column, Span<float> values)
        {
            for (int j = 0; j < values.Length; j++)
            {
                values[j] += row;
                Interlocked.Increment(ref Counts[row * n + column + j]);
            }
        }
    }

    private static void Check(Random rng, SimdLevel level, bool transA, bool transB, int m, int n, int k, float alpha, float beta, WorkerPool? pool, int ldPad)
    {
        int lda = (transA ? m : k) + ldPad, ldb = (transB ? k : n) + ldPad, ldc = n + ldPad;
        float[] a = Random(rng, Math.Max(1, (transA ? k : m) * lda)), b = Random(rng, Math.Max(1, (transB ? n : k) * ldb));
        float[] c = beta == 0f ? Enumerable.Repeat(float.NaN, m * ldc).ToArray() : Random(rng, m * ldc);
        var (expected, bound) = Expected(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c);
        float[] actual = (float[])c.Clone();
        Sgemm.Multiply(level, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, actual, ldc, pool);
        string problem = $"{level} transA={transA} transB={transB} M={m} N={n} K={k} alpha={alpha} beta={beta} lda={lda} ldb={ldb} ldc={ldc} threads={pool?.Threads ?? 1}";
        for (int i = 0; i < m; i++)
        {
            for (int j = n; j < ldc; j++)
            {
                Assert.That(BitConverter.SingleToInt32Bits(actual[i * ldc + j]), Is.EqualTo(BitConverter.SingleToInt32Bits(c[i * ldc + j])), $"C[{i},{j}] past N was touched; {problem}");
            }
        }
        AssertClose(expected, bound, actual, problem, n, ldc);
    }

    /// <summary>The product in double and the bound 2·γ_{k+2}·(|alpha|·Σ|a·b| + |beta·c|) per element, over C's ldc layout.</summary>
    private static (float[] Expected, float[] Bound) Expected(bool transA, bool transB, int m, int n, int k, float alpha,
        float[] a, int lda, float[] b, int ldb, float beta, float[] c)
    {
        int ldc = m == 0 ? n : c.Length / m;
        float[] expected = (float[])c.Clone(), bound = new float[c.Length];
        double gamma = 2 * Tolerance.Gamma(k + 2);
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = 0, mag = 0;
                for (int p = 0; p < k; p++)
                {
                    double t = (double)(transA ? a[p * lda + i] : a[i * lda + p]) * (transB ? b[j * ldb + p] : b[p * ldb + j]);
                    sum += t;
                    mag += Math.Abs(t);
                }
                double cv = beta == 0f ? 0 : (double)beta * c[i * ldc + j];
                expected[i * ldc + j] = (float)(alpha * sum + cv);
                bound[i * ldc + j] = (float)(gamma * (Math.Abs(alpha) * mag + Math.Abs(cv))) + 1e-30f;
            }
        }
        return (expected, bound);
    }

    /// <summary>Compares the first <paramref name="n"/> of every <paramref name="ldc"/> elements (the columns past N are checked untouched elsewhere).</summary>
    private static void AssertClose(float[] expected, float[] bound, float[] actual, string problem, int n = int.MaxValue, int ldc = int.MaxValue)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            if (i % ldc >= n)
            {
                continue;
            }
            float diff = MathF.Abs(actual[i] - expected[i]);
            if (!(diff <= bound[i]))
            {
                Assert.Fail($"element {i}: expected {expected[i]:R}, got {actual[i]:R} (|diff| {diff:R} > bound {bound[i]:R}); {problem}");
            }
        }
    }

    private static float[] Random(Random rng, int length)
    {
        var x = new float[length];
        for (int i = 0; i < length; i++)
        {
            x[i] = (float)(rng.NextDouble() * 2 - 1);
        }
        return x;
    }
}
