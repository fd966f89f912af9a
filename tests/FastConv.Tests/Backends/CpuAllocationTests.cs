using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Graphs.Ops;
using FastConv.Ops;
using FastConv.Tests.Support;

namespace FastConv.Tests.Backends;

/// <summary>
/// Plan, then execute: after planning (and one warm-up run for the JIT), executing a cpu plan allocates
/// nothing on the managed heap — measured with <see cref="GC.GetAllocatedBytesForCurrentThread"/> on the
/// calling thread, at one thread (everything runs inline) and at two (the caller works and waits).
/// </summary>
[NonParallelizable]
public sealed class CpuAllocationTests
{
    public static IEnumerable<TestCaseData> ConvCases()
    {
        (string Name, Conv2dShape Shape)[] shapes =
        [
            ("depthwise", new Conv2dShape(1, 32, 14, 14, 32, 3, 3, Conv2dParams.Create(1, 1, 1, 32))),
            ("depthwise", new Conv2dShape(1, 32, 14, 14, 32, 3, 3, Conv2dParams.Create(2, 1, 1, 32))),
            ("depthwise", new Conv2dShape(1, 24, 60, 40, 24, 3, 3, Conv2dParams.Create(1, 1, 1, 24))),
            ("direct-nchwc", new Conv2dShape(1, 24, 15, 15, 40, 3, 3, Conv2dParams.Create(2, 1))),
            ("direct-nchwc", new Conv2dShape(1, 200, 7, 7, 64, 1, 1, Conv2dParams.Create())),
            ("winograd", new Conv2dShape(1, 16, 12, 12, 16, 3, 3, Conv2dParams.Create(1, 1))),
            ("gemm-1x1", new Conv2dShape(1, 64, 14, 14, 64, 1, 1, Conv2dParams.Create())),
            ("direct", new Conv2dShape(1, 16, 15, 15, 24, 3, 3, Conv2dParams.Create(2, 1))),
            ("direct", new Conv2dShape(1, 16, 15, 15, 24, 1, 1, Conv2dParams.Create())),
            ("im2col-gemm", new Conv2dShape(1, 16, 15, 15, 24, 5, 5, Conv2dParams.Create(1, 2, 2))),
        ];
        foreach (int threads in new[] { 1, 2 })
        {
            foreach (var (name, shape) in shapes)
            {
                yield return new TestCaseData(name, shape, threads).SetName($"{name} allocates nothing per run, threads={threads}: {shape}");
            }
        }
    }

    [TestCaseSource(nameof(ConvCases))]
    public void ConvExecuteAllocatesNothing(string algorithm, Conv2dShape shape, int threads)
    {
        using var backend = new CpuBackend(new CpuBackendOptions { Threads = threads, ConvAlgorithm = algorithm });
        var rng = new Random(3);
        var x = TestData.Floats(rng, shape.InputShape);
        var w = TestData.Floats(rng, shape.WeightShape);
        var b = TestData.Floats(rng, TensorShape.Of(shape.K));
        var residual = TestData.Floats(rng, shape.OutputShape);
        var y = Tensor.Allocate(shape.OutputShape);
        using var plan = backend.PlanConv2d(shape, w, b, new ConvEpilogue { AddResidual = true, Activation = Activation.Relu });
        Assert.That(plan.Algorithm, Is.EqualTo(algorithm));
        AssertNoAllocation(() => plan.Execute(x, y, residual), $"{algorithm} {shape}");
    }

    [TestCase(1)]
    [TestCase(2)]
    public void OtherPlansAllocateNothing(int threads)
    {
        using var backend = new CpuBackend(new CpuBackendOptions { Threads = threads });
        var big = TensorShape.Of(2, 32, 64, 64); // large enough to be split across threads
        var x = TestData.Floats(new Random(1), big);
        var y = Tensor.Allocate(big);
        using var relu = backend.PlanActivation(Activation.HardSwish, big);
        AssertNoAllocation(() => relu.Execute(x, y), "HardSwish");
        var poolShape = new Pool2dShape(2, 32, 64, 64, ShapeSets.Pool2x2);
        using var pool = backend.PlanPool2d(poolShape, max: true);
        var pooled = Tensor.Allocate(poolShape.OutputShape);
        AssertNoAllocation(() => pool.Execute(x, pooled), "MaxPool2d");
        using var gap = backend.PlanGlobalPool(big, max: false);
        var g = Tensor.Allocate(2, 32, 1, 1);
        AssertNoAllocation(() => gap.Execute(x, g), "GlobalAveragePool");
        using var softmax = backend.PlanSoftmax(big, -1);
        AssertNoAllocation(() => softmax.Execute(x, y), "Softmax");
        var a = TestData.Floats(new Random(2), TensorShape.Of(4, 256));
        using var fc = backend.PlanGemm(a.Shape, TestData.Floats(new Random(4), TensorShape.Of(100, 256)), Tensor.Allocate(100), new GemmParams { TransB = true });
        var fcOut = Tensor.Allocate(4, 100);
        AssertNoAllocation(() => fc.Execute(a, fcOut), "Gemm");
    }

