using FastConv.Gpu;
using FastConv.Interop;

namespace FastConv.Tests.Gpu;

/// <summary>
/// NVRTC needs no GPU: CI installs Debian's libnvrtc11.2 and these compile every kernel for real. A machine
/// without NVRTC reports the tests Ignored with the listing of paths tried.
/// </summary>
public sealed class NvrtcTests
{
    /// <summary>Architectures every kernel must compile for: Ampere (A100) and Hopper (H100).</summary>
    public static readonly string[] Architectures = ["sm_80", "sm_90"];

    private const string SampleHeader = """
        #pragma once
        __device__ __forceinline__ float fc_sample_axpy(float a, float x, float y) { return a * x + y; }
        """;

    private const string SampleKernel = """
        #include "fc_sample.cuh"
        extern "C" __global__ void sample_axpy(const float* __restrict__ x, float* __restrict__ y, float a, int n)
        {
            int i = blockIdx.x * blockDim.x + threadIdx.x;
            if (i < n) y[i] = fc_sample_axpy(a, x[i], y[i]);
        }
        """;

    [OneTimeSetUp]
    public void RequireNvrtc()
    {
        var (path, tried) = NativeLibraries.Probe(NativeLibraryKind.Nvrtc);
        if (path is null)
        {
            Assert.Ignore($"NVRTC is not installed here (tried {tried.Count} paths; scripts/bootstrap.sh installs libnvrtc11.2).");
        }
    }

    [Test]
    public void ReportsItsVersionAndSupportsAmpereAndHopper()
    {
        var (major, minor) = Nvrtc.Version();
        Assert.That(major, Is.GreaterThanOrEqualTo(11));
        Assert.That(minor, Is.GreaterThanOrEqualTo(0));
        IReadOnlyList<int> archs = Nvrtc.SupportedArchitectures();
        Assert.That(archs, Does.Contain(80).And.Contain(90), $"NVRTC {major}.{minor} supports {string.Join(",", archs)}");
    }

    [TestCaseSource(nameof(Architectures))]
    public void SampleKernelWithAHeaderCompilesToACubinWithoutWarnings(string arch)
    {
        NvrtcOutput o = Nvrtc.Compile(SampleKernel, "sample.cu", [new("fc_sample.cuh", SampleHeader)],
            [.. KernelCompiler.CommonOptions, $"--gpu-architecture={arch}"], cubin: true);
        Assert.That(o.Log, Is.Empty, "no warnings");
        // A cubin is an ELF file whose symbol table holds the extern "C" name.
        Assert.That(o.Image.AsSpan(0, 4).ToArray(), Is.EqualTo(new byte[] { 0x7f, (byte)'E', (byte)'L', (byte)'F' }));
        Assert.That(System.Text.Encoding.ASCII.GetString(o.Image), Does.Contain("sample_axpy"));
    }

    [Test]
    public void PtxForAVirtualArchitectureIsNulTerminatedText()
    {
        NvrtcOutput o = Nvrtc.Compile(SampleKernel, "sample.cu", [new("fc_sample.cuh", SampleHeader)],
            ["--gpu-architecture=compute_80"], cubin: false);
        string ptx = System.Text.Encoding.ASCII.GetString(o.Image);
        Assert.That(o.Image[^1], Is.Zero, "cuModuleLoadData needs the NUL");
        Assert.That(ptx, Does.Contain(".target sm_80").And.Contain(".entry sample_axpy"));
    }

    /// <summary>Every .cu embedded in FastConv.Gpu (native/kernels, the library backends' support.cu included) compiles for sm_80 and sm_90 with an empty log.</summary>
    [TestCaseSource(nameof(EmbeddedSourcesByArchitecture))]
    public void EmbeddedKernelCompilesWithoutWarnings(string source, string arch)
    {
        string text = KernelSources.Text(source);
        NvrtcOutput o = Nvrtc.Compile(text, source, KernelSources.Headers, [.. KernelCompiler.CommonOptions, $"--gpu-architecture={arch}"], cubin: true);
        Assert.That(o.Log, Is.Empty, $"{source} for {arch}: warnings");
        Assert.That(o.Image, Has.Length.GreaterThan(0));
        foreach (string entry in ExternCKernels(text))
        {
            Assert.That(System.Text.Encoding.ASCII.GetString(o.Image), Does.Contain(entry), $"{source}: kernel {entry} missing from the cubin");
        }
    }

    public static IEnumerable<TestCaseData> EmbeddedSourcesByArchitecture()
        => KernelSources.Sources.SelectMany(s => Architectures.Select(a => new TestCaseData(s, a).SetName($"EmbeddedKernelCompiles({s},{a})")));

    [Test]
    public void TheSupportKernelsAreEmbedded()
    {
        Assert.That(KernelSources.Sources, Does.Contain("support.cu"));
        // Whatever native/kernels holds is embedded too: compare with the folder itself.
        string dir = Path.Combine(TestContext.CurrentContext.TestDirectory, "..", "..", "..", "..", "..", "native", "kernels");
        if (Directory.Exists(dir))
        {
            foreach (string f in Directory.GetFiles(dir).Where(f => f.EndsWith(".cu", StringComparison.Ordinal) || f.EndsWith(".cuh", StringComparison.Ordinal)))
            {
                Assert.That(KernelSources.All.Keys, Does.Contain(Path.GetFileName(f)));
            }
        }
    }

