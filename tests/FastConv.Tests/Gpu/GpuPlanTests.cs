using FastConv.Backends;
using FastConv.Gpu;
using FastConv.Gpu.Backends;
using FastConv.Gpu.FcKernels;
using FastConv.Ops;

namespace FastConv.Tests.Gpu;

/// <summary>
/// The library backends' plan machinery above the driver — host staging through pinned buffers, argument packing,
/// launch by name, buffer ownership, failure part-way through planning — on the host-backed driver, with C#
/// stand-ins for the kernels (the real ones are CUDA C++, compiled by NVRTC in <see cref="NvrtcTests"/> and run by
/// the emulator in tests/FastConv.Tests/Emu/SupportKernelTests.cs).
/// </summary>
public sealed unsafe class GpuPlanTests
{
    /// <summary>activation_v1_vec4 / activation_naive(FcActivationArgs a) of native/kernels/activation.cu, Relu only.</summary>
    private static void ActivationKernel(Dim3 grid, Dim3 block, int shared, void** args)
    {
        FcActivationArgs a = *(FcActivationArgs*)args[0];
        float* x = (float*)a.X;
        float* y = (float*)a.Y;
        Assert.That(a.Act, Is.EqualTo((int)ActivationKind.Relu));
        Assert.That((long)grid.X * block.X, Is.GreaterThan(0), "a grid-stride loop covers the elements with any grid");
        for (long i = 0; i < a.Count; i++)
            y[i] = x[i] < 0 ? 0f : x[i];
    }

    private static (HostBackedDriver Driver, GpuDevice Device, GpuBackendContext Context) Open(long limit = 1L << 30)
    {
        var driver = new HostBackedDriver(new() { ["activation_v1_vec4"] = ActivationKernel, ["activation_naive"] = ActivationKernel }, limit);
        var device = new GpuDevice(driver);
        var context = new GpuBackendContext("test", device, new GpuBackendOptions());
        return (driver, device, context);
    }

    [Test]
    public void ActivationPlanStagesHostTensorsAndAllocatesNothingAfterTheFirstRun()
    {
        var (driver, device, context) = Open();
        using (context)
        {
            var shape = TensorShape.Of(2, 3, 5, 7);
            var rng = new Random(3);
            var x = Tensor.FromArray(Enumerable.Range(0, shape.ElementCount).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray(), 2, 3, 5, 7);
            var y = Tensor.Allocate(shape);
            using (var plan = new GpuActivationPlan(context, Activation.Relu, shape))
            {
                plan.Execute(x, y);
                Assert.That(y.ToArray(), Is.EqualTo(x.ToArray().Select(v => Math.Max(v, 0f)).ToArray()));
                AllocatorStats deviceAfterFirst = device.Memory.Stats, pinnedAfterFirst = device.Pinned.Allocator.Stats;
                for (int i = 0; i < 5; i++)
                {
                    y.Span.Fill(float.NaN);
                    plan.Execute(x, y);
                }
                Assert.Multiple(() =>
                {
                    Assert.That(y.ToArray(), Is.EqualTo(x.ToArray().Select(v => Math.Max(v, 0f)).ToArray()));
                    Assert.That(device.Memory.Stats.Requests, Is.EqualTo(deviceAfterFirst.Requests), "no device request after the first run");
                    Assert.That(device.Pinned.Allocator.Stats.Requests, Is.EqualTo(pinnedAfterFirst.Requests), "no pinned request after the first run");
                    Assert.That(driver.Launches, Has.Count.EqualTo(6));
                    Assert.That(driver.Launches.All(l => l.Stream == context.Stream.Handle), Is.True, "launched on the backend's stream");
                });
                Assert.Throws<InvalidShapeException>(() => plan.Execute(Tensor.Allocate(2, 3, 5, 6), y));
            }
            Assert.That(device.Memory.Stats.InUseBytes, Is.Zero, "the plan gave its device buffers back");
            Assert.That(device.Pinned.Allocator.Stats.InUseBytes, Is.Zero, "the plan gave its pinned buffers back");
        }
        Assert.That(driver.LiveDeviceBlocks, Is.Zero);
        Assert.That(driver.LiveHostBlocks, Is.Zero);
        Assert.That(driver.LiveStreams, Is.Zero);
    }

    [Test]
    public void APlanThatRunsOutOfMemoryPartWayGivesBackWhatItTook()
    {
        // B (400×500 floats, 800,000 B) fits; C's 2 KiB does not: the plan fails on its second buffer.
        var (driver, device, context) = Open(limit: 800_000 + 1000);
        using (context)
        {
            var b = Tensor.Allocate(400, 500);
            var c = Tensor.Allocate(500);
            var e = Assert.Throws<OutOfDeviceMemoryException>(() => new GpuGemmPlan(context, TensorShape.Of(8, 400), b, c, GemmParams.Default));
            Assert.That(e!.RequestedBytes, Is.EqualTo(2000));
            Assert.Multiple(() =>
            {
                Assert.That(device.Memory.Stats.InUseBytes, Is.Zero, "B's buffer went back when C's failed");
                Assert.That(device.Memory.Stats.LiveBuffers, Is.Zero);
                Assert.That(device.Memory.Stats.OutOfMemoryRetries, Is.EqualTo(1));
            });
            // The memory is usable again: a plan that fits succeeds after a trim.
            device.Memory.Trim();
            using var fits = new GpuGemmPlan(context, TensorShape.Of(8, 400), b, null, GemmParams.Default);
            Assert.That(device.Memory.Stats.InUseBytes, Is.EqualTo(CachingAllocator.SizeClass(800_000)));
        }
        Assert.That(driver.LiveDeviceBlocks, Is.Zero);
    }
}
