using System.Runtime.InteropServices;
using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Cpu.Threading;
using FastConv.Gpu.FcKernels;
using Spectre.Console.Testing;

namespace FastConv.Tests.Robustness;

/// <summary>
/// Environment variables are read only when their value is needed, and a value that cannot be used is a typed
/// <see cref="InvalidSettingException"/> naming the variable — never silently ignored (another emulator library,
/// another seed than the one asked for) and never fatal to a caller that did not need it.
/// </summary>
[Category("Hostile")]
[Description("InvalidSettingException naming the variable and the accepted values")]
[NonParallelizable] // sets environment variables for the process
public sealed class SettingTests
{
    public static IEnumerable<TestCaseData> BadThreads() =>
        new[] { "abc", "0", "-3", "1.5", "4 threads", "99999999999" }.Select(v => new TestCaseData(v).SetName($"FASTCONV_THREADS='{v}' refused when the default is needed"));

    [TestCaseSource(nameof(BadThreads))]
    public void ABadThreadCountIsATypedErrorWhenItIsNeeded(string value)
    {
        using var env = new EnvironmentVariable(WorkerPool.ThreadsVariable, value);
        var e = Assert.Throws<InvalidSettingException>(() => _ = new CpuBackendOptions().Threads);
        Assert.That(e!.Setting, Is.EqualTo(WorkerPool.ThreadsVariable));
        Assert.That(e.Message, Does.Contain(value));
        var output = new StringWriter();
        Assert.That(FastConv.Cli.Cli.Run(["run", "builtin:lenet5", "--backend", "cpu"], new TestConsole(), output), Is.Not.Zero);
        Assert.That(output.ToString().Trim(), Does.StartWith("fastconv: FASTCONV_THREADS="));
    }

    [Test]
    [Description("FASTCONV_THREADS=abc with --threads given (or Threads set): the variable is never read, the run works")]
    public void ABadThreadCountIsNotReadWhenACountIsGiven()
    {
        using var env = new EnvironmentVariable(WorkerPool.ThreadsVariable, "abc");
        Assert.That(new CpuBackendOptions { Threads = 2 }.Threads, Is.EqualTo(2));
        using (IBackend cpu = BackendRegistry.Create(BackendNames.Cpu, new BackendOptions { Threads = 1 }))
        {
            Assert.That(((CpuBackend)cpu).Context.Pool.Threads, Is.EqualTo(1));
        }
        var output = new StringWriter();
        int rc = FastConv.Cli.Cli.Run(["run", "builtin:lenet5", "--backend", "cpu", "--threads", "1"], new TestConsole(), output);
        Assert.That(rc, Is.Zero, output.ToString());
    }

    public static IEnumerable<TestCaseData> BadSeeds() =>
        new[] { "-1", "-42", "abc", "1e3", "18446744073709551616", "0x10" }.Select(v => new TestCaseData(v).SetName($"FASTCONV_EMU_SEED='{v}' refused"));

    [TestCaseSource(nameof(BadSeeds))]
    public void ABadEmulatorSeedIsATypedError(string value)
    {
        using var env = new EnvironmentVariable(EmuGpuDriver.SeedVariable, value);
        var e = Assert.Throws<InvalidSettingException>(() => new EmuGpuDriver().Dispose());
        Assert.That(e!.Setting, Is.EqualTo(EmuGpuDriver.SeedVariable));
        Assert.That(e.Message, Does.Contain(value));
    }

    [TestCase("0", 0UL)]
    [TestCase("18446744073709551615", ulong.MaxValue)]
    [TestCase("", 1UL)]
    [Category("Control")]
    public void AGoodEmulatorSeedIsUsed(string value, ulong seed)
    {
        using var env = new EnvironmentVariable(EmuGpuDriver.SeedVariable, value);
        using var driver = new EmuGpuDriver();
        Assert.That(driver.Seed, Is.EqualTo(seed));
    }

    public static IEnumerable<TestCaseData> BadLibraries()
    {
        yield return new TestCaseData("missing").SetName("FASTCONV_EMU_LIBRARY naming a missing file refused (no silent fallback)");
        yield return new TestCaseData("text").SetName("FASTCONV_EMU_LIBRARY naming a text file refused");
        yield return new TestCaseData("directory").SetName("FASTCONV_EMU_LIBRARY naming a directory refused");
        yield return new TestCaseData("other-library").SetName("FASTCONV_EMU_LIBRARY naming another shared library refused (missing exports)");
    }

    [TestCaseSource(nameof(BadLibraries))]
    public void ABadEmulatorLibraryIsATypedErrorNamingTheVariable(string kind)
    {
        using var files = new HostileFiles("fastconv-emu-");
        string path = kind switch
        {
            "missing" => files.Path("libnothing.so"),
            "text" => files.Write("libfake.so", "not an ELF file"u8.ToArray()),
            "directory" => Directory.CreateDirectory(files.Path("lib.so")).FullName,
            _ => Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), OperatingSystem.IsLinux() ? "libSystem.Native.so" : "System.Native.dll"),
        };
        using var env = new EnvironmentVariable(EmuNative.PathVariable, path);
        // Open is what EnsureLoaded calls on first use; calling it directly does not depend on whether an earlier
        // test of this process has loaded the emulator already.
        var e = Assert.Throws<InvalidSettingException>(() => EmuNative.Open());
        Assert.That(e!.Setting, Is.EqualTo(EmuNative.PathVariable));
        Assert.That(e.Message, Does.Contain(EmuNative.PathVariable).And.Contain(path));
    }

    [Test]
    [Description("FASTCONV_EMU_LIBRARY naming the real library: loaded")]
    [Category("Control")]
    public void TheRealEmulatorLibraryLoadsFromTheVariable()
    {
        string real = Path.Combine(AppContext.BaseDirectory, EmuNative.LibraryName);
        Assume.That(File.Exists(real), $"{real} is built by the managed build");
        using var env = new EnvironmentVariable(EmuNative.PathVariable, real);
        nint handle = EmuNative.Open();
        Assert.That(NativeLibrary.TryGetExport(handle, "fcemu_launch", out _), Is.True);
    }

    [TestCase("1048576", 1L << 20)]
    [TestCase("512K", 512L << 10)]
    [TestCase("64M", 64L << 20)]
    [TestCase("2G", 2L << 30)]
    [TestCase("2GiB", 2L << 30)]
    [TestCase("3gb", 3L << 30)]
    [TestCase(" 1T ", 1L << 40)]
    [Category("Control")]
    public void SizesParse(string text, long bytes)
    {
        Assert.That(ByteSize.TryParse(text, out long parsed), Is.True);
        Assert.That(parsed, Is.EqualTo(bytes));
    }

    [TestCase("")]
    [TestCase("-1")]
    [TestCase("1.5G")]
    [TestCase("2X")]
    [TestCase("G")]
    [TestCase("99999999999T")]
    [TestCase("1 G")]
    [Description("not a size: TryParse is false, so a size setting holding it throws InvalidSettingException")]
    public void NonSizesDoNotParse(string text) => Assert.That(ByteSize.TryParse(text, out _), Is.False);
}