    [Test]
    public void OptionsAreOnesEveryNvrtcFrom11To13Accepts()
    {
        // NVRTC 13 (the GPU machine's) dropped pre-Turing targets and the oldest C++ dialects: no option may name them,
        // and the architecture is never a fixed list (TargetFor asks the NVRTC loaded).
        Assert.That(KernelCompiler.CommonOptions, Has.None.Match(@"arch|compute_|sm_|c\+\+(03|98|11|14)\b"));
        Assert.That(KernelCompiler.CommonOptions, Does.Contain("--std=c++17"));
        // The by-hand (and on-device) checker compiles with exactly these options.
        string script = File.ReadAllText(Path.Combine(TestContext.CurrentContext.TestDirectory, "..", "..", "..", "..", "..", "native", "emu", "tests", "nvrtc_check.py"));
        string listed = System.Text.RegularExpressions.Regex.Match(script, @"OPTIONS = \[(.*)\]").Groups[1].Value;
        Assert.That(listed.Split(',').Select(o => o.Trim().Trim('"')), Is.EqualTo(KernelCompiler.CommonOptions));
    }

    [Test]
    public void AWarningIsSeenInTheLog()
    {
        // The no-warning checks above are only meaningful if NVRTC's warnings reach the log.
        const string warns = "extern \"C\" __global__ void k(float* y) { int unused = 3; y[0] = 1.0f; }";
        NvrtcOutput o = Nvrtc.Compile(warns, "warns.cu", [], ["--gpu-architecture=sm_80"], cubin: true);
        Assert.That(o.Log, Does.Contain("unused").IgnoreCase);
    }

    [Test]
    public void ACompileErrorIsTypedAndCarriesTheLog()
    {
        var e = Assert.Throws<NvrtcException>(() => Nvrtc.Compile("extern \"C\" __global__ void k(float* y) { y[0] = undeclared; }", "broken.cu", [], ["--gpu-architecture=sm_80"], cubin: true));
        Assert.Multiple(() =>
        {
            Assert.That(e!.Api, Is.EqualTo("nvrtcCompileProgram"));
            Assert.That(e.Message, Does.Contain("NVRTC_ERROR_COMPILATION").And.Contain("undeclared").And.Contain("broken.cu"));
            Assert.That(e, Is.InstanceOf<FastConvException>());
        });
    }

    [Test]
    public void TargetIsACubinForAKnownArchitectureAndPtxForANewerOne()
    {
        Assert.That(KernelCompiler.TargetFor(9, 0), Is.EqualTo(("--gpu-architecture=sm_90", true, "sm_90")));
        var (option, cubin, target) = KernelCompiler.TargetFor(12, 0); // a GPU newer than this NVRTC
        Assert.That(cubin, Is.False);
        Assert.That(option, Does.StartWith("--gpu-architecture=compute_"));
        Assert.That(target, Does.StartWith("compute_"));
    }

    [Test]
    public void TheDiskCacheServesTheSecondCompileAndItsKeyCoversWhatMatters()
    {
        string dir = Path.Combine(Path.GetTempPath(), "fastconv-kernel-cache-" + Guid.NewGuid().ToString("N"));
        string? before = Environment.GetEnvironmentVariable(KernelCompiler.CacheVariable);
        Environment.SetEnvironmentVariable(KernelCompiler.CacheVariable, dir);
        try
        {
            CompiledKernel first = KernelCompiler.Compile("support.cu", 8, 0);
            CompiledKernel second = KernelCompiler.Compile("support.cu", 8, 0);
            CompiledKernel other = KernelCompiler.Compile("support.cu", 9, 0);
            Assert.Multiple(() =>
            {
                Assert.That(first.FromDiskCache, Is.False);
                Assert.That(first.CachePath, Does.StartWith(dir).And.Contain("sm_80"));
                Assert.That(second.FromDiskCache, Is.True);
                Assert.That(second.Image.Bytes, Is.EqualTo(first.Image.Bytes));
                Assert.That(other.FromDiskCache, Is.False, "another architecture is another key");
                Assert.That(other.Target, Is.EqualTo("sm_90"));
            });
            string k = KernelCompiler.CacheKey("src", [new("h.cuh", "a")], "sm_80", "11.8", ["-x"]);
            Assert.That(KernelCompiler.CacheKey("src", [new("h.cuh", "b")], "sm_80", "11.8", ["-x"]), Is.Not.EqualTo(k), "header text");
            Assert.That(KernelCompiler.CacheKey("src", [new("h.cuh", "a")], "sm_80", "12.4", ["-x"]), Is.Not.EqualTo(k), "NVRTC version");
            Assert.That(KernelCompiler.CacheKey("src2", [new("h.cuh", "a")], "sm_80", "11.8", ["-x"]), Is.Not.EqualTo(k), "source");
            Assert.That(KernelCompiler.CacheKey("src", [new("h.cuh", "a")], "sm_80", "11.8", ["-x"]), Is.EqualTo(k), "deterministic");
        }
        finally
        {
            Environment.SetEnvironmentVariable(KernelCompiler.CacheVariable, before);
            if (Directory.Exists(dir))
                Directory.Delete(dir, recursive: true);
        }
    }

    private static IEnumerable<string> ExternCKernels(string text)
        => System.Text.RegularExpressions.Regex.Matches(text, @"extern\s+""C""\s+__global__\s+(?:__launch_bounds__\([^)]*\)\s+)?void\s+(\w+)")
            .Select(m => m.Groups[1].Value);
}
