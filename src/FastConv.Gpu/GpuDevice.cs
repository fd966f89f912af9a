using System.Runtime.CompilerServices;
using FastConv.Backends;

namespace FastConv.Gpu;

/// <summary>
/// One device as the engine uses it: its driver, the one caching allocator for its memory, the pinned host
/// pool for staging, and the kernel loader. Backends of one process share a device (see <see cref="Shared"/>),
/// so they share the allocator's cache instead of each holding their own.
/// </summary>
public sealed class GpuDevice : IDisposable
{
    private static readonly Lock s_sharedGate = new();
    private static GpuDevice? s_shared;
    private int _refs = 1;

    public GpuDevice(IGpuDriver driver)
    {
        Driver = driver;
        Memory = new CachingAllocator(new DriverDeviceMemory(driver), $"device memory on {driver.Device.Name}", driver.ExactAllocations);
        Pinned = new PinnedHostPool(new CachingAllocator(new DriverPinnedMemory(driver), "page-locked host memory"));
        Kernels = new KernelLoader(driver);
    }

    public IGpuDriver Driver { get; }
    public GpuDeviceInfo Info => Driver.Device;
    public CachingAllocator Memory { get; }
    public PinnedHostPool Pinned { get; }
    public KernelLoader Kernels { get; }

    /// <summary>
    /// The process's CUDA device 0, opened on first use and shared (reference-counted: dispose each one you
    /// get). Throws <see cref="FastConv.Interop.CudaException"/> (no device) or
    /// <see cref="FastConv.Interop.NativeLibraryNotFoundException"/> (no driver) when there is none.
    /// </summary>
    public static GpuDevice Shared()
    {
        lock (s_sharedGate)
        {
            if (s_shared is { } d && d._refs > 0)
            {
                d._refs++;
                d.Driver.MakeCurrent();
                return d;
            }
            s_shared = new GpuDevice(CudaDriverGpu.Open(0));
            return s_shared;
        }
    }

    public GpuStream CreateStream() => new(Driver);
    public GpuEvent CreateEvent(bool timing = true) => new(Driver, timing);

    /// <summary>Drops one reference; the last one frees the kernels, the memory (cached and live) and the driver.</summary>
    public void Dispose()
    {
        lock (s_sharedGate)
        {
            if (_refs == 0 || --_refs > 0)
            {
                return;
            }
            if (ReferenceEquals(s_shared, this))
            {
                s_shared = null;
            }
        }
        Kernels.Dispose();
        Pinned.Dispose();
        Memory.Dispose();
        Driver.Dispose();
    }
}

/// <summary>A stream: work queued on it runs in order; different streams may overlap.</summary>
public sealed class GpuStream : IDeviceStream
{
    private readonly IGpuDriver _driver;

    internal GpuStream(IGpuDriver driver)
    {
        _driver = driver;
        Handle = driver.StreamCreate();
    }

    public nint Handle { get; private set; }

    public void Synchronize() => _driver.StreamSynchronize(Handle);

    /// <summary>Later work on this stream waits for <paramref name="evt"/> (cross-stream ordering without a host wait).</summary>
    public void Wait(GpuEvent evt) => _driver.StreamWaitEvent(Handle, evt.Handle);

    public void Dispose()
    {
        nint h = Handle;
        Handle = 0;
        if (h != 0)
        {
            _driver.StreamDestroy(h);
        }
    }
}

/// <summary>An event: a point in a stream to wait for or to time from.</summary>
public sealed class GpuEvent : IDisposable
{
    private readonly IGpuDriver _driver;

    internal GpuEvent(IGpuDriver driver, bool timing)
    {
        _driver = driver;
        Handle = driver.EventCreate(timing);
    }

    public nint Handle { get; private set; }

    public void Record(GpuStream? stream = null) => _driver.EventRecord(Handle, stream?.Handle ?? 0);
    public void Synchronize() => _driver.EventSynchronize(Handle);
    public bool IsComplete => _driver.EventQuery(Handle);

    /// <summary>Milliseconds from <paramref name="start"/> to this event (both recorded; waits for this one).</summary>
    public float ElapsedSince(GpuEvent start)
    {
        Synchronize();
        return _driver.EventElapsedMilliseconds(start.Handle, Handle);
    }

    public void Dispose()
    {
        nint h = Handle;
        Handle = 0;
        if (h != 0)
        {
            _driver.EventDestroy(h);
        }
    }
}

/// <summary>
/// Page-locked host buffers for staging copies, from a caching pool (cuMemHostAlloc is slow: milliseconds
/// per call, so a plan rents its staging buffers once). A buffer must not go back while an async copy from
/// or to it is still queued: synchronize the stream first.
/// </summary>
public sealed class PinnedHostPool(CachingAllocator allocator) : IDisposable
{
    public CachingAllocator Allocator => allocator;

