using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Gpu;
using FastConv.Gpu.Backends;
using FastConv.Gpu.FcKernels;
using FastConv.Ops;
using FastConv.Tests.Support;

namespace FastConv.Tests.Emu;

/// <summary>
/// Constants reach the device the way the hardware wants them — pinned staging, async copies on the backend's own
/// stream — and the emulator orders copies by stream as a GPU does, so a copy whose source is overwritten, freed or
/// read too early shows as wrong data or an error instead of passing by luck.
/// </summary>
[TestFixture]
[Category("Emu")]
public sealed unsafe class StreamOrderTests
{
    [Test]
    public void PlanConstantsGoThroughPinnedAsyncCopiesOnTheBackendsStream()
    {
        // Before: weights, bias, scale and shift went through synchronous pageable cuMemcpyHtoD on the legacy stream
        // while the plan's kernels ran on a non-blocking one.
        using FcKernelBackend backend = FcKernelBackend.CreateEmulated(new FcKernelOptions { Exact = true }, EmuThreadOrder.Random, seed: 2);
        var driver = (EmuGpuDriver)backend.Device.Driver;
        var s = new Conv2dShape(1, 8, 9, 9, 16, 3, 3, Conv2dParams.Create(pad: 1));
        var rng = new Random(1);
        Tensor x = TestData.Floats(rng, s.InputShape), w = TestData.Floats(rng, s.WeightShape), b = TestData.Floats(rng, TensorShape.Of(s.K));
        var epilogue = new ConvEpilogue { Scale = [.. Enumerable.Range(0, 16).Select(i => 0.5f + i / 16f)], Shift = [.. Enumerable.Range(0, 16).Select(i => i / 32f)], Activation = Activation.Relu };
        EmuCopyCounts before = driver.CopyCounts;
        using IConv2dPlan plan = backend.PlanConv2d(s, w, b, epilogue);
        EmuCopyCounts after = driver.CopyCounts;
        Assert.Multiple(() =>
        {
            Assert.That(after.HostToDeviceSync - before.HostToDeviceSync, Is.Zero, "no synchronous host-to-device copy at plan time");
            Assert.That(after.PageableAsync - before.PageableAsync, Is.Zero, "no async copy from pageable memory");
            Assert.That(after.HostToDeviceAsync - before.HostToDeviceAsync, Is.EqualTo(4), "weights, bias, scale, shift");
            Assert.That(after.HostToDeviceAsyncStreams.Skip(before.HostToDeviceAsyncStreams.Count), Has.All.EqualTo(backend.Context.Stream.Handle), "on the backend's stream");
            Assert.That(((GpuPlanBase)plan).UploadsPending, Is.False, "planning waited for its uploads and gave the staging back");
            Assert.That(backend.Device.Pinned.Allocator.Stats.InUseBytes, Is.Zero, "no staging buffer held after planning");
        });

        Tensor expected = TestData.Poisoned(s.OutputShape), actual = TestData.Poisoned(s.OutputShape);
        using (IConv2dPlan r = new ReferenceBackend().PlanConv2d(s, w, b, epilogue))
        {
            r.Execute(x, expected);
        }
        plan.Execute(x, actual);
        Compare.Close(expected, actual, s.ToString(), 1e-4f, 1e-4f);
        EmuCopyCounts run = driver.CopyCounts;
        Assert.That(run.HostToDeviceSync + run.DeviceToHostSync + run.PageableAsync - before.HostToDeviceSync - before.DeviceToHostSync - before.PageableAsync,
            Is.Zero, "host execution stages through pinned buffers with async copies too");
    }

