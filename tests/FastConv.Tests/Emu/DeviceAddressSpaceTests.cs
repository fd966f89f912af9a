using System.Diagnostics;

namespace FastConv.Tests.Emu;

/// <summary>
/// The emulator's device memory is an address space the host cannot read by accident: native/emu/tests/protect_probe
/// (built with libfastconv_emu.so) checks that copies through the emulator reach it, that a host read of a device
/// pointer faults, and that a write past a device allocation's end faults. A managed bug that read device memory
/// directly would crash every cuda-emu test instead of passing with host-visible data.
/// </summary>
[Category("Emu")]
public sealed class DeviceAddressSpaceTests
{
    [Test]
    public void HostAccessToDeviceMemoryFaults()
    {
        string probe = Path.Combine(RepoRoot(), "artifacts", "native", "emu", "fcemu_protect_probe");
        Assert.That(File.Exists(probe), $"{probe} is missing: the build of src/FastConv.Gpu (native/emu/FastConv.Emu.targets) makes it.");
        using var p = Process.Start(new ProcessStartInfo(probe) { RedirectStandardOutput = true, UseShellExecute = false })!;
        string output = p.StandardOutput.ReadToEnd();
        Assert.That(p.WaitForExit(TimeSpan.FromMinutes(1)), "the probe did not finish");
        Assert.That(p.ExitCode, Is.Zero, output);
        Assert.That(output.Trim(), Is.EqualTo("ok"));
    }

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "native", "emu", "build.sh")))
            {
                return d.FullName;
            }
        }
        throw new DirectoryNotFoundException($"no repository root above {TestContext.CurrentContext.TestDirectory}");
    }
}
