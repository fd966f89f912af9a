using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Gpu.FcKernels;
using FastConv.Ops;
using FastConv.Tests.Support;

namespace FastConv.Tests.Emu;

/// <summary>
/// Every grid-stride kernel with its grid capped at one or two blocks (FcKernelOptions.MaxGridBlocks), so each block
/// must walk many rows, planes or tiles: what a tensor larger than the launcher's cap does on a GPU. A kernel that
/// covers only its first grid's worth leaves NaN-poisoned outputs. Integer data make sums exact in any order.
/// </summary>
[TestFixture]
[Category("Emu")]
public sealed class GridStrideTests
{
    private static readonly ReferenceBackend Oracle = new();

    private static FcKernelBackend Emu(FcKernelOptions o) => FcKernelBackend.CreateEmulated(o, EmuThreadOrder.Random, seed: 5);

    [TestCase(1)]
    [TestCase(2)]
    public void SoftmaxRowsBeyondTheGrid(int cap)
    {
        var shape = TensorShape.Of(37, 45);
        Tensor x = TestData.Floats(new Random(1), shape, -4, 4);
        foreach (string kernel in FcKernelVariants.Softmax)
        {
            using FcKernelBackend be = Emu(new FcKernelOptions { Softmax = kernel, MaxGridBlocks = cap });
            Tensor expected = Run(Oracle.PlanSoftmax(shape, -1), x), actual = Run(be.PlanSoftmax(shape, -1), x);
            Compare.Close(expected, actual, $"{kernel} cap {cap} X={shape}", 1e-6f, 1e-5f);
        }
    }

    [TestCase(1)]
    [TestCase(2)]
    public void GlobalPoolPlanesBeyondTheGrid(int cap)
    {
        var shape = TensorShape.Of(3, 13, 5, 7); // 39 planes: five passes of 8 warps at cap 1
        Tensor x = TestData.Ints(new Random(2), shape);
        foreach (bool max in new[] { true, false })
        {
            foreach (string kernel in FcKernelVariants.GlobalPool)
            {
                using FcKernelBackend be = Emu(new FcKernelOptions { GlobalPool = kernel, MaxGridBlocks = cap });
                Tensor expected = Run(Oracle.PlanGlobalPool(shape, max), x), actual = Run(be.PlanGlobalPool(shape, max), x);
                Compare.Close(expected, actual, $"{kernel} max={max} cap {cap} X={shape}", 0f, 1e-6f);
            }
        }
    }

    [TestCase(1)]
    [TestCase(2)]
    public void GemmTilesBeyondTheGrid(int cap)
    {
        // M = 100, N = 70: 4×3 tiles of 32; a capped grid must walk tiles in both dimensions.
        var aShape = TensorShape.Of(100, 19);
        Tensor a = TestData.Ints(new Random(3), aShape), b = TestData.Ints(new Random(4), TensorShape.Of(70, 19)), c = TestData.Ints(new Random(5), TensorShape.Of(70));
        var p = new GemmParams { TransB = true, Alpha = 1f, Beta = 1f };
        foreach (string kernel in FcKernelVariants.Gemm)
        {
            using FcKernelBackend be = Emu(new FcKernelOptions { Gemm = kernel, MaxGridBlocks = cap });
            Tensor expected = Run(Oracle.PlanGemm(aShape, b, c, p), a), actual = Run(be.PlanGemm(aShape, b, c, p), a);
            Compare.Exact(expected, actual, $"{kernel} cap {cap} A={aShape}");
        }
    }

    [Test]
    public void ActivationPoolAndNaiveConvBeyondTheGrid()
    {
        var shape = TensorShape.Of(3, 1027);
        Tensor x = TestData.Floats(new Random(6), shape, -8, 8);
        foreach (string kernel in FcKernelVariants.Activation)
        {
            using FcKernelBackend be = Emu(new FcKernelOptions { Activation = kernel, MaxGridBlocks = 1 });
            Compare.Exact(Run(Oracle.PlanActivation(Activation.Relu6, shape), x), Run(be.PlanActivation(Activation.Relu6, shape), x), $"{kernel} cap 1");
        }
        var pool = new Pool2dShape(2, 3, 19, 21, Pool2dParams.Create(kernel: 3, stride: 1, pad: 1));
        Tensor px = TestData.Ints(new Random(7), pool.InputShape);
        using (FcKernelBackend be = Emu(new FcKernelOptions { Pool2d = "pool2d_naive", MaxGridBlocks = 1 }))
        {
            Compare.Exact(Run(Oracle.PlanPool2d(pool, true), px), Run(be.PlanPool2d(pool, true), px), "pool2d_naive cap 1");
        }
        var conv = new Conv2dShape(1, 3, 17, 16, 5, 3, 3, Conv2dParams.Create(pad: 1));
        Tensor cx = TestData.Ints(new Random(8), conv.InputShape), cw = TestData.Ints(new Random(9), conv.WeightShape);
        using (FcKernelBackend be = Emu(new FcKernelOptions { Conv2d = "conv2d_naive", MaxGridBlocks = 1 }))
        {
            Tensor expected = TestData.Poisoned(conv.OutputShape), actual = TestData.Poisoned(conv.OutputShape);
            using (IConv2dPlan r = Oracle.PlanConv2d(conv, cw, null, ConvEpilogue.None))
            {
                r.Execute(cx, expected);
            }
            using (IConv2dPlan plan = be.PlanConv2d(conv, cw, null, ConvEpilogue.None))
            {
                plan.Execute(cx, actual);
            }
            Compare.Exact(expected, actual, "conv2d_naive cap 1");
        }
    }

    [Test]
    public void AForcedLaunchPastTheGridYLimitIsATypedError()
    {
        // conv2d_v2_direct puts K/8 on gridDim.y: K = 8·65535 + 1 would be an invalid launch on a GPU.
        var s = new Conv2dShape(1, 1, 1, 1, 8 * 65535 + 1, 1, 1, Conv2dParams.Create());
        Assert.That(FcKernelVariants.WhyNot("conv2d_v2_direct", s), Does.Contain("gridDim.y"));
        using FcKernelBackend be = Emu(new FcKernelOptions { Conv2d = "conv2d_v2_direct" });
        Assert.Throws<InvalidShapeException>(() => be.PlanConv2d(s, Tensor.Allocate(s.WeightShape), null, ConvEpilogue.None).Dispose());
    }

    private static Tensor Run(IUnaryPlan plan, Tensor x)
    {
        using (plan)
        {
            Tensor y = TestData.Poisoned(plan.OutputShape);
            plan.Execute(x, y);
            return y;
        }
    }
}
