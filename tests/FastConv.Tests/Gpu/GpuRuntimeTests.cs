using System.Diagnostics;
using System.Runtime.InteropServices;
using FastConv.Gpu;

namespace FastConv.Tests.Gpu;

/// <summary>
/// An <see cref="IGpuDriver"/> over host memory, shaped like the CUDA-on-CPU emulator's: synchronous streams,
/// host-timed events, no module image, kernels found by name (here C# delegates reading cuLaunchKernel's void**).
/// It lets the runtime above the driver — allocator, pinned pool, streams, events, kernel loading, argument
/// packing, launches — run for real without a GPU.
/// </summary>
internal sealed unsafe class HostBackedDriver : IGpuDriver
{
    public delegate void Kernel(Dim3 grid, Dim3 block, int sharedBytes, void** args);

    private readonly Dictionary<string, Kernel> _kernels;
    private readonly List<string> _functionNames = [];
    private readonly HashSet<ulong> _device = [], _host = [];
    private readonly Dictionary<nint, long> _events = [];
    private nint _nextHandle = 0x100;

    public HostBackedDriver(Dictionary<string, Kernel> kernels, long memoryLimit = 1L << 30)
    {
        _kernels = kernels;
        MemoryLimit = memoryLimit;
    }

    public long MemoryLimit { get; }
    public long DeviceBytes { get; private set; }
    private readonly Dictionary<ulong, long> _sizes = [];
    public int LiveDeviceBlocks => _device.Count;
    public int LiveHostBlocks => _host.Count;
    public int LiveStreams { get; private set; }
    public int LiveEvents => _events.Count;
    public int ModulesLoaded { get; private set; }
    public List<(string Name, Dim3 Grid, Dim3 Block, int Shared, nint Stream)> Launches { get; } = [];

    public string Name => "host-backed";
    public FastConv.Backends.TransferCounters Transfers => default;
    public GpuDeviceInfo Device { get; } = new(0, "HostBacked", 8, 0, 4, 1L << 30);
    public KernelImageKind PreferredImage => KernelImageKind.None;
    public void MakeCurrent() { }
    public void Synchronize() { }

    public ulong MemAlloc(long bytes)
    {
        if (DeviceBytes + bytes > MemoryLimit)
            throw new OutOfDeviceMemoryException(bytes, "host-backed fake device is full");
        ulong p = (ulong)NativeMemory.AlignedAlloc((nuint)bytes, 256);
        _device.Add(p);
        _sizes[p] = bytes;
        DeviceBytes += bytes;
        return p;
    }

    public void MemFree(ulong pointer)
    {
        if (!_device.Remove(pointer))
            throw new InvalidOperationException($"free of unknown device pointer 0x{pointer:x}");
        DeviceBytes -= _sizes[pointer];
        _sizes.Remove(pointer);
        NativeMemory.AlignedFree((void*)pointer);
    }

    public ulong MemAllocAsync(long bytes, nint stream) => MemAlloc(bytes);
    public void MemFreeAsync(ulong pointer, nint stream) => MemFree(pointer);
    public (long Free, long Total) MemInfo() => (MemoryLimit - DeviceBytes, MemoryLimit);

    public nint HostAlloc(long bytes)
    {
        nint p = (nint)NativeMemory.AlignedAlloc((nuint)bytes, 4096);
        _host.Add((ulong)p);
        return p;
    }

    public void HostFree(nint pointer)
    {
        if (!_host.Remove((ulong)pointer))
            throw new InvalidOperationException($"free of unknown host pointer 0x{pointer:x}");
        NativeMemory.AlignedFree((void*)pointer);
    }

    public void CopyHostToDevice(ulong d, nint s, long bytes) => Buffer.MemoryCopy((void*)s, (void*)d, bytes, bytes);
    public void CopyDeviceToHost(nint d, ulong s, long bytes) => Buffer.MemoryCopy((void*)s, (void*)d, bytes, bytes);
    public void CopyDeviceToDevice(ulong d, ulong s, long bytes) => Buffer.MemoryCopy((void*)s, (void*)d, bytes, bytes);
    public void CopyHostToDeviceAsync(ulong d, nint s, long bytes, nint stream) => CopyHostToDevice(d, s, bytes);
    public void CopyDeviceToHostAsync(nint d, ulong s, long bytes, nint stream) => CopyDeviceToHost(d, s, bytes);
    public void CopyDeviceToDeviceAsync(ulong d, ulong s, long bytes, nint stream) => CopyDeviceToDevice(d, s, bytes);
    public void MemsetD32Async(ulong d, uint value, long count, nint stream) => new Span<uint>((void*)d, checked((int)count)).Fill(value);

