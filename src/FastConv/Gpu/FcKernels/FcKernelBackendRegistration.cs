using System.Runtime.CompilerServices;
using FastConv.Backends;

namespace FastConv.Gpu.FcKernels;

/// <summary>Registers <c>cuda</c> (our kernels over libcuda) and <c>cuda-emu</c> (the same plans over the CUDA-on-CPU emulator).</summary>
internal static class FcKernelBackendRegistration
{
#pragma warning disable CA2255 // registration must happen without a caller: the registry looks backends up by name
    [ModuleInitializer]
    internal static void Register()
    {
        BackendRegistry.Register(BackendNames.CudaEmu, o => FcKernelBackend.CreateEmulated(new FcKernelOptions { Exact = o.Exact }));
        BackendRegistry.Register(BackendNames.Cuda, o => FcKernelBackend.CreateCuda(new FcKernelOptions { Exact = o.Exact }));
    }
#pragma warning restore CA2255
}
