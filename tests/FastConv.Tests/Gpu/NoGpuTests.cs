using FastConv.Backends;
using FastConv.Gpu;
using FastConv.Gpu.Backends;
using FastConv.Interop;

namespace FastConv.Tests.Gpu;

/// <summary>
/// The GPU libraries on a machine without a GPU, for real: CI installs Debian's libcuda1 (the real driver library,
/// whose cuInit says CUDA_ERROR_NO_DEVICE), libnvrtc11.2 and libcublas11; cuDNN is not installable there.
/// On a machine with a GPU the no-device tests report Ignored (and the GPU tests run instead).
/// </summary>
[Category("Hostile")]
[Description("no GPU or no GPU library: a typed error (CudaException, BackendUnavailableException, NativeLibraryNotFoundException) with the reason and paths tried, or auto falling back to cpu and saying why")]
public sealed class NoGpuTests
{
    private static GpuStatus Gpu => GpuProbe.Detect();

    private static void RequireNoGpu()
    {
        if (Gpu.Usable)
            Assert.Ignore($"a GPU is usable here ({Gpu.Devices[0].Name}): the no-device path cannot be exercised.");
        if (Gpu.DriverLibrary is null)
            Assert.Ignore("libcuda.so.1 is not installed here (scripts/bootstrap.sh installs Debian's libcuda1).");
    }

    [Test]
    public void CuInitWithoutADeviceIsATypedCudaException()
    {
        RequireNoGpu();
        var e = Assert.Throws<CudaException>(() => CudaDriverGpu.Open());
        Assert.Multiple(() =>
        {
            Assert.That(e!.Result, Is.EqualTo(CuResult.NoDevice));
            Assert.That(e.Api, Is.EqualTo("cuInit"));
            // The driver's own name and string for the status.
            Assert.That(e.Message, Does.Contain("CUDA_ERROR_NO_DEVICE").And.Contain("no CUDA-capable device"));
            Assert.That(e, Is.InstanceOf<FastConvException>());
        });
    }

    [Test]
    public void DriverVersionIsReadableWithoutADevice()
    {
        RequireNoGpu();
        var (major, minor) = CudaDriver.DriverVersion();
        Assert.That(major, Is.GreaterThanOrEqualTo(11));
        Assert.That(minor, Is.InRange(0, 9));
    }

    [Test]
    public void AutoFallsBackToCpuWithTheNoDeviceReason()
    {
        RequireNoGpu();
        var (backend, skipped) = BackendRegistry.Resolve(BackendRegistry.Auto);
        using (backend)
        {
            Assert.That(backend.Name, Is.EqualTo(BackendNames.Cpu));
            Assert.That(skipped, Has.Count.EqualTo(1));
            Assert.That(skipped[0], Is.EqualTo("cuda: no CUDA device (cuInit: CUDA_ERROR_NO_DEVICE)"));
        }
    }

    [Test]
    public void CublasBackendWithoutADeviceIsUnavailableWithTheReason()
    {
        RequireNoGpu();
        if (NativeLibraries.Probe(NativeLibraryKind.Cublas).Path is null)
            Assert.Ignore("cuBLAS is not installed here.");
        var e = Assert.Throws<BackendUnavailableException>(() => BackendRegistry.Create(BackendNames.Cublas));
        Assert.That(e!.Backend, Is.EqualTo(BackendNames.Cublas));
        Assert.That(e.Reason, Is.EqualTo("no CUDA device (cuInit: CUDA_ERROR_NO_DEVICE)"));
        Assert.That(e.InnerException, Is.InstanceOf<CudaException>());
        // Constructing it directly gives the same typed reason.
        Assert.Throws<BackendUnavailableException>(() => new CublasBackend().Dispose());
    }

