using System.Runtime.CompilerServices;
using FastConv.Backends;

namespace FastConv.Cpu;

/// <summary>Registers the <c>reference</c> and <c>cpu</c> backends with <see cref="BackendRegistry"/>.</summary>
internal static class CpuBackendRegistration
{
    // Run when BackendRegistry loads this assembly (or when any of its code first runs): registration has to
    // happen without a caller, because the registry cannot reference this assembly.
#pragma warning disable CA2255
    [ModuleInitializer]
    internal static void Register()
    {
        BackendRegistry.Register(BackendNames.Reference, _ => new ReferenceBackend());
        BackendRegistry.Register(BackendNames.Cpu, o => new CpuBackend(new CpuBackendOptions
        {
            Threads = o.Threads ?? new CpuBackendOptions().Threads,
            Precision = o.Exact ? CpuPrecision.Exact : CpuPrecision.Fast,
        }));
    }
#pragma warning restore CA2255
}
