using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FastConv.Cpu;

/// <summary>The widest vector instructions the CPU kernels may use, lowest first.</summary>
public enum SimdLevel
{
    /// <summary>Plain scalar loops; always works.</summary>
    Scalar = 0,
    /// <summary>128-bit vectors (SSE4/NEON class).</summary>
    Vector128 = 1,
    /// <summary>256-bit vectors with FMA (AVX2 + FMA3).</summary>
    Avx2 = 2,
    /// <summary>512-bit vectors (AVX-512F).</summary>
    Avx512 = 3,
}

/// <summary>
/// Chooses the SIMD level once, from the CPU's features, the way MLAS does: start from what the
/// hardware (and the JIT) accelerates, then let a switch force a lower level so every level can be
/// tested on one machine. The switch is the environment variable <c>FASTCONV_SIMD</c>
/// (<c>scalar</c>, <c>vector128</c>, <c>avx2</c>, <c>avx512</c>) or <see cref="Force"/>.
/// </summary>
public static class CpuFeatures
{
    public const string EnvironmentVariable = "FASTCONV_SIMD";

    private static SimdLevel? _forced;

    /// <summary>The best level this CPU and runtime accelerate, ignoring any forcing.</summary>
    public static SimdLevel Detected { get; } = Detect();

    /// <summary>The level the kernels use: the forced one (API first, then environment) or <see cref="Detected"/>.</summary>
    public static SimdLevel Current
    {
        get
        {
            SimdLevel? requested = _forced ?? FromEnvironment();
            return requested is { } r && r < Detected ? r : Detected;
        }
    }

    /// <summary>Why <see cref="Current"/> is what it is, for <c>fastconv info</c>.</summary>
    public static string Explain()
    {
        if (_forced is { } f)
        {
            return f < Detected ? $"forced to {f} by CpuFeatures.Force" : $"CpuFeatures.Force({f}) is not below the detected {Detected}; using {Detected}";
        }
        string? env = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(env))
        {
            SimdLevel e = Parse(env);
            return e < Detected ? $"forced to {e} by {EnvironmentVariable}={env}" : $"{EnvironmentVariable}={env} is not below the detected {Detected}; using {Detected}";
        }
        return $"detected from the CPU's features; set {EnvironmentVariable}=scalar|vector128|avx2 to force a lower level";
    }

    /// <summary>Forces a level (only lower levels take effect); <c>null</c> restores detection.</summary>
    public static void Force(SimdLevel? level) => _forced = level;

    /// <summary>Parses a level name as accepted by <c>FASTCONV_SIMD</c>; throws naming the valid values.</summary>
    public static SimdLevel Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "scalar" => SimdLevel.Scalar,
        "vector128" or "sse" or "neon" => SimdLevel.Vector128,
        "avx2" or "vector256" => SimdLevel.Avx2,
        "avx512" or "vector512" => SimdLevel.Avx512,
        _ => throw new InvalidHyperparameterException($"Unknown SIMD level '{name}'; use one of scalar, vector128, avx2, avx512 (in {EnvironmentVariable} or CpuFeatures.Force)."),
    };

    private static SimdLevel? FromEnvironment()
    {
        string? env = Environment.GetEnvironmentVariable(EnvironmentVariable);
        return string.IsNullOrEmpty(env) ? null : Parse(env);
    }

    private static SimdLevel Detect()
    {
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
        {
            return SimdLevel.Avx512;
        }
        if (Vector256.IsHardwareAccelerated && Avx2.IsSupported && Fma.IsSupported)
        {
            return SimdLevel.Avx2;
        }
        return Vector128.IsHardwareAccelerated ? SimdLevel.Vector128 : SimdLevel.Scalar;
    }

    /// <summary>The CPU's brand string (CPUID on x86, /proc/cpuinfo otherwise), or the architecture.</summary>
    public static string CpuModel()
    {
        if (X86Base.IsSupported)
        {
            (int maxExt, _, _, _) = X86Base.CpuId(unchecked((int)0x80000000), 0);
            if ((uint)maxExt >= 0x80000004)
            {
                Span<int> regs = stackalloc int[12];
                for (int i = 0; i < 3; i++)
                {
                    (regs[i * 4], regs[i * 4 + 1], regs[i * 4 + 2], regs[i * 4 + 3]) = X86Base.CpuId(unchecked((int)0x80000002) + i, 0);
                }
                string brand = System.Text.Encoding.ASCII.GetString(System.Runtime.InteropServices.MemoryMarshal.AsBytes(regs)).TrimEnd('\0').Trim();
                if (brand.Length > 0)
                {
                    return brand;
                }
            }
        }
        try
        {
            foreach (string line in File.ReadLines("/proc/cpuinfo"))
            {
                if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':', StringComparison.Ordinal) is int colon and > 0)
                {
                    return line[(colon + 1)..].Trim();
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();
    }

    /// <summary>The x86 feature flags relevant to FastConv that this CPU reports.</summary>
    public static IReadOnlyList<string> FeatureFlags()
    {
        var flags = new List<string>();
        void Add(bool supported, string name)
        {
            if (supported)
            {
                flags.Add(name);
            }
        }
        Add(Sse41.IsSupported, "sse4.1");
        Add(Avx.IsSupported, "avx");
        Add(Avx2.IsSupported, "avx2");
        Add(Fma.IsSupported, "fma");
        Add(Avx512F.IsSupported, "avx512f");
        Add(Avx512BW.IsSupported, "avx512bw");
        Add(Avx512DQ.IsSupported, "avx512dq");
        Add(Avx512Vbmi.IsSupported, "avx512vbmi");
        Add(Avx10v1.IsSupported, "avx10.1");
        Add(System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported, "neon");
        return flags;
    }
}
