using FastConv.Backends;

namespace FastConv.Gpu;

/// <summary>Where a <see cref="CachingAllocator"/> gets its memory: the driver, or a fake with a hard limit in tests.</summary>
public interface IMemorySource
{
    /// <summary>A new block of exactly <paramref name="bytes"/>; throws <see cref="OutOfDeviceMemoryException"/> when there is none.</summary>
    ulong Allocate(long bytes);

    /// <summary>Gives a block back to the source.</summary>
    void Free(ulong address);

    /// <summary>Waits until no queued work can still touch any block (before cached blocks change streams or go back).</summary>
    void Synchronize();
}

/// <summary>Device memory straight from an <see cref="IGpuDriver"/> (<c>cuMemAlloc</c> / <c>cuMemFree</c>).</summary>
public sealed class DriverDeviceMemory(IGpuDriver driver) : IMemorySource
{
    public ulong Allocate(long bytes) => driver.MemAlloc(bytes);
    public void Free(ulong address) => driver.MemFree(address);
    public void Synchronize() => driver.Synchronize();
}

/// <summary>Page-locked host memory from an <see cref="IGpuDriver"/> (<c>cuMemHostAlloc</c> / <c>cuMemFreeHost</c>).</summary>
public sealed class DriverPinnedMemory(IGpuDriver driver) : IMemorySource
{
    public ulong Allocate(long bytes) => (ulong)driver.HostAlloc(bytes);
    public void Free(ulong address) => driver.HostFree((nint)address);
    public void Synchronize() => driver.Synchronize();
}

/// <summary>What a caching allocator holds and has done; read it to see whether steady state touches the driver.</summary>
public readonly record struct AllocatorStats(
    long InUseBytes,
    long ReservedBytes,
    long PeakInUseBytes,
    long PeakReservedBytes,
    long Requests,
    long CacheHits,
    long SourceAllocations,
    long SourceFrees,
    long OutOfMemoryRetries,
    int LiveBuffers)
{
    /// <summary>Bytes reserved from the source but not handed out (what <see cref="CachingAllocator.Trim"/> gives back).</summary>
    public long CachedBytes => ReservedBytes - InUseBytes;

    public override string ToString()
        => $"in use {OutOfDeviceMemoryException.Format(InUseBytes)} in {LiveBuffers} buffers, reserved {OutOfDeviceMemoryException.Format(ReservedBytes)} " +
           $"(peak in use {OutOfDeviceMemoryException.Format(PeakInUseBytes)}, peak reserved {OutOfDeviceMemoryException.Format(PeakReservedBytes)}), " +
           $"{Requests} requests, {CacheHits} from the cache, {SourceAllocations} source allocations, {SourceFrees} source frees, {OutOfMemoryRetries} trim-and-retries";
}

/// <summary>
/// A caching allocator in the manner of PyTorch's: freed blocks are kept in bins keyed by (stream, size class)
/// and handed out again to the next request of the same class on the same stream, so steady-state inference
/// asks the driver for nothing. Reuse on the same stream is safe without synchronization because work on one
/// stream runs in order: a kernel queued after the free runs after every kernel that used the block before.
/// Blocks never move between streams without a full <see cref="IMemorySource.Synchronize"/> (done by
/// <see cref="Trim"/> and the out-of-memory path).
/// <para>
/// Size classes: requests round up to 512 B up to 1 MiB (small tensors, biases), then to a quarter of their
/// power of two (1.25, 1.5, 1.75, 2 × 2^k), so a cached block wastes at most 25 % and a network's many shapes
/// share few classes. Out of memory: synchronize, give back every cached block, retry once, then throw
/// <see cref="OutOfDeviceMemoryException"/> with the allocator's statistics. Thread-safe.
/// </para>
/// </summary>
public sealed class CachingAllocator : IDisposable
{
    /// <summary>Alignment and granule of small classes; also cuMemAlloc's guaranteed alignment is ≥ 256.</summary>
    public const long SmallGranule = 512;

    /// <summary>Requests up to this size round to <see cref="SmallGranule"/>; larger ones to quarter powers of two.</summary>
    public const long SmallLimit = 1L << 20;

