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
    public static double For(string algorithm) => 1.0;
}
