namespace FastConv.Interop;

/// <summary>The GPU status as detected: the driver library, its version, the devices — or why none is usable.</summary>
public sealed record GpuStatus(string? DriverLibrary, (int Major, int Minor)? DriverVersion, IReadOnlyList<CudaDeviceInfo> Devices, string? Unusable)
{
    public bool Usable => Devices.Count > 0;
}

/// <summary>One native library as found (path and version) or not (why).</summary>
public sealed record LibraryStatus(NativeLibraryKind Kind, string? Path, string? Version, string? Problem);

/// <summary>Non-throwing probes for <c>fastconv info</c> and for automatic backend selection.</summary>
public static class GpuProbe
{
    /// <summary>Loads the driver, initializes it and lists devices; never throws.</summary>
    public static GpuStatus Detect()
    {
        var (path, tried) = NativeLibraries.Probe(NativeLibraryKind.Cuda);
        if (path is null)
        {
            return new GpuStatus(null, null, [], $"the CUDA driver library (libcuda.so.1) was not found ({tried.Count} paths tried; install the NVIDIA driver or set {NativeLibraries.CudaPathVariable})");
        }
        (int, int)? version = null;
        try
        {
            version = CudaDriver.DriverVersion();
            CudaDriver.Init();
            int count = CudaDriver.DeviceCount();
            if (count == 0)
            {
                return new GpuStatus(path, version, [], "the driver reports 0 devices");
            }
            var devices = Enumerable.Range(0, count).Select(CudaDriver.Device).ToList();
            return new GpuStatus(path, version, devices, null);
        }
        catch (CudaException e)
        {
            return new GpuStatus(path, version, [], e.Message);
        }
        catch (EntryPointNotFoundException e)
        {
            return new GpuStatus(path, version, [], $"{path} lacks a driver API entry point FastConv needs: {e.Message}");
        }
    }

    /// <summary>Each CUDA library FastConv can use: where it was found and its version, or why not.</summary>
    public static IReadOnlyList<LibraryStatus> Libraries()
    {
        var result = new List<LibraryStatus>();
        foreach (NativeLibraryKind kind in Enum.GetValues<NativeLibraryKind>())
        {
            var (path, tried) = NativeLibraries.Probe(kind);
            if (path is null)
            {
                result.Add(new LibraryStatus(kind, null, null, $"not found; tried {string.Join(", ", NativeLibraries.Sonames(kind))} in {tried.Count} places"));
                continue;
            }
            string? version = null, problem = null;
            try
            {
                version = LibraryVersions.Of(kind);
            }
            catch (EntryPointNotFoundException e)
            {
                problem = e.Message;
            }
            catch (FastConvException e)
            {
                problem = e.Message;
            }
            result.Add(new LibraryStatus(kind, path, version, problem));
        }
        return result;
    }
}
