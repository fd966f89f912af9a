using FastConv.Gpu;

namespace FastConv.Tests.Gpu;

/// <summary>
/// The primary context is retained once per process and never released between backends: on a real driver a
/// release that brings its count to zero destroys the context, and the next backend of the same process would
/// get a new one while cuBLAS/cuDNN state still refers to the old. Modelled here with a fake driver that counts
/// retains and releases as libcuda does.
/// </summary>
public sealed class PrimaryContextTests
{
    private sealed class FakeContext(int generation)
    {
        public int Generation => generation;
        public bool Destroyed { get; set; }
    }

    /// <summary>cuDevicePrimaryCtxRetain/Release: the first retain creates the context, the release to zero destroys it.</summary>
    private sealed class FakeDriver
    {
        private int _refs, _generation;
        private FakeContext? _current;

        public FakeContext Retain(int ordinal)
        {
            Assert.That(ordinal, Is.Zero);
            if (_refs++ == 0)
            {
                _current = new FakeContext(++_generation);
            }
            return _current!;
        }

        public void Release()
        {
            if (--_refs == 0)
            {
                _current!.Destroyed = true;
            }
        }

        public int Refs => _refs;
    }

    [Test]
    public void ASecondBackendGetsTheSameLiveContext()
    {
        var driver = new FakeDriver();
        var registry = new PrimaryContextRegistry<FakeContext>(driver.Retain);
        FakeContext first = registry.Get(0);   // backend 1 (cuda) opens the device …
        // … and is disposed: CudaDriverGpu.Dispose no longer releases the context.
        FakeContext second = registry.Get(0);  // backend 2 (cudnn) in the same process
        Assert.Multiple(() =>
        {
            Assert.That(second, Is.SameAs(first));
            Assert.That(second.Destroyed, Is.False);
            Assert.That(registry.Retains, Is.EqualTo(1));
            Assert.That(driver.Refs, Is.EqualTo(1), "held for the process");
        });
    }

    [Test]
    public void ReleasingPerBackendWouldHaveDestroyedIt()
    {
        // What retain-per-backend, release-at-dispose did on the same driver: the first backend's dispose took the
        // count to zero, so the second backend ran in a new context while the first one's was gone.
        var driver = new FakeDriver();
        FakeContext first = driver.Retain(0);
        driver.Release();
        FakeContext second = driver.Retain(0);
        Assert.That(first.Destroyed, Is.True);
        Assert.That(second.Generation, Is.Not.EqualTo(first.Generation));
    }

    [Test]
    public void EachDeviceHasItsOwnContext()
    {
        int retains = 0;
        var registry = new PrimaryContextRegistry<object>(ordinal => new { Ordinal = ordinal, N = ++retains });
        object zero = registry.Get(0);
        Assert.That(registry.Get(0), Is.SameAs(zero));
        Assert.That(registry.Get(1), Is.Not.SameAs(zero));
        Assert.That(registry.Retains, Is.EqualTo(2));
    }
}
