using FastConv.Gpu;

namespace FastConv.Tests.Gpu;

/// <summary>A device-memory source with a hard limit that records every block it hands out, so leaks and double frees show.</summary>
internal sealed class FakeDeviceMemory(long limitBytes) : IMemorySource
{
    private readonly Dictionary<ulong, long> _live = [];
    private ulong _next = 0x7f00_0000_0000;

    public long Limit { get; set; } = limitBytes;
    public long Outstanding { get; private set; }
    public int Allocations { get; private set; }
    public int Frees { get; private set; }
    public int Synchronizations { get; private set; }
    public int LiveBlocks => _live.Count;

    public ulong Allocate(long bytes)
    {
        if (Outstanding + bytes > Limit)
        {
            throw new OutOfDeviceMemoryException(bytes, $"fake device: {Outstanding} of {Limit} B in use");
        }
        ulong a = _next;
        _next += (ulong)((bytes + 255) / 256 * 256);
        _live.Add(a, bytes);
        Outstanding += bytes;
        Allocations++;
        return a;
    }

    public void Free(ulong address)
    {
        if (!_live.Remove(address, out long bytes))
        {
            throw new InvalidOperationException($"fake device: free of 0x{address:x}, which is not live (double free or foreign pointer)");
        }
        Outstanding -= bytes;
        Frees++;
    }

    public void Synchronize() => Synchronizations++;
}

public sealed class CachingAllocatorTests
{
    private const long MiB = 1L << 20;

    [TestCase(1, 512)]
    [TestCase(512, 512)]
    [TestCase(513, 1024)]
    [TestCase(1 << 20, 1 << 20)]
    [TestCase((1 << 20) + 1, 1310720)]          // 1.25 MiB
    [TestCase(3 * (1 << 20) + 5, 3670016)]      // 3.5 MiB
    [TestCase(1L << 32, 1L << 32)]
    public void SizeClassesRoundUpAtMostAQuarter(long bytes, long expected)
    {
        long cls = CachingAllocator.SizeClass(bytes);
        Assert.That(cls, Is.EqualTo(expected));
        Assert.That(cls, Is.GreaterThanOrEqualTo(bytes));
        if (bytes > 4096)
        {
            Assert.That((double)cls / bytes, Is.LessThanOrEqualTo(1.25 + 1e-9), $"waste for {bytes} B");
        }
    }

    [Test]
    public void EverySizeUpTo64MiBFallsInAClassThatHoldsIt()
    {
        var rng = new Random(5);
        for (int i = 0; i < 20000; i++)
        {
            long b = 1 + (long)(rng.NextDouble() * rng.NextDouble() * 64 * MiB);
            long c = CachingAllocator.SizeClass(b);
            Assert.That(c, Is.GreaterThanOrEqualTo(b).And.LessThanOrEqualTo(Math.Max(512, b * 5 / 4 + 512)), $"{b} B");
            Assert.That(c % 512, Is.Zero, $"{b} B");
        }
    }

    [Test]
    public void SteadyStateMakesNoSourceAllocation()
    {
        var fake = new FakeDeviceMemory(64 * MiB);
        using var alloc = new CachingAllocator(fake);
        long[] sizes = [4096, 3 * MiB, 100, 2 * MiB + 7, 4096];
        void OneInference()
        {
            var held = sizes.Select(s => alloc.Allocate(s)).ToList();
            foreach (var b in held)
                b.Dispose();
        }
        OneInference();
        int afterWarmup = fake.Allocations;
        for (int i = 0; i < 50; i++)
            OneInference();
        AllocatorStats st = alloc.Stats;
        Assert.Multiple(() =>
        {
            Assert.That(fake.Allocations, Is.EqualTo(afterWarmup), "no source allocation after warm-up");
            Assert.That(st.InUseBytes, Is.Zero);
            Assert.That(st.LiveBuffers, Is.Zero);
            Assert.That(st.ReservedBytes, Is.EqualTo(fake.Outstanding));
            Assert.That(st.CacheHits, Is.EqualTo(st.Requests - afterWarmup));
            Assert.That(st.PeakInUseBytes, Is.EqualTo(sizes.Sum(CachingAllocator.SizeClass)));
        });
    }