    private readonly IMemorySource _source;
    private readonly string _what;
    private readonly Lock _gate = new();
    private readonly Dictionary<(nint Stream, long Class), Stack<ulong>> _cache = [];
    private readonly Dictionary<ulong, long> _reservedBlocks = [];
    private long _inUse, _reserved, _peakInUse, _peakReserved, _requests, _hits, _sourceAllocs, _sourceFrees, _retries;
    private int _live;
    private bool _disposed;

    /// <param name="source">Where blocks come from.</param>
    /// <param name="what">What the memory is, for messages ("device memory on H100", "pinned host memory").</param>
    /// <param name="exact">
    /// Hand out blocks of exactly the size asked for and give them back at once (no size classes, no cache): on the
    /// emulator, whose blocks end against a guard page (or are AddressSanitizer's exact heap blocks), a kernel reading
    /// past the end of its tensor then faults instead of reading the rest of a larger cached block.
    /// </param>
    public CachingAllocator(IMemorySource source, string what = "device memory", bool exact = false)
    {
        _source = source;
        _what = what;
        Exact = exact;
    }

    /// <summary>Whether blocks are exactly the size asked for and never cached (see the constructor).</summary>
    public bool Exact { get; }

    /// <summary>The size class a request of <paramref name="bytes"/> is served from.</summary>
    public static long SizeClass(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        if (bytes <= SmallLimit)
        {
            return (bytes + SmallGranule - 1) / SmallGranule * SmallGranule;
        }
        int log = 63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)bytes);
        long quarter = 1L << (log - 2);
        return (bytes + quarter - 1) / quarter * quarter;
    }

    public AllocatorStats Stats
    {
        get
        {
            lock (_gate)
            {
                return new AllocatorStats(_inUse, _reserved, _peakInUse, _peakReserved, _requests, _hits, _sourceAllocs, _sourceFrees, _retries, _live);
            }
        }
    }

    /// <summary>Resets the peaks to the current values (e.g. after warm-up).</summary>
    public void ResetPeaks()
    {
        lock (_gate)
        {
            _peakInUse = _inUse;
            _peakReserved = _reserved;
        }
    }

    /// <summary>
    /// A buffer of at least <paramref name="bytes"/> for work on <paramref name="stream"/> (0 = default stream).
    /// Dispose it (or <see cref="Free"/>) when the work queued on that stream no longer needs it.
    /// </summary>
    public DeviceBuffer Allocate(long bytes, nint stream = 0)
    {
        if (bytes <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), bytes, $"A {_what} request must be at least one byte.");
        }
        long cls = Exact ? bytes : SizeClass(bytes);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _requests++;
            if (_cache.TryGetValue((stream, cls), out Stack<ulong>? bin) && bin.TryPop(out ulong cached))
            {
                _hits++;
                return HandOut(cached, bytes, cls, stream);
            }
            ulong address;
            try
            {
                address = _source.Allocate(cls);
            }
            catch (OutOfDeviceMemoryException first)
            {
                // One trim-and-retry: blocks cached on any stream go back (after a full synchronize), then ask again.
                _retries++;
                TrimLocked();
                try
                {
                    address = _source.Allocate(cls);
                }
                catch (OutOfDeviceMemoryException second)
                {
                    throw new OutOfDeviceMemoryException(bytes,
                        $"{_what}, size class {OutOfDeviceMemoryException.Format(cls)}, still failing after giving back every cached block; " +
                        $"allocator: {StatsLocked()}; first failure: {first.Message}", second);
                }
            }
            _sourceAllocs++;
            _reserved += cls;
            _peakReserved = Math.Max(_peakReserved, _reserved);
            _reservedBlocks.Add(address, cls);
            return HandOut(address, bytes, cls, stream);
        }
    }

    private DeviceBuffer HandOut(ulong address, long bytes, long cls, nint stream)
    {
        _inUse += cls;
        _peakInUse = Math.Max(_peakInUse, _inUse);
        _live++;
        return new DeviceBuffer(this, address, bytes, cls, stream);
    }

    /// <summary>Returns a buffer's block to the cache bin of the stream it was allocated for.</summary>
    public void Free(DeviceBuffer buffer) => buffer.Dispose();

    internal void Release(DeviceBuffer buffer)
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return; // the allocator already gave every block back
            }
            _inUse -= buffer.ClassBytes;
            _live--;
            if (Exact)
            {
                _source.Free(buffer.Address);
                _reservedBlocks.Remove(buffer.Address);
                _sourceFrees++;
                _reserved -= buffer.ClassBytes;
                return;
            }
            var key = (buffer.Stream, buffer.ClassBytes);
            if (!_cache.TryGetValue(key, out Stack<ulong>? bin))
            {
                _cache[key] = bin = new Stack<ulong>();
            }
            bin.Push(buffer.Address);
        }
    }

    /// <summary>Synchronizes, then gives every cached (free) block back to the source. Returns the bytes released.</summary>
    public long Trim()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return TrimLocked();
        }
    }

    private long TrimLocked()
    {
        if (_cache.Count == 0)
        {
            return 0;
        }
        _source.Synchronize();
        long released = 0;
        foreach (var ((_, cls), bin) in _cache)
        {
            while (bin.TryPop(out ulong address))
            {
                _source.Free(address);
                _reservedBlocks.Remove(address);
                _sourceFrees++;
                _reserved -= cls;
                released += cls;
            }
        }
        _cache.Clear();
        return released;
    }

    private AllocatorStats StatsLocked() => new(_inUse, _reserved, _peakInUse, _peakReserved, _requests, _hits, _sourceAllocs, _sourceFrees, _retries, _live);

    /// <summary>
    /// Gives every block back, cached or still handed out (buffers disposed later do nothing). Never throws:
    /// a source that fails to free during disposal is ignored, as in a SafeHandle release.
    /// </summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            try
            {
                _source.Synchronize();
            }
            catch (FastConvException)
            {
                // A failed device (sticky launch error) must not stop the memory going back.
            }
            foreach (ulong address in _reservedBlocks.Keys)
            {
                try
                {
                    _source.Free(address);
                    _sourceFrees++;
                }
                catch (FastConvException)
                {
                    // Disposal never throws; the context's teardown reclaims what the driver refused.
                }
            }
            _reservedBlocks.Clear();
            _cache.Clear();
            _reserved = _inUse = 0;
            _live = 0;
        }
    }
}

