using FastConv.Backends;
using FastConv.Gpu.FcKernels;
using FastConv.Tests.Backends;

namespace FastConv.Tests.Emu;

/// <summary>
/// The <c>cuda-emu</c> backend through the one conformance body: our CUDA kernels, compiled as C++ into the
/// emulator and run through the same managed planning and launch path as <c>cuda</c> (compiled and emulated,
/// not run on a GPU). Random thread order between barriers, seeded.
/// </summary>
[TestFixture]
[Category("Emu")]
public sealed class CudaEmuBackendConformance : BackendConformanceTests
{
    protected override IBackend CreateBackend() => FcKernelBackend.CreateEmulated(order: EmuThreadOrder.Random, seed: 7);

    protected override double ConvErrorFactor(IConv2dPlan plan) => FcConvErrorFactors.For(plan);
}

/// <summary>The <c>cuda</c> backend (our kernels on a real GPU through libcuda); Ignored with the reason where there is none.</summary>
[TestFixture]
public sealed class CudaBackendConformance : BackendConformanceTests
{
    // Probed once: without a GPU every test is Ignored with the same reason, without probing libcuda again.
    private static string? s_unavailable;

    protected override IBackend CreateBackend()
    {
        if (s_unavailable is not null)
        {
            Assert.Ignore(s_unavailable);
        }
        try
        {
            return BackendRegistry.Create(BackendNames.Cuda);
        }
        catch (BackendUnavailableException e)
        {
            s_unavailable = e.Reason;
            Assert.Ignore(e.Reason);
            throw;
        }
    }

    protected override double ConvErrorFactor(IConv2dPlan plan) => FcConvErrorFactors.For(plan);
}

/// <summary>How much looser than fp32 direct summation each of our conv kernels may be, with the reason.</summary>
internal static class FcConvErrorFactors
{
    /// <summary>
    /// conv2d_v4_igemm_tf32 rounds both operands to TF32 (cvt.rna: relative error ≤ 2⁻¹¹ each), so every product
    /// carries up to ≈ 2⁻¹⁰ relative error on top of the fp32 accumulation's γₙ: the error is ≤ (2⁻¹⁰ + γₙ)·Σ|terms|.
    /// The conformance bound is 3·factor·γ_{n+4}·Σ|terms|, so factor = 1 + 2⁻¹⁰/γ_{n+4} covers it with a 3× margin.
    /// Every other kernel sums in fp32 and keeps factor 1.
    /// </summary>
    public static double For(IConv2dPlan plan)
    {
        if (plan.Algorithm != "conv2d_v4_igemm_tf32")
        {
            return 1.0;
        }
        int n = plan.Shape.InputChannelsPerGroup * plan.Shape.R * plan.Shape.S + 4;
        return 1.0 + Math.Pow(2, -10) / Support.Tolerance.Gamma(n);
    }
}
