using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Ops;
using FastConv.Tests.Backends;
using FastConv.Tests.Support;

namespace FastConv.Tests.Kernels;

/// <summary>
/// The <c>cpu</c> backend's MaxPool2d / AvgPool2d and global pools at every SIMD level against the reference.
/// Both 2-D pools claim bit-for-bit equality (same operations in the same order per output), so they are
/// compared exactly — on the conformance cases and on extra ones: stride 2 (the de-interleaving path) with
/// odd sizes, ResNet's 3×3/2 pad 1, dilated max, ceil mode, sizes just around the vector widths, and one
/// large enough to run on two threads.
/// </summary>
public sealed class Pool2dKernelTests
{
    public static IEnumerable<TestCaseData> Cases()
    {
        var extra = new List<Pool2dShape>
        {
            new(1, 3, 17, 33, Pool2dParams.Create(2, 2)),
            new(2, 5, 31, 35, Pool2dParams.Create(2, 2, ceilMode: true)),
            new(1, 4, 57, 57, Pool2dParams.Create(3, 2, 1)),
            new(1, 2, 112, 113, Pool2dParams.Create(3, 2, 1)),
            new(1, 3, 29, 67, Pool2dParams.Create(3, 2, 1, ceilMode: true, countIncludePad: true)),
            new(1, 3, 29, 67, Pool2dParams.Create(3, 2, 1, ceilMode: true)),
            new(1, 2, 19, 41, Pool2dParams.Create(3, 1, 1)),
            new(1, 2, 19, 41, Pool2dParams.Create(5, 1, 2, countIncludePad: true)),
            new(1, 2, 9, 16, Pool2dParams.Create(1, 1)),
            new(1, 2, 9, 40, Pool2dParams.Create(2, 2)),
            new(1, 2, 9, 34, Pool2dParams.Create(2, 2)),
            new(1, 2, 9, 33, Pool2dParams.Create(2, 2)),
            new(1, 1, 5, 4, Pool2dParams.Create(2, 2)),
            new(1, 2, 13, 70, Pool2dParams.Create(3, 3, 1)),
            new(1, 2, 13, 70, new Pool2dParams { KernelH = 2, KernelW = 3, StrideH = 1, StrideW = 2, Padding = new Padding2d(1, 0, 0, 2) }),
            new(1, 2, 15, 70, Pool2dParams.Create(4, 2, 1)),
            new(1, 2, 15, 71, Pool2dParams.Create(4, 2, 3, ceilMode: true)),
            new(1, 2, 15, 69, new Pool2dParams { KernelH = 3, KernelW = 2, StrideH = 2, StrideW = 2, Padding = new Padding2d(1, 1, 1, 1) }),
            new(1, 2, 15, 69, new Pool2dParams { KernelH = 1, KernelW = 5, StrideH = 1, StrideW = 2, Padding = new Padding2d(0, 2, 0, 2) }),
            new(2, 64, 56, 56, Pool2dParams.Create(2, 2)),
            new(1, 64, 50, 50, Pool2dParams.Create(3, 2, 1)),
        };
        foreach (Pool2dShape s in extra)
        {
            yield return new TestCaseData(s, true).SetName($"MaxPool2d({s})");
            yield return new TestCaseData(s, false).SetName($"AvgPool2d({s})");
        }
        foreach (Pool2dShape s in new Pool2dShape[]
        {
            new(1, 2, 21, 45, Pool2dParams.Create(3, 1, 2, dilation: 2)),
            new(1, 2, 21, 45, Pool2dParams.Create(3, 2, 1, dilation: 2)),
            new(1, 2, 21, 45, Pool2dParams.Create(2, 2, 1, ceilMode: true, dilation: 3)),
        })
        {
            yield return new TestCaseData(s, true).SetName($"MaxPool2d dilated({s})");
        }
        foreach (TestCaseData c in BackendConformanceTests.PoolCases())
        {
            yield return c;
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void EqualsReferenceAtEveryLevel(Pool2dShape shape, bool max)
    {
        var x = TestData.Floats(new Random(shape.H * 31 + shape.W), shape.InputShape, -5f, 5f);
        // NaN is skipped by the reference's max (v > m is false for it); put some in to check the kernels do the same.
        if (max)
        {
            for (int i = 0; i < x.Length; i += 97)
            {
                x.Span[i] = float.NaN;
            }
        }
        using var reference = new ReferenceBackend();
        using var refPlan = reference.PlanPool2d(shape, max);
        var expected = TestData.Poisoned(refPlan.OutputShape);
        refPlan.Execute(x, expected);
        foreach (SimdLevel level in ActivationKernelTests.Levels)
        {
            using var backend = new CpuBackend(new CpuBackendOptions { Simd = level, Threads = 2 });
            using IUnaryPlan plan = backend.PlanPool2d(shape, max);
            var actual = TestData.Poisoned(plan.OutputShape);
            plan.Execute(x, actual);
            Compare.Exact(expected, actual, $"{level} [{plan.Algorithm}] {(max ? "MaxPool2d" : "AvgPool2d")} {shape}");
        }
    }

    [Test]
    public void AvgPoolWithDilationIsRejectedAtPlanTime()
    {
        using var backend = new CpuBackend();
        Assert.Throws<InvalidHyperparameterException>(() => backend.PlanPool2d(new Pool2dShape(1, 1, 9, 9, Pool2dParams.Create(2, 1, dilation: 2)), max: false));
    }

    [Test]
    public void WrongShapesThrow()
    {
        using var backend = new CpuBackend();
        var shape = new Pool2dShape(1, 2, 8, 8, Pool2dParams.Create(2, 2));
        using IUnaryPlan plan = backend.PlanPool2d(shape, true);
        Assert.Throws<InvalidShapeException>(() => plan.Execute(Tensor.Allocate(1, 2, 8, 9), Tensor.Allocate(1, 2, 4, 4)));
        Assert.Throws<InvalidShapeException>(() => plan.Execute(Tensor.Allocate(1, 2, 8, 8), Tensor.Allocate(1, 2, 4, 5)));
    }

    public static IEnumerable<TestCaseData> GlobalCases()
    {
        int[][] shapes = [[1, 1, 1, 1], [1, 3, 1, 7], [2, 5, 7, 7], [1, 4, 3, 5], [1, 2, 8, 8], [1, 3, 9, 9], [1, 2, 11, 13], [2, 64, 56, 56], [1, 1, 1, 63], [1, 2, 1, 64]];
        foreach (int[] d in shapes)
        {
            foreach (bool max in new[] { true, false })
            {
                yield return new TestCaseData(d, max).SetName($"{(max ? "GlobalMaxPool" : "GlobalAveragePool")}([{string.Join(",", d)}])");
            }
        }
    }

    [TestCaseSource(nameof(GlobalCases))]
    public void GlobalPoolAtEveryLevel(int[] dims, bool max)
    {
        var shape = new TensorShape(dims);
        var x = TestData.Floats(new Random(dims.Sum()), shape, -3f, 3f);
        if (max)
        {
            for (int i = 1; i < x.Length; i += 41)
            {
                x.Span[i] = float.NaN;
            }
        }
        using var reference = new ReferenceBackend();
        using var refPlan = reference.PlanGlobalPool(shape, max);
        var expected = TestData.Poisoned(refPlan.OutputShape);
        refPlan.Execute(x, expected);
        var magnitude = TestData.Poisoned(refPlan.OutputShape);
        refPlan.Execute(TestData.Abs(x), magnitude);
        foreach (SimdLevel level in ActivationKernelTests.Levels)
        {
            using var backend = new CpuBackend(new CpuBackendOptions { Simd = level, Threads = 2 });
            using IUnaryPlan plan = backend.PlanGlobalPool(shape, max);
            var actual = TestData.Poisoned(plan.OutputShape);
            plan.Execute(x, actual);
            string problem = $"{level} [{plan.Algorithm}] X={shape}";
            if (max)
            {
                Compare.Exact(expected, actual, problem);
            }
            else
            {
                Compare.Close(expected, actual, problem, Tolerance.Accumulation(dims[2] * dims[3] + 1, magnitude));
            }
        }
    }
}
