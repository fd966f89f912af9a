using FastConv.Interop;

namespace FastConv.Tests.Core;

/// <summary>Library resolution without a GPU, for real: what is missing is reported with every path tried.</summary>
public sealed class NativeLibrariesTests
{
    [Test]
    public void SonamesAreVersionedNewestFirst()
    {
        Assert.Multiple(() =>
        {
            Assert.That(NativeLibraries.Sonames(NativeLibraryKind.Cuda), Is.EqualTo(new[] { "libcuda.so.1" }));
            Assert.That(NativeLibraries.Sonames(NativeLibraryKind.Nvrtc), Is.EqualTo(new[] { "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2" }));
            Assert.That(NativeLibraries.Sonames(NativeLibraryKind.Cublas), Is.EqualTo(new[] { "libcublas.so.13", "libcublas.so.12", "libcublas.so.11" }));
            Assert.That(NativeLibraries.Sonames(NativeLibraryKind.Cudnn), Is.EqualTo(new[] { "libcudnn.so.9", "libcudnn.so.8" }));
        });
    }

    [Test]
    public void MissingCudnnListsEveryPathTried()
    {
        var (path, _) = NativeLibraries.Probe(NativeLibraryKind.Cudnn);
        if (path is not null)
        {
            Assert.Ignore($"cuDNN is installed here ({path}); the missing-library path cannot be exercised.");
        }
        var ex = Assert.Throws<NativeLibraryNotFoundException>(() => NativeLibraries.Load(NativeLibraryKind.Cudnn));
        Assert.That(ex!.Message, Does.Contain("libcudnn.so.9").And.Contain("libcudnn.so.8").And.Contain(NativeLibraries.CudaPathVariable));
        Assert.That(ex.Tried, Has.Count.GreaterThanOrEqualTo(2));
        Assert.That(ex, Is.InstanceOf<FastConvException>());
    }

    [Test]
    public void GpuProbeNeverThrowsAndExplainsItself()
    {
        GpuStatus status = GpuProbe.Detect();
        if (status.Usable)
        {
            Assert.That(status.Devices[0].Architecture, Does.StartWith("sm_"));
        }
        else
        {
            Assert.That(status.Unusable, Is.Not.Null.And.Not.Empty);
        }
        Assert.That(GpuProbe.Libraries(), Has.Count.EqualTo(4));
    }
}
