using System.Collections.Concurrent;
using FastConv.Backends;
using FastConv.Tests.Backends;

namespace FastConv.Tests.Gpu;

/// <summary>
/// The library backends through the one conformance body. Without a GPU each case reports Ignored with the reason
/// the backend gave ("no CUDA device (cuInit: CUDA_ERROR_NO_DEVICE)", or cuDNN's missing-library listing); on a GPU
/// they run against the reference like every other backend. FP32 throughout (TF32 is off unless asked for).
/// </summary>
[TestFixture(BackendNames.Cublas)]
[TestFixture(BackendNames.Cudnn)]
public sealed class GpuBackendConformance(string name) : BackendConformanceTests
{
    // One attempt per backend per run: the reason does not change between test cases.
    private static readonly ConcurrentDictionary<string, string> s_unavailable = new();

    protected override IBackend CreateBackend()
    {
        if (s_unavailable.TryGetValue(name, out string? reason))
        {
            Assert.Ignore($"{name} cannot run here: {reason}");
        }
        try
        {
            return BackendRegistry.Create(name);
        }
        catch (BackendUnavailableException e)
        {
            s_unavailable[name] = e.Reason;
            Assert.Ignore($"{name} cannot run here: {e.Reason}");
            throw; // unreachable: Ignore throws
        }
    }
}
