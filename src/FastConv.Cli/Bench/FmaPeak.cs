using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using FastConv.Cpu.Threading;

namespace FastConv.Cli.Bench;

/// <summary>
/// A register-only FMA loop: 16 independent accumulators, each <c>acc = acc·a + b</c>. Zen 4/5 and recent
/// Intel issue two 512-bit (or 256-bit) FMAs per cycle with 4-cycle latency, so at least 2·4 = 8 chains
/// must be in flight to saturate the pipes; 16 (of the 32 zmm registers) leaves slack for any scheduling
/// hiccup without spilling. Each of <see cref="WorkerPool.Threads"/> threads runs the same loop, so the
/// 2-thread figure shows whether the two logical CPUs are two cores or one core's two hyper-threads.
/// Uses Vector512 where accelerated, else Vector256 (then the ceiling is the AVX2 one).
/// </summary>
internal sealed class FmaPeak(WorkerPool pool) : IParallelJob
{
    /// <summary>Loop trips per thread: 2²⁰ × 16 accumulators × lanes × 2 FLOPs ≈ 0.5 GFLOP, a few ms per call.</summary>
    public const int Steps = 1 << 20;
    private const int Accumulators = 16;

    private readonly float[] _sink = new float[pool.Threads];

    /// <summary>Floats per vector the loop uses (16 with AVX-512, 8 with AVX2).</summary>
    public static int Lanes => Vector512.IsHardwareAccelerated ? Vector512<float>.Count : Vector256<float>.Count;

    /// <summary>FLOPs one <see cref="Run()"/> performs on all threads together.</summary>
    public long FlopsPerCall => 2L * Steps * Accumulators * Lanes * pool.Threads;

    /// <summary>Runs the loop once on every thread of the pool; returns a value so nothing is dead code.</summary>
    public float Run()
    {
        pool.For(pool.Threads, this);
        return _sink[0];
    }

    /// <summary>GFLOP/s over roughly <paramref name="duration"/> of back-to-back calls (the report's fallback when no benchmark row exists).</summary>
    public static double Measure(int threads, TimeSpan duration)
    {
        var peak = new FmaPeak(WorkerPool.ForThreads(threads));
        peak.Run(); // JIT and wake the workers
        double best = 0;
        var total = Stopwatch.StartNew();
        while (total.Elapsed < duration)
        {
            long t0 = Stopwatch.GetTimestamp();
            peak.Run();
            double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            best = Math.Max(best, peak.FlopsPerCall / seconds / 1e9);
        }
        return best;
    }

    public void Run(int index) => _sink[index] = Vector512.IsHardwareAccelerated ? Loop512() : Loop256();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Loop512()
    {
        // a slightly below 1 and a small b keep every accumulator finite and normal for 2^20 steps
        // (denormals would slow the FMA units on some CPUs and understate the peak).
        Vector512<float> a = Vector512.Create(0.999999f), b = Vector512.Create(1e-6f);
        Vector512<float> c0 = Vector512.Create(1f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
        Vector512<float> c8 = c0, c9 = c0, c10 = c0, c11 = c0, c12 = c0, c13 = c0, c14 = c0, c15 = c0;
        for (int i = 0; i < Steps; i++)
        {
            c0 = Vector512.FusedMultiplyAdd(c0, a, b);
            c1 = Vector512.FusedMultiplyAdd(c1, a, b);
            c2 = Vector512.FusedMultiplyAdd(c2, a, b);
            c3 = Vector512.FusedMultiplyAdd(c3, a, b);
            c4 = Vector512.FusedMultiplyAdd(c4, a, b);
            c5 = Vector512.FusedMultiplyAdd(c5, a, b);
            c6 = Vector512.FusedMultiplyAdd(c6, a, b);
            c7 = Vector512.FusedMultiplyAdd(c7, a, b);
            c8 = Vector512.FusedMultiplyAdd(c8, a, b);
            c9 = Vector512.FusedMultiplyAdd(c9, a, b);
            c10 = Vector512.FusedMultiplyAdd(c10, a, b);
            c11 = Vector512.FusedMultiplyAdd(c11, a, b);
            c12 = Vector512.FusedMultiplyAdd(c12, a, b);
            c13 = Vector512.FusedMultiplyAdd(c13, a, b);
            c14 = Vector512.FusedMultiplyAdd(c14, a, b);
            c15 = Vector512.FusedMultiplyAdd(c15, a, b);
        }
        Vector512<float> s = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11)) + ((c12 + c13) + (c14 + c15));
        return Vector512.Sum(s);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Loop256()
    {
        Vector256<float> a = Vector256.Create(0.999999f), b = Vector256.Create(1e-6f);
        Vector256<float> c0 = Vector256.Create(1f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
        Vector256<float> c8 = c0, c9 = c0, c10 = c0, c11 = c0, c12 = c0, c13 = c0, c14 = c0, c15 = c0;
        for (int i = 0; i < Steps; i++)
        {
            c0 = Vector256.FusedMultiplyAdd(c0, a, b);
            c1 = Vector256.FusedMultiplyAdd(c1, a, b);
            c2 = Vector256.FusedMultiplyAdd(c2, a, b);
            c3 = Vector256.FusedMultiplyAdd(c3, a, b);
            c4 = Vector256.FusedMultiplyAdd(c4, a, b);
            c5 = Vector256.FusedMultiplyAdd(c5, a, b);
            c6 = Vector256.FusedMultiplyAdd(c6, a, b);
            c7 = Vector256.FusedMultiplyAdd(c7, a, b);
            c8 = Vector256.FusedMultiplyAdd(c8, a, b);
            c9 = Vector256.FusedMultiplyAdd(c9, a, b);
            c10 = Vector256.FusedMultiplyAdd(c10, a, b);
            c11 = Vector256.FusedMultiplyAdd(c11, a, b);
            c12 = Vector256.FusedMultiplyAdd(c12, a, b);
            c13 = Vector256.FusedMultiplyAdd(c13, a, b);
            c14 = Vector256.FusedMultiplyAdd(c14, a, b);
            c15 = Vector256.FusedMultiplyAdd(c15, a, b);
        }
        Vector256<float> s = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11)) + ((c12 + c13) + (c14 + c15));
        return Vector256.Sum(s);
    }
}