    public DeviceBuffer Rent(long bytes) => allocator.Allocate(bytes);

    /// <summary>The floats of a pinned buffer (its address is a host address).</summary>
    public static unsafe Span<float> Floats(DeviceBuffer buffer)
        => new((void*)(nint)buffer.Address, checked((int)(buffer.Bytes / sizeof(float))));

    public void Dispose() => allocator.Dispose();
}

/// <summary>
/// The arguments of one kernel launch, packed once at plan time into native memory: <c>Pointers</c> is the
/// <c>void**</c> cuLaunchKernel wants (pointer i → value i). A plan updates the values that change per run
/// (the input and output addresses) with <see cref="Set{T}"/>, which writes in place: launching allocates nothing.
/// </summary>
public sealed unsafe class KernelArguments : IDisposable
{
    private readonly int[] _offsets;
    private readonly int[] _sizes;
    private byte* _values;
    private void** _pointers;

    /// <param name="sizes">The byte size of each argument, in order (8 for a device pointer, 4 for an int or float).</param>
    public KernelArguments(params ReadOnlySpan<int> sizes)
    {
        _sizes = sizes.ToArray();
        _offsets = new int[sizes.Length];
        int offset = 0;
        for (int i = 0; i < sizes.Length; i++)
        {
            // Each value at its natural alignment (what the kernel's parameter layout would use).
            int align = Math.Min(8, Math.Max(1, sizes[i]));
            offset = (offset + align - 1) / align * align;
            _offsets[i] = offset;
            offset += sizes[i];
        }
        _values = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)Math.Max(offset, 8), 16);
        System.Runtime.InteropServices.NativeMemory.Clear(_values, (nuint)Math.Max(offset, 8));
        _pointers = (void**)System.Runtime.InteropServices.NativeMemory.Alloc((nuint)Math.Max(1, sizes.Length), (nuint)sizeof(void*));
        for (int i = 0; i < sizes.Length; i++)
        {
            _pointers[i] = _values + _offsets[i];
        }
    }

    public int Count => _sizes.Length;

    /// <summary>The <c>void**</c> for the launch.</summary>
    public void** Pointers
    {
        get
        {
            ObjectDisposedException.ThrowIf(_values == null, this);
            return _pointers;
        }
    }

    /// <summary>Writes argument <paramref name="index"/>; its declared size must be <c>sizeof(T)</c>.</summary>
    public void Set<T>(int index, T value) where T : unmanaged
    {
        ObjectDisposedException.ThrowIf(_values == null, this);
        if ((uint)index >= (uint)_sizes.Length || _sizes[index] != sizeof(T))
        {
            throw new ArgumentException($"Kernel argument {index} is declared {((uint)index < (uint)_sizes.Length ? _sizes[index] : -1)} bytes; a {typeof(T).Name} is {sizeof(T)}.", nameof(index));
        }
        Unsafe.WriteUnaligned(_values + _offsets[index], value);
    }

    public T Get<T>(int index) where T : unmanaged => Unsafe.ReadUnaligned<T>(_values + _offsets[index]);

    public void Dispose()
    {
        if (_values != null)
        {
            System.Runtime.InteropServices.NativeMemory.AlignedFree(_values);
            System.Runtime.InteropServices.NativeMemory.Free(_pointers);
            _values = null;
            _pointers = null;
        }
    }
}

/// <summary>A loaded kernel: its function handle and the driver that launches it.</summary>
public sealed class GpuKernel(IGpuDriver driver, nint function, string name)
{
    public string Name => name;
    public nint Function => function;

    /// <summary>Queues the kernel with arguments packed at plan time.</summary>
    public unsafe void Launch(Dim3 grid, Dim3 block, KernelArguments args, nint stream = 0, int dynamicSharedBytes = 0)
    {
        if (grid.Count == 0 || block.Count == 0)
        {
            throw new ArgumentException($"Kernel {name}: empty launch grid {grid} block {block}.");
        }
        driver.Launch(function, grid, block, dynamicSharedBytes, stream, args.Pointers);
    }

    /// <summary>Allows more than 48 KiB of dynamic shared memory.</summary>
    public void AllowDynamicSharedMemory(int bytes) => driver.SetMaxDynamicSharedMemory(function, bytes);

    /// <summary>Blocks of <paramref name="threads"/> covering <paramref name="count"/> elements, one element per thread.</summary>
    public static Dim3 GridFor(long count, uint threads)
        => new((uint)Math.Max(1, (count + threads - 1) / threads));
}