    public nint StreamCreate()
    {
        LiveStreams++;
        return _nextHandle++;
    }

    public void StreamDestroy(nint stream) => LiveStreams--;
    public void StreamSynchronize(nint stream) { }
    public void StreamWaitEvent(nint stream, nint evt) { }

    public nint EventCreate(bool timing)
    {
        nint e = _nextHandle++;
        _events[e] = 0;
        return e;
    }

    public void EventDestroy(nint evt) => _events.Remove(evt);
    public void EventRecord(nint evt, nint stream) => _events[evt] = Stopwatch.GetTimestamp();
    public void EventSynchronize(nint evt) { }
    public bool EventQuery(nint evt) => true;
    public float EventElapsedMilliseconds(nint start, nint end) => (float)((_events[end] - _events[start]) * 1000.0 / Stopwatch.Frequency);

    public nint ModuleLoad(KernelImage image)
    {
        Assert.That(image.Kind, Is.EqualTo(KernelImageKind.None), "the emulator-shaped driver wants no image");
        ModulesLoaded++;
        return _nextHandle++;
    }

    public void ModuleUnload(nint module) => ModulesLoaded--;

    public nint ModuleGetFunction(nint module, string name)
    {
        if (!_kernels.ContainsKey(name))
            throw new FastConvException($"no kernel named '{name}'");
        _functionNames.Add(name);
        return _functionNames.Count;
    }

    public void SetMaxDynamicSharedMemory(nint function, int bytes) { }

    public void Launch(nint function, Dim3 grid, Dim3 block, int dynamicSharedBytes, nint stream, void** kernelParams)
    {
        string name = _functionNames[(int)function - 1];
        Launches.Add((name, grid, block, dynamicSharedBytes, stream));
        _kernels[name](grid, block, dynamicSharedBytes, kernelParams);
    }

    public void Dispose() { }
}

public sealed unsafe class GpuRuntimeTests
{
    /// <summary>saxpy as a kernel would see it: y[i] = a·x[i] + y[i] for i &lt; n, args (float* x, float* y, float a, int n).</summary>
    private static void Saxpy(Dim3 grid, Dim3 block, int shared, void** args)
    {
        float* x = *(float**)args[0];
        float* y = *(float**)args[1];
        float a = *(float*)args[2];
        int n = *(int*)args[3];
        for (long i = 0; i < (long)grid.X * block.X; i++)
        {
            if (i < n)
                y[i] = a * x[i] + y[i];
        }
    }

    private static HostBackedDriver NewDriver(long limit = 1L << 30) => new(new() { ["saxpy"] = Saxpy }, limit);

    [Test]
    public void KernelArgumentsPackValuesAtNaturalAlignmentAndUpdateInPlace()
    {
        using var args = new KernelArguments(8, 4, 8, 4, 4);
        args.Set(0, 0x1234_5678_9abcUL);
        args.Set(1, 7);
        args.Set(2, -3L);
        args.Set(3, 2.5f);
        args.Set(4, 9);
        Assert.Multiple(() =>
        {
            Assert.That(*(ulong*)args.Pointers[0], Is.EqualTo(0x1234_5678_9abcUL));
            Assert.That(*(int*)args.Pointers[1], Is.EqualTo(7));
            Assert.That(*(long*)args.Pointers[2], Is.EqualTo(-3L));
            Assert.That(*(float*)args.Pointers[3], Is.EqualTo(2.5f));
            Assert.That(*(int*)args.Pointers[4], Is.EqualTo(9));
            Assert.That((long)args.Pointers[2] % 8, Is.EqualTo(0L), "an 8-byte argument after a 4-byte one is 8-aligned");
        });
        void** before = args.Pointers;
        args.Set(0, 42UL);
        Assert.That((nint)args.Pointers, Is.EqualTo((nint)before), "updating a value keeps the pointer block");
        Assert.That(*(ulong*)args.Pointers[0], Is.EqualTo(42UL));
        Assert.Throws<ArgumentException>(() => args.Set(1, 1L), "an 8-byte value into a 4-byte slot");
        Assert.Throws<ArgumentException>(() => args.Set(5, 1));
    }