    [Test]
    public void BlocksAreReusedOnlyOnTheStreamTheyWereFreedOn()
    {
        var fake = new FakeDeviceMemory(64 * MiB);
        using var alloc = new CachingAllocator(fake);
        nint s1 = 0x1000, s2 = 0x2000;
        DeviceBuffer a = alloc.Allocate(MiB, s1);
        ulong addr = a.Address;
        a.Dispose();
        DeviceBuffer b = alloc.Allocate(MiB, s2);
        Assert.That(b.Address, Is.Not.EqualTo(addr), "a block freed on stream 1 must not go to stream 2 unsynchronized");
        DeviceBuffer c = alloc.Allocate(MiB, s1);
        Assert.That(c.Address, Is.EqualTo(addr), "same stream, same class: reused");
        Assert.That(fake.Allocations, Is.EqualTo(2));
        b.Dispose();
        c.Dispose();
    }

    [Test]
    public void StatsTrackInUseReservedAndPeaks()
    {
        var fake = new FakeDeviceMemory(64 * MiB);
        using var alloc = new CachingAllocator(fake);
        var a = alloc.Allocate(MiB);
        var b = alloc.Allocate(2 * MiB);
        Assert.That(alloc.Stats.InUseBytes, Is.EqualTo(3 * MiB));
        a.Dispose();
        Assert.That(alloc.Stats.InUseBytes, Is.EqualTo(2 * MiB));
        Assert.That(alloc.Stats.ReservedBytes, Is.EqualTo(3 * MiB));
        Assert.That(alloc.Stats.PeakInUseBytes, Is.EqualTo(3 * MiB));
        Assert.That(alloc.Stats.CachedBytes, Is.EqualTo(MiB));
        a.Dispose(); // a second dispose is a no-op
        Assert.That(alloc.Stats.InUseBytes, Is.EqualTo(2 * MiB));
        alloc.ResetPeaks();
        Assert.That(alloc.Stats.PeakInUseBytes, Is.EqualTo(2 * MiB));
        b.Dispose();
    }

    [Test]
    public void TrimGivesEveryCachedBlockBackAfterSynchronizing()
    {
        var fake = new FakeDeviceMemory(64 * MiB);
        using var alloc = new CachingAllocator(fake);
        var keep = alloc.Allocate(5 * MiB);
        foreach (var b in Enumerable.Range(1, 6).Select(i => alloc.Allocate(i * MiB, i % 2)).ToList())
            b.Dispose();
        int syncs = fake.Synchronizations;
        long released = alloc.Trim();
        Assert.Multiple(() =>
        {
            Assert.That(released, Is.EqualTo(Enumerable.Range(1, 6).Sum(i => CachingAllocator.SizeClass(i * MiB))));
            Assert.That(fake.Synchronizations, Is.EqualTo(syncs + 1));
            Assert.That(fake.Outstanding, Is.EqualTo(5 * MiB));
            Assert.That(alloc.Stats.ReservedBytes, Is.EqualTo(5 * MiB));
            Assert.That(alloc.Stats.CachedBytes, Is.Zero);
        });
        keep.Dispose();
        alloc.Trim();
        Assert.That(fake.LiveBlocks, Is.Zero);
    }

    [Test]
    public void OutOfMemoryTrimsOnceAndRetries()
    {
        var fake = new FakeDeviceMemory(10 * MiB);
        using var alloc = new CachingAllocator(fake);
        // 8 MiB cached on another stream: only a trim can make room for 6 MiB.
        alloc.Allocate(8 * MiB, 7).Dispose();
        using DeviceBuffer big = alloc.Allocate(6 * MiB);
        Assert.Multiple(() =>
        {
            Assert.That(alloc.Stats.OutOfMemoryRetries, Is.EqualTo(1));
            Assert.That(fake.Outstanding, Is.EqualTo(6 * MiB));
            Assert.That(alloc.Stats.ReservedBytes, Is.EqualTo(6 * MiB));
        });
    }

