using FastConv.Backends;
using FastConv.Interop;
using FastConv.Ops;

namespace FastConv.Gpu.Backends;

/// <summary>
/// Opening the GPU for a backend, with the reason in words when it cannot be: no driver library, no device
/// (<c>cuInit</c>: CUDA_ERROR_NO_DEVICE), a missing cuBLAS or cuDNN (with every path tried).
/// </summary>
public static class GpuBackendFactory
{
    /// <summary>Runs <paramref name="create"/>, turning "no GPU here" exceptions into <see cref="BackendUnavailableException"/> with the reason.</summary>
    public static IBackend Create(string backend, Func<IBackend> create)
    {
        try
        {
            return create();
        }
        catch (BackendUnavailableException)
        {
            throw;
        }
        catch (NativeLibraryNotFoundException e)
        {
            throw new BackendUnavailableException(backend, $"{e.Library} library not found ({e.Tried.Count} paths tried: {string.Join(", ", e.Tried.Take(4))}{(e.Tried.Count > 4 ? ", …" : "")}); `fastconv info` lists them all", e);
        }
        catch (CudaException e)
        {
            throw new BackendUnavailableException(backend, Reason(e), e);
        }
    }

    /// <summary>The words for a driver failure at start-up, e.g. "no CUDA device (cuInit: CUDA_ERROR_NO_DEVICE)".</summary>
    public static string Reason(CudaException e) => e.Result switch
    {
        CuResult.NoDevice => $"no CUDA device ({e.Api}: CUDA_ERROR_NO_DEVICE)",
        CuResult.InvalidDevice => $"no such CUDA device ({e.Api}: CUDA_ERROR_INVALID_DEVICE)",
        CuResult.StubLibrary => $"the CUDA driver found is a stub, not a real driver ({e.Api}: CUDA_ERROR_STUB_LIBRARY)",
        _ => e.Message,
    };

    /// <summary>Throws <see cref="BackendUnavailableException"/> with the reason unless a CUDA device can be used.</summary>
    public static void RequireDevice(string backend)
    {
        // cuInit's NO_DEVICE is final for the process (the driver does not re-scan), and each failed cuInit costs
        // ~0.1 s: remember it, so a test suite or a service asking many times is not slowed down.
        if (Volatile.Read(ref s_noDevice) is { } known)
        {
            throw new BackendUnavailableException(backend, Reason(known), known);
        }
        try
        {
            NativeLibraries.Load(NativeLibraryKind.Cuda);
            CudaDriver.Init();
            if (CudaDriver.DeviceCount() == 0)
            {
                throw new BackendUnavailableException(backend, "no CUDA device (the driver reports 0 devices)");
            }
        }
        catch (NativeLibraryNotFoundException e)
        {
            throw new BackendUnavailableException(backend, $"the CUDA driver library (libcuda.so.1) was not found ({e.Tried.Count} paths tried); install the NVIDIA driver", e);
        }
        catch (CudaException e)
        {
            if (e.Result == CuResult.NoDevice)
            {
                Volatile.Write(ref s_noDevice, e);
            }
            throw new BackendUnavailableException(backend, Reason(e), e);
        }
    }

    private static CudaException? s_noDevice;

    /// <summary>The process's device 0 for a library backend, after checking its library loads (a missing one is named first).</summary>
    internal static GpuDevice OpenDevice(string backend)
    {
        // The library first: a machine without cuDNN should hear about cuDNN, with every path tried.
        NativeLibraries.Load(NativeLibraryKind.Cublas);
        if (backend == BackendNames.Cudnn)
        {
            NativeLibraries.Load(NativeLibraryKind.Cudnn);
        }
        RequireDevice(backend);
        return GpuDevice.Shared();
    }

    /// <summary>The pooling checks the reference makes (average pooling has no dilation).</summary>
    internal static Pool2dShape CheckPool(Pool2dShape s, bool max)
    {
        string op = max ? "MaxPool2d" : "AvgPool2d";
        s.Validate(op);
        if (!max && (s.Params.DilationH != 1 || s.Params.DilationW != 1))
        {
            throw new InvalidHyperparameterException($"{op}: dilation must be 1, got ({s.Params.DilationH},{s.Params.DilationW}); {s.Describe()}.");
        }
        return s;
    }
}