/// <summary>
/// A block from a <see cref="CachingAllocator"/>: device address, the bytes asked for, and the stream it
/// belongs to. Disposing returns it to the allocator's cache (once; later disposals do nothing).
/// </summary>
public sealed class DeviceBuffer : IDeviceBuffer
{
    private CachingAllocator? _owner;

    internal DeviceBuffer(CachingAllocator owner, ulong address, long bytes, long classBytes, nint stream)
    {
        _owner = owner;
        Address = address;
        Bytes = bytes;
        ClassBytes = classBytes;
        Stream = stream;
    }

    /// <summary>The device address (CUdeviceptr), or the host address for pinned memory.</summary>
    public ulong Address { get; }

    /// <summary>The bytes requested (the block may be larger: <see cref="ClassBytes"/>).</summary>
    public long Bytes { get; }

    /// <summary>The size class actually reserved.</summary>
    public long ClassBytes { get; }

    /// <summary>The stream whose work may use the block; it is reused on this stream after being freed.</summary>
    public nint Stream { get; }

    public bool IsDisposed => _owner is null;

    public void Dispose() => Interlocked.Exchange(ref _owner, null)?.Release(this);

    public override string ToString() => $"0x{Address:x} ({Bytes} B, class {ClassBytes} B, stream 0x{Stream:x})";
}

/// <summary>
/// Buffers a plan takes while it is being built: if planning fails part-way (out of memory on the third of
/// five buffers, a bad shape found late), <see cref="Dispose"/> returns everything taken so far; on success
/// the plan calls <see cref="Keep"/> and owns the buffers itself.
/// </summary>
public sealed class DeviceBufferScope(CachingAllocator allocator, nint stream = 0) : IDisposable
{
    private readonly List<DeviceBuffer> _taken = [];
    private bool _kept;

    public DeviceBuffer Allocate(long bytes)
    {
        DeviceBuffer b = allocator.Allocate(bytes, stream);
        _taken.Add(b);
        return b;
    }

    /// <summary>Planning succeeded: the buffers stay with the plan.</summary>
    public IReadOnlyList<DeviceBuffer> Keep()
    {
        _kept = true;
        return _taken;
    }

    public void Dispose()
    {
        if (_kept)
        {
            return;
        }
        foreach (DeviceBuffer b in _taken)
        {
            b.Dispose();
        }
        _taken.Clear();
    }
}