    [TestCase(1)]
    [TestCase(2)]
    public void ModelOpPlansAllocateNothing(int threads)
    {
        using var cpu = new CpuBackend(new CpuBackendOptions { Threads = threads });
        var rng = new Random(5);
        var fmap = TensorShape.Of(1, 32, 40, 40); // large enough to be split across threads
        Tensor x = TestData.Floats(rng, fmap), w = TestData.Floats(rng, TensorShape.Of(32, 16, 4, 4)), b = TestData.Floats(rng, TensorShape.Of(32));
        void Unary(IUnaryPlan plan, Tensor input, string what)
        {
            using (plan)
            {
                var y = Tensor.Allocate(plan.OutputShape);
                AssertNoAllocation(() => plan.Execute(input, y), $"{what} ({plan.Algorithm})");
            }
        }
        Unary(cpu.PlanConvTranspose2d(new ConvTranspose2dShape(1, 32, 40, 40, 16, 4, 4, ConvTranspose2dParams.Create(2, 1)), w, TestData.Floats(rng, TensorShape.Of(16))), x, "ConvTranspose 4x4 s2");
        Unary(cpu.PlanConvTranspose2d(new ConvTranspose2dShape(1, 32, 40, 40, 16, 2, 2, ConvTranspose2dParams.Create(2)), TestData.Floats(rng, TensorShape.Of(32, 16, 2, 2)), null), x, "ConvTranspose 2x2 s2");
        Unary(cpu.PlanConvTranspose2d(new ConvTranspose2dShape(1, 32, 40, 40, 1, 2, 2, ConvTranspose2dParams.Create(2)), TestData.Floats(rng, TensorShape.Of(32, 1, 2, 2)), null), x, "ConvTranspose 2x2 s2 to one channel");
        foreach (ResizeMode mode in Enum.GetValues<ResizeMode>())
        {
            Unary(cpu.PlanResize(fmap, ResizeParams.WithScales(2, 2, mode, ResizeCoordinateTransform.Asymmetric, ResizeNearestMode.Floor)), x, $"Resize {mode}");
        }
        Unary(cpu.PlanTranspose(fmap, [0, 2, 3, 1]), x, "Transpose NCHW->NHWC");
        Unary(cpu.PlanSlice(fmap, [0, 8, 0, 39], [1, 1, 2, -1], TensorShape.Of(1, 16, 20, 40)), x, "Slice");
        Unary(cpu.PlanExpand(TensorShape.Of(1, 32, 1, 40), fmap), TestData.Floats(rng, TensorShape.Of(1, 32, 1, 40)), "Expand");
        Unary(cpu.PlanGather(fmap, 1, [3, 1, 4], TensorShape.Of(3)), x, "Gather");
        Unary(cpu.PlanPad(fmap, PadParams.Create(PadMode.Reflect, [0, 0, 1, 2, 0, 0, 2, 1])), x, "Pad");
        Unary(cpu.PlanPRelu(fmap, TestData.Floats(rng, TensorShape.Of(32, 1, 1))), x, "PRelu");
        Unary(cpu.PlanErf(fmap), x, "Erf");
        Unary(cpu.PlanGelu(fmap, GeluParams.Exact), x, "Gelu");
        Unary(cpu.PlanMish(fmap), x, "Mish");
        Unary(cpu.PlanLayerNormalization(fmap, 3, 1e-5f, TestData.Floats(rng, TensorShape.Of(40)), null), x, "LayerNormalization");
        Unary(cpu.PlanInstanceNormalization(fmap, 1e-5f, b, b), x, "InstanceNormalization");
        Unary(cpu.PlanGroupNormalization(fmap, 4, 1e-5f, b, b), x, "GroupNormalization");
        Unary(cpu.PlanReduceMean(fmap, [2, 3], true), x, "ReduceMean rows");
        Unary(cpu.PlanReduce(FastConv.Graphs.Ops.ReduceKind.Sum, fmap, [1], true), x, "ReduceSum columns");
        Unary(cpu.PlanReduce(FastConv.Graphs.Ops.ReduceKind.Max, fmap, [1, 3], false), x, "ReduceMax transposed");
        using IBinaryPlan matmul = cpu.PlanMatMul(TensorShape.Of(4, 64, 48), TensorShape.Of(48, 64));
        Tensor a = TestData.Floats(rng, TensorShape.Of(4, 64, 48)), m = TestData.Floats(rng, TensorShape.Of(48, 64)), mm = Tensor.Allocate(matmul.OutputShape);
        AssertNoAllocation(() => matmul.Execute(a, m, mm), "MatMul");
    }

    private static void AssertNoAllocation(Action run, string what)
    {
        // Warm-up past tiered compilation's call-count threshold (30), whose re-JIT bookkeeping allocates on
        // the calling thread, and past lazily created wait handles.
        for (int i = 0; i < 64; i++)
        {
            run();
        }
        // The least of three measurements: an allocation per run shows in all three; a one-off one (the shared worker
        // pool starting a helper thread again after it idled out, which the caller's thread pays for) in one only.
        long allocated = long.MaxValue;
        for (int attempt = 0; attempt < 3 && allocated > 0; attempt++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 5; i++)
            {
                run();
            }
            allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.That(allocated, Is.Zero, $"{what}: {allocated} bytes allocated in 5 runs, in each of three measurements");
    }
}