    [Test]
    public void OutOfMemoryAfterTheRetryIsTypedAndSaysWhatIsHeld()
    {
        var fake = new FakeDeviceMemory(10 * MiB);
        using var alloc = new CachingAllocator(fake, "device memory on FakeGPU");
        using var held = alloc.Allocate(8 * MiB);
        var e = Assert.Throws<OutOfDeviceMemoryException>(() => alloc.Allocate(3 * MiB));
        Assert.Multiple(() =>
        {
            Assert.That(e!.RequestedBytes, Is.EqualTo(3 * MiB));
            Assert.That(e.Message, Does.Contain("FakeGPU").And.Contain("in use 8.00 MiB").And.Contain("batch size"));
            Assert.That(e, Is.InstanceOf<FastConvException>());
            Assert.That(alloc.Stats.OutOfMemoryRetries, Is.EqualTo(1));
            Assert.That(fake.Outstanding, Is.EqualTo(8 * MiB), "the failed request leaves nothing behind");
            Assert.That(alloc.Stats.InUseBytes, Is.EqualTo(8 * MiB));
        });
        // Room comes back once the holder lets go.
        held.Dispose();
        using var after = alloc.Allocate(3 * MiB);
        Assert.That(after.Bytes, Is.EqualTo(3 * MiB));
    }

    /// <summary>A plan that takes five buffers and fails on the fourth (out of memory) leaks nothing, and the next plan fits.</summary>
    [Test]
    public void FailureInTheMiddleOfAPlanLeaksNothing()
    {
        var fake = new FakeDeviceMemory(16 * MiB);
        using var alloc = new CachingAllocator(fake);
        long[] planBuffers = [4 * MiB, 4 * MiB, 4 * MiB, 6 * MiB, MiB];
        Assert.Throws<OutOfDeviceMemoryException>(() => FakePlan(alloc, planBuffers));
        Assert.Multiple(() =>
        {
            Assert.That(alloc.Stats.InUseBytes, Is.Zero, "every buffer the failed plan took went back");
            Assert.That(alloc.Stats.LiveBuffers, Is.Zero);
        });
        alloc.Trim();
        Assert.That(fake.LiveBlocks, Is.Zero, "nothing left at the source after a trim");

        // A smaller plan then succeeds and its buffers are reused from the cache on the next one.
        var ok = FakePlan(alloc, [4 * MiB, 4 * MiB, 4 * MiB]);
        int allocs = fake.Allocations;
        foreach (var b in ok)
            b.Dispose();
        var again = FakePlan(alloc, [4 * MiB, 4 * MiB, 4 * MiB]);
        Assert.That(fake.Allocations, Is.EqualTo(allocs));
        foreach (var b in again)
            b.Dispose();
    }

    private static IReadOnlyList<DeviceBuffer> FakePlan(CachingAllocator alloc, long[] sizes)
    {
        using var scope = new DeviceBufferScope(alloc);
        foreach (long s in sizes)
            scope.Allocate(s);
        return scope.Keep();
    }

    [Test]
    public void DisposeGivesBackLiveAndCachedBlocksAndLaterFreesAreHarmless()
    {
        var fake = new FakeDeviceMemory(64 * MiB);
        var alloc = new CachingAllocator(fake);
        var live = alloc.Allocate(3 * MiB);
        alloc.Allocate(MiB).Dispose();
        alloc.Dispose();
        Assert.That(fake.LiveBlocks, Is.Zero);
        Assert.DoesNotThrow(live.Dispose);
        Assert.That(fake.Frees, Is.EqualTo(2), "no double free");
        Assert.Throws<ObjectDisposedException>(() => alloc.Allocate(1));
    }

    [Test]
    public void ManyThreadsAllocatingAndFreeingBalance()
    {
        var fake = new FakeDeviceMemory(1L << 40);
        using var alloc = new CachingAllocator(fake);
        Parallel.For(0, 4, t =>
        {
            var rng = new Random(t);
            var held = new List<DeviceBuffer>();
            for (int i = 0; i < 2000; i++)
            {
                if (held.Count > 0 && rng.Next(2) == 0)
                {
                    int j = rng.Next(held.Count);
                    held[j].Dispose();
                    held.RemoveAt(j);
                }
                else
                {
                    held.Add(alloc.Allocate(1 + rng.Next(1 << 22), t));
                }
            }
            foreach (var b in held)
                b.Dispose();
        });
        Assert.That(alloc.Stats.InUseBytes, Is.Zero);
        Assert.That(alloc.Stats.ReservedBytes, Is.EqualTo(fake.Outstanding));
        alloc.Trim();
        Assert.That(fake.LiveBlocks, Is.Zero);
    }

    [Test]
    public void ZeroOrNegativeRequestsAreRejected()
    {
        using var alloc = new CachingAllocator(new FakeDeviceMemory(MiB));
        Assert.Throws<ArgumentOutOfRangeException>(() => alloc.Allocate(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => alloc.Allocate(-5));
    }
}