    [Test]
    public void LaunchThroughTheLoaderRunsTheKernelByNameWithItsArguments()
    {
        var driver = NewDriver();
        using var device = new GpuDevice(driver);
        const int n = 1000;
        float[] xs = Enumerable.Range(0, n).Select(i => (float)i).ToArray();
        float[] ys = Enumerable.Range(0, n).Select(i => 1f).ToArray();
        using DeviceBuffer dx = device.Memory.Allocate(n * 4), dy = device.Memory.Allocate(n * 4);
        fixed (float* px = xs, py = ys)
        {
            driver.CopyHostToDevice(dx.Address, (nint)px, n * 4);
            driver.CopyHostToDevice(dy.Address, (nint)py, n * 4);
        }
        GpuKernel k = device.Kernels.Get("saxpy.cu", "saxpy");
        Assert.That(device.Kernels.Get("saxpy.cu", "saxpy"), Is.SameAs(k), "loaded once");
        using var args = new KernelArguments(8, 8, 4, 4);
        args.Set(0, dx.Address);
        args.Set(1, dy.Address);
        args.Set(2, 2f);
        args.Set(3, n);
        using GpuStream stream = device.CreateStream();
        k.Launch(GpuKernel.GridFor(n, 128), new Dim3(128), args, stream.Handle);
        stream.Synchronize();
        float[] result = new float[n];
        fixed (float* pr = result)
            driver.CopyDeviceToHost((nint)pr, dy.Address, n * 4);
        Assert.That(result, Is.EqualTo(xs.Select(x => 2 * x + 1).ToArray()));
        Assert.That(driver.Launches.Single(), Is.EqualTo(("saxpy", new Dim3(8), new Dim3(128), 0, stream.Handle)));
        Assert.That(driver.ModulesLoaded, Is.EqualTo(1));
        Assert.That(device.Kernels.Compiled, Is.Empty, "no NVRTC for a driver that wants no image");
    }

    [Test]
    public void AnUnknownKernelIsATypedError()
    {
        using var device = new GpuDevice(NewDriver());
        Assert.Throws<FastConvException>(() => device.Kernels.Get("saxpy.cu", "nope"));
    }

    [Test]
    public void AnEmptyGridIsRejectedBeforeTheDriver()
    {
        var driver = NewDriver();
        using var device = new GpuDevice(driver);
        using var args = new KernelArguments(8, 8, 4, 4);
        GpuKernel k = device.Kernels.Get("saxpy.cu", "saxpy");
        Assert.Throws<ArgumentException>(() => k.Launch(new Dim3(0), new Dim3(128), args));
        Assert.That(driver.Launches, Is.Empty);
    }

    [Test]
    public void EventsTimeAndStreamsAndEventsAreReleased()
    {
        var driver = NewDriver();
        using (var device = new GpuDevice(driver))
        {
            using GpuStream s = device.CreateStream();
            using GpuEvent a = device.CreateEvent(), b = device.CreateEvent();
            a.Record(s);
            Thread.Sleep(5);
            b.Record(s);
            Assert.That(b.ElapsedSince(a), Is.GreaterThan(0f));
            Assert.That(b.IsComplete, Is.True);
            Assert.That(driver.LiveStreams, Is.EqualTo(1));
            Assert.That(driver.LiveEvents, Is.EqualTo(2));
        }
        Assert.That(driver.LiveStreams, Is.Zero);
        Assert.That(driver.LiveEvents, Is.Zero);
    }

    [Test]
    public void DeviceDisposalReturnsEveryBlockDeviceAndPinned()
    {
        var driver = NewDriver();
        var device = new GpuDevice(driver);
        DeviceBuffer live = device.Memory.Allocate(1 << 20);
        device.Memory.Allocate(4096).Dispose();
        DeviceBuffer pinned = device.Pinned.Rent(1 << 16);
        PinnedHostPool.Floats(pinned).Fill(3f);
        Assert.That(PinnedHostPool.Floats(pinned).Length, Is.EqualTo(1 << 14));
        device.Kernels.Get("saxpy.cu", "saxpy");
        device.Dispose();
        Assert.Multiple(() =>
        {
            Assert.That(driver.LiveDeviceBlocks, Is.Zero);
            Assert.That(driver.LiveHostBlocks, Is.Zero);
            Assert.That(driver.ModulesLoaded, Is.Zero);
        });
        Assert.DoesNotThrow(live.Dispose);
        Assert.DoesNotThrow(pinned.Dispose);
    }

    [Test]
    public void OutOfDeviceMemoryThroughTheDriverTrimsThenThrows()
    {
        var driver = NewDriver(limit: 8 << 20);
        using var device = new GpuDevice(driver);
        device.Memory.Allocate(6 << 20, stream: 5).Dispose(); // cached on another stream
        using (DeviceBuffer b = device.Memory.Allocate(6 << 20))
        {
            Assert.That(device.Memory.Stats.OutOfMemoryRetries, Is.EqualTo(1));
            var e = Assert.Throws<OutOfDeviceMemoryException>(() => device.Memory.Allocate(4 << 20));
            Assert.That(e!.Message, Does.Contain("HostBacked"));
        }
        Assert.That(device.Memory.Stats.InUseBytes, Is.Zero);
    }
}
