using FastConv.Backends;
using FastConv.Cpu;

namespace FastConv.Tests.Backends;

/// <summary>The reference backend through the same body: the fixture's own sanity check.</summary>
[TestFixture]
public sealed class ReferenceBackendConformance : BackendConformanceTests
{
    protected override IBackend CreateBackend() => new ReferenceBackend();
}

/// <summary>The <c>cpu</c> backend at every SIMD level this machine can run (higher levels are Ignored, with the reason).</summary>
[TestFixture(SimdLevel.Scalar)]
[TestFixture(SimdLevel.Vector128)]
[TestFixture(SimdLevel.Avx2)]
[TestFixture(SimdLevel.Avx512)]
public sealed class CpuBackendConformance(SimdLevel level) : BackendConformanceTests
{
    protected override IBackend CreateBackend()
    {
        if (level > CpuFeatures.Detected)
        {
            Assert.Ignore($"this CPU tops out at {CpuFeatures.Detected}; {level} cannot run here.");
        }
        return new CpuBackend(new CpuBackendOptions { Simd = level, Threads = 2 });
    }

    protected override double ConvErrorFactor(IConv2dPlan plan) => CpuConvErrorFactors.For(plan.Algorithm);
}

/// <summary>How much looser than direct summation each CPU conv algorithm is allowed to be, with the reason.</summary>
public static class CpuConvErrorFactors
{
    /// <summary>
    /// Winograd (algorithm names starting with "winograd"): its error is not a sum of the products' roundings, it
    /// comes from the transforms, which mix a whole tile's inputs (F(4×4): Bᵀ up to 5, Aᵀ up to 8) into every output.
    /// Measured by <c>WinogradTests.RoundingErrorWithinItsFactor</c> against fp64 on its 36 problems (uniform [−1, 1]
    /// data, C in 8..40, padding up to 3): worst |error| = 1.41·γ_{9C}·Σ|w·x| for F(4×4) (the worst at image edges,
    /// where an output's own Σ|w·x| is small but its tile holds full data), 0.020 for F(2×2), 0.016 for the float
    /// reference. The conformance bound is 2·1.5·factor·γ·Σ|terms|, so F(4×4) needs factor ≥ 0.47: 1.0 keeps a 2×
    /// margin; F(2×2) stays within plain summation's bound. Outputs whose window is all padding are written as
    /// exact zeros by the plans (nothing else bounds them). A wrong transform coefficient (Aᵀ's 8 as 8.01) fails.
    /// </summary>
    public const double Winograd = 1.0;

    public static double For(string algorithm) => algorithm.StartsWith("winograd", StringComparison.Ordinal) ? Winograd : 1.0;
}
