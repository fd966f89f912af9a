using FastConv.Backends;
using FastConv.Gpu.FcKernels;
using FastConv.Interop;
using FastConv.Ops;
using FastConv.Tests.Support;

namespace FastConv.Tests.Emu;

/// <summary>The cuda / cuda-emu backends beyond the conformance body: thread-order independence, errors, the no-GPU reason.</summary>
[TestFixture]
[Category("Emu")]
[NonParallelizable] // the emulator's thread order is process-wide
public sealed class FcKernelBackendTests
{
    /// <summary>Every conv variant gives bit-identical results in forward, reverse and random thread order (a race shows as a difference).</summary>
    [Test]
    public void ConvVariantsAreBitIdenticalInEveryThreadOrder()
    {
        Conv2dShape[] shapes =
        [
            new(2, 6, 9, 11, 6, 3, 3, Conv2dParams.Create(stride: 1, pad: 1, groups: 6)),
            new(1, 3, 13, 10, 20, 5, 5, new Conv2dParams { StrideH = 2, StrideW = 1, Padding = new Padding2d(2, 1, 0, 3) }),
            new(3, 18, 7, 8, 70, 3, 3, Conv2dParams.Create(stride: 1, pad: 1, dilation: 2, groups: 2)),
        ];
        foreach (Conv2dShape s in shapes)
        {
            var rng = new Random(s.GetHashCode());
            Tensor x = TestData.Floats(rng, s.InputShape), w = TestData.Floats(rng, s.WeightShape), b = TestData.Floats(rng, TensorShape.Of(s.K));
            var epilogue = new ConvEpilogue { Activation = Activation.Relu6 };
            foreach (string kernel in FcKernelVariants.Conv2d.Where(k => FcKernelVariants.WhyNot(k, s) is null))
            {
                float[]? first = null;
                foreach (EmuThreadOrder order in Enum.GetValues<EmuThreadOrder>())
                {
                    using var backend = FcKernelBackend.CreateEmulated(new FcKernelOptions { Conv2d = kernel }, order, seed: 3);
                    using IConv2dPlan plan = backend.PlanConv2d(s, w, b, epilogue);
                    Assert.That(plan.Algorithm, Is.EqualTo(kernel));
                    Tensor y = TestData.Poisoned(s.OutputShape);
                    plan.Execute(x, y);
                    float[] got = y.ToArray();
                    Assert.That(got, Has.None.NaN, $"{kernel} order {order}: unwritten output; {s}");
                    if (first is null)
                    {
                        first = got;
                    }
                    else
                    {
                        Assert.That(got, Is.EqualTo(first), $"{kernel}: {order} order differs from forward; {s}");
                    }
                }
            }
        }
    }

    [Test]
    public void AutomaticChoiceFollowsTheShape()
    {
        using var backend = FcKernelBackend.CreateEmulated();
        using var exact = FcKernelBackend.CreateEmulated(new FcKernelOptions { Exact = true });
        Conv2dShape depthwise = new(1, 8, 9, 9, 8, 3, 3, Conv2dParams.Create(pad: 1, groups: 8));
        Conv2dShape stem = new(1, 3, 17, 17, 16, 7, 7, Conv2dParams.Create(stride: 2, pad: 3));
        Conv2dShape dense = new(1, 32, 12, 12, 32, 3, 3, Conv2dParams.Create(pad: 1));
        string Algo(FcKernelBackend be, Conv2dShape s)
        {
            using IConv2dPlan p = be.PlanConv2d(s, Tensor.Allocate(s.WeightShape), null, ConvEpilogue.None);
            return p.Algorithm;
        }
        Assert.Multiple(() =>
        {
            Assert.That(Algo(backend, depthwise), Is.EqualTo("conv2d_v1_depthwise"));
            Assert.That(Algo(backend, stem), Is.EqualTo("conv2d_v2_direct"));
            Assert.That(Algo(backend, dense), Is.EqualTo("conv2d_v4_igemm_tf32"));
            Assert.That(Algo(exact, dense), Is.EqualTo("conv2d_v3_igemm_fp32"), "Exact forbids TF32");
        });
    }

    [Test]
    public void ForcedKernelThatCannotRunTheShapeIsATypedError()
    {
        using var backend = FcKernelBackend.CreateEmulated(new FcKernelOptions { Conv2d = "conv2d_v1_depthwise" });
        Conv2dShape dense = new(1, 4, 5, 5, 4, 3, 3, Conv2dParams.Create(pad: 1));
        var e = Assert.Throws<InvalidShapeException>(() => backend.PlanConv2d(dense, Tensor.Allocate(dense.WeightShape), null, ConvEpilogue.None));
        Assert.That(e!.Message, Does.Contain("C/groups = 1").And.Contain("N=1 C=4 H=5 W=5 K=4"));
    }

    [Test]
    public void WrongInputShapeAtExecuteIsATypedError()
    {
        using var backend = FcKernelBackend.CreateEmulated();
        Conv2dShape s = new(1, 4, 5, 5, 4, 3, 3, Conv2dParams.Create(pad: 1));
        using IConv2dPlan plan = backend.PlanConv2d(s, Tensor.Allocate(s.WeightShape), null, ConvEpilogue.None);
        var e = Assert.Throws<InvalidShapeException>(() => plan.Execute(Tensor.Allocate(1, 4, 6, 5), Tensor.Allocate(s.OutputShape)));
        Assert.That(e!.Message, Does.Contain("input has shape [1,4,6,5], expected [1,4,5,5]").And.Contain("N=1 C=4 H=5 W=5 K=4"));
    }

    [Test]
    public void CudaWithoutAGpuSaysWhy()
    {
        GpuStatus gpu = GpuProbe.Detect();
        if (gpu.Devices.Count > 0 && gpu.Unusable is null)
        {
            Assert.Ignore("a GPU is present: the cuda backend is available here.");
        }
        var e = Assert.Throws<BackendUnavailableException>(() => BackendRegistry.Create(BackendNames.Cuda));
        Assert.That(e!.Backend, Is.EqualTo(BackendNames.Cuda));
        Assert.That(e.InnerException, Is.InstanceOf<CudaException>().Or.InstanceOf<NativeLibraryNotFoundException>());
        Assert.That(e.Reason, Does.Contain("CUDA"));
    }

    [Test]
    public void CudaEmuIsRegistered()
    {
        using IBackend backend = BackendRegistry.Create(BackendNames.CudaEmu);
        Assert.That(backend.Name, Is.EqualTo(BackendNames.CudaEmu));
    }
}