    [Test]
    public void CudnnBackendWithoutCudnnNamesTheLibraryAndThePathsTried()
    {
        if (NativeLibraries.Probe(NativeLibraryKind.Cudnn).Path is not null)
            Assert.Ignore("cuDNN is installed here: the missing-library path cannot be exercised.");
        var e = Assert.Throws<BackendUnavailableException>(() => BackendRegistry.Create(BackendNames.Cudnn));
        Assert.Multiple(() =>
        {
            Assert.That(e!.Backend, Is.EqualTo(BackendNames.Cudnn));
            Assert.That(e.Reason, Does.StartWith("Cudnn library not found").And.Contain("libcudnn.so.9").And.Contain("fastconv info"));
            Assert.That(e.InnerException, Is.InstanceOf<NativeLibraryNotFoundException>());
            var inner = (NativeLibraryNotFoundException)e.InnerException!;
            Assert.That(inner.Message, Does.Contain("libcudnn.so.9").And.Contain("libcudnn.so.8").And.Contain("system loader"));
        });
    }

    [Test]
    public void CudnnCallsWithoutCudnnGiveTheListingError()
    {
        if (NativeLibraries.Probe(NativeLibraryKind.Cudnn).Path is not null)
            Assert.Ignore("cuDNN is installed here: the missing-library path cannot be exercised.");
        var e = Assert.Throws<NativeLibraryNotFoundException>(() => Cudnn.Version());
        Assert.That(e!.Library, Is.EqualTo("Cudnn"));
        Assert.That(e.Tried, Has.Some.Contains("libcudnn.so.9"));
        Assert.That(e.Message, Does.Contain(NativeLibraries.CudaPathVariable));
    }

    [Test]
    public void DeviceRequirementNamesTheBackendAndTheReason()
    {
        RequireNoGpu();
        var e = Assert.Throws<BackendUnavailableException>(() => GpuBackendFactory.RequireDevice("cuda-x"));
        Assert.That(e!.Message, Is.EqualTo("backend 'cuda-x' is not available: no CUDA device (cuInit: CUDA_ERROR_NO_DEVICE)"));
    }
}

/// <summary>cuBLAS loads and answers without a GPU; creating a handle fails with its own status string.</summary>
public sealed class CublasLibraryTests
{
    [OneTimeSetUp]
    public void RequireCublas()
    {
        var (path, tried) = NativeLibraries.Probe(NativeLibraryKind.Cublas);
        if (path is null)
            Assert.Ignore($"cuBLAS is not installed here ({tried.Count} paths tried; scripts/bootstrap.sh installs libcublas11).");
    }

    [Test]
    public void ReportsItsVersion()
    {
        var (major, minor, patch) = Cublas.Version();
        Assert.That(major, Is.GreaterThanOrEqualTo(11));
        Assert.That(minor, Is.GreaterThanOrEqualTo(0));
        Assert.That(patch, Is.GreaterThanOrEqualTo(0));
        var info = GpuProbe.Libraries().Single(l => l.Kind == NativeLibraryKind.Cublas);
        Assert.That(info.Version, Is.EqualTo($"cuBLAS {major}.{minor}.{patch}"));
    }

    [TestCase(0, "CUBLAS_STATUS_SUCCESS")]
    [TestCase(1, "CUBLAS_STATUS_NOT_INITIALIZED")]
    [TestCase(3, "CUBLAS_STATUS_ALLOC_FAILED")]
    [TestCase(7, "CUBLAS_STATUS_INVALID_VALUE")]
    public void StatusNamesComeFromTheLibrary(int status, string name)
    {
        Assert.That(Cublas.StatusName(status), Is.EqualTo(name));
        Assert.That(Cublas.StatusString(status), Is.Not.Null.And.Not.Empty);
    }

    [Test]
    public void ThrowIfFailedCarriesTheApiAndTheLibrarysWords()
    {
        var e = Assert.Throws<CublasException>(() => Cublas.ThrowIfFailed(7, "cublasSgemm_v2(handle, ...)"));
        Assert.Multiple(() =>
        {
            Assert.That(e!.Api, Is.EqualTo("cublasSgemm_v2"));
            Assert.That(e.Status, Is.EqualTo(7));
            Assert.That(e.Message, Does.Contain("CUBLAS_STATUS_INVALID_VALUE").And.Contain(Cublas.StatusString(7)!));
        });
        Assert.DoesNotThrow(() => Cublas.ThrowIfFailed(0));
    }