    [Test]
    public void APlanRunOnAnotherStreamSeesItsWeights()
    {
        // ExecuteDevice on a session's stream: the plan's uploads were on the backend's stream, so planning must have
        // waited for them (the emulator runs a queued copy only when its own stream gets there).
        using FcKernelBackend backend = FcKernelBackend.CreateEmulated(new FcKernelOptions { Gemm = "gemm_v1_tiled" });
        GpuDevice device = backend.Device;
        IGpuDriver d = device.Driver;
        var aShape = TensorShape.Of(5, 19);
        Tensor a = TestData.Ints(new Random(3), aShape), bw = TestData.Ints(new Random(4), TensorShape.Of(19, 23)), c = TestData.Ints(new Random(5), TensorShape.Of(23));
        using var plan = (IGpuUnaryPlan)backend.PlanGemm(aShape, bw, c, GemmParams.Default);
        using GpuStream other = device.CreateStream();
        using DeviceBuffer da = device.Memory.Allocate(4 * 5 * 19), dy = device.Memory.Allocate(4 * 5 * 23);
        using DeviceBuffer pa = device.Pinned.Rent(4 * 5 * 19), py = device.Pinned.Rent(4 * 5 * 23);
        a.Span.CopyTo(PinnedHostPool.Floats(pa));
        d.CopyHostToDeviceAsync(da.Address, (nint)pa.Address, 4 * 5 * 19, other.Handle);
        plan.ExecuteDevice(da.Address, dy.Address, other.Handle);
        d.CopyDeviceToHostAsync((nint)py.Address, dy.Address, 4 * 5 * 23, other.Handle);
        other.Synchronize();
        var expected = Tensor.Allocate(5, 23);
        Reference.Gemm(a, bw, c, GemmParams.Default, expected);
        Compare.Exact(expected, Tensor.FromArray(PinnedHostPool.Floats(py)[..(5 * 23)].ToArray(), 5, 23), "gemm run on a second stream");
    }

    [Test]
    public void TheEmulatorRunsAnAsyncCopyWhenItsStreamGetsThere()
    {
        using var device = new GpuDevice(new EmuGpuDriver());
        IGpuDriver d = device.Driver;
        using GpuStream s = device.CreateStream(), t = device.CreateStream();
        using DeviceBuffer dev = device.Memory.Allocate(64), staging = device.Pinned.Rent(64), back = device.Pinned.Rent(64);
        Span<float> host = PinnedHostPool.Floats(staging)[..16], result = PinnedHostPool.Floats(back)[..16];
        d.MemsetD32Async(dev.Address, BitConverter.SingleToUInt32Bits(7f), 16, 0);
        host.Fill(1f);
        d.CopyHostToDeviceAsync(dev.Address, (nint)staging.Address, 64, s.Handle);
        host.Fill(2f); // the staging buffer reused before its copy ran: on a GPU, a race
        t.Synchronize(); // another stream's sync does not reach s's copy
        d.CopyDeviceToHost((nint)back.Address, dev.Address, 64);
        Assert.That(result[0], Is.EqualTo(7f), "nothing copied before s got there");
        s.Synchronize();
        d.CopyDeviceToHost((nint)back.Address, dev.Address, 64);
        Assert.That(result.ToArray(), Has.All.EqualTo(2f), "the copy read its source when the stream got there");

        result.Fill(0f);
        d.CopyDeviceToHostAsync((nint)back.Address, dev.Address, 64, s.Handle);
        Assert.That(result[0], Is.Zero, "a download is not there before the stream is synchronized");
        s.Synchronize();
        Assert.That(result[0], Is.EqualTo(2f));
    }

    [Test]
    public void FreeingAStagingBufferWithItsCopyStillQueuedIsAnError()
    {
        var driver = new EmuGpuDriver();
        using var device = new GpuDevice(driver);
        using GpuStream s = device.CreateStream();
        using DeviceBuffer dev = device.Memory.Allocate(64);
        nint host = driver.HostAlloc(64);
        driver.CopyHostToDeviceAsync(dev.Address, host, 64, s.Handle);
        var e = Assert.Throws<EmulatorException>(() => driver.HostFree(host));
        Assert.That(e!.Message, Does.Contain("still queued").And.Contain("synchronize the stream"));
        s.Synchronize();
        driver.HostFree(host);
        Assert.That(driver.CopyCounts.PageableAsync, Is.Zero);
    }
}