    [Test]
    public void HandleCreationWithoutAGpuIsATypedError()
    {
        if (GpuProbe.Detect().Usable)
            Assert.Ignore("a GPU is usable here: cublasCreate succeeds.");
        var e = Assert.Throws<CublasException>(() => Cublas.Create().Dispose());
        Assert.That(e!.Api, Is.EqualTo("cublasCreate"));
        Assert.That(e.Message, Does.Contain("CUBLAS_STATUS_"));
    }
}

/// <summary>The driver's error strings through the one ThrowIfFailed, without a GPU.</summary>
public sealed class CudaErrorTests
{
    [TestCase(CuResult.OutOfMemory, "CUDA_ERROR_OUT_OF_MEMORY")]
    [TestCase(CuResult.IllegalAddress, "CUDA_ERROR_ILLEGAL_ADDRESS")]
    [TestCase(CuResult.NoBinaryForGpu, "CUDA_ERROR_NO_BINARY_FOR_GPU")]
    public void ThrowIfFailedUsesTheDriversNameAndString(CuResult result, string name)
    {
        if (GpuProbe.Detect().DriverLibrary is null)
            Assert.Ignore("libcuda.so.1 is not installed here.");
        var e = Assert.Throws<CudaException>(() => CudaDriver.ThrowIfFailed(result, "cuLaunchKernel(f, ...)"));
        Assert.That(e!.Api, Is.EqualTo("cuLaunchKernel"));
        Assert.That(e.Message, Does.StartWith($"cuLaunchKernel failed: {name} ({(int)result}): "));
    }
}

/// <summary><c>fastconv info --json</c> reports each backend and each CUDA library: found where and its version, or why not.</summary>
public sealed class InfoGpuTests
{
    [Test]
    public void InfoReportsLibrariesAndBackendsWithReasons()
    {
        var output = new StringWriter();
        int rc = FastConv.Cli.Cli.Run(["info", "--json"], null, output);
        Assert.That(rc, Is.Zero, output.ToString());
        using var doc = System.Text.Json.JsonDocument.Parse(output.ToString());
        var root = doc.RootElement;
        var backends = root.GetProperty("backends").EnumerateArray().ToDictionary(b => b.GetProperty("name").GetString()!);
        Assert.That(backends.Keys, Is.EquivalentTo(BackendNames.All));
        Assert.That(backends[BackendNames.Cpu].GetProperty("available").GetBoolean(), Is.True);
        foreach (string gpu in (string[])[BackendNames.Cublas, BackendNames.Cudnn])
        {
            var b = backends[gpu];
            if (!b.GetProperty("available").GetBoolean())
                Assert.That(b.GetProperty("reason").GetString(), Is.Not.Null.And.Not.Empty, gpu);
        }
        var libs = root.GetProperty("libraries").EnumerateArray().ToList();
        foreach (var lib in libs)
        {
            bool found = lib.GetProperty("path").ValueKind == System.Text.Json.JsonValueKind.String;
            if (found)
                Assert.That(lib.GetProperty("version").GetString(), Is.Not.Null.And.Not.Empty, lib.GetProperty("name").GetString());
            else
                Assert.That(lib.GetProperty("problem").GetString(), Does.Contain("not found"), lib.GetProperty("name").GetString());
        }
        if (NativeLibraries.Probe(NativeLibraryKind.Nvrtc).Path is not null)
            Assert.That(root.GetProperty("nvrtc_architectures").EnumerateArray().Select(a => a.GetString()), Does.Contain("sm_80").And.Contain("sm_90"));
        if (!GpuProbe.Detect().Usable && GpuProbe.Detect().DriverLibrary is not null)
            Assert.That(backends[BackendNames.Cublas].GetProperty("reason").GetString(), Is.EqualTo("no CUDA device (cuInit: CUDA_ERROR_NO_DEVICE)"));
    }
}
