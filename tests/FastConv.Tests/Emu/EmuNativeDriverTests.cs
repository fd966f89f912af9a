using System.Diagnostics;
using System.Text.RegularExpressions;

namespace FastConv.Tests.Emu;

/// <summary>
/// Runs the emulator's native test driver (native/emu/tests, built with AddressSanitizer by the managed build
/// into artifacts/native/emu/fcemu_test_asan; dotnet itself cannot load an ASan library) and checks its
/// verdicts: every kernel variant matches a host reference in forward, reverse and random thread order, and
/// every planted bug — missing barrier, off-by-one store, wrong mma fragment index, partial-warp shuffle, and
/// the others — is caught in every order while its fixed twin passes.
/// </summary>
[TestFixture]
[Category("Emu")]
public sealed partial class EmuNativeDriverTests
{
    private string output = "";
    private int exitCode;

    [OneTimeSetUp]
    public void RunDriver()
    {
        string driver = Path.Combine(RepoRoot(), "artifacts", "native", "emu", "fcemu_test_asan");
        Assert.That(File.Exists(driver), Is.True, $"{driver} is missing: the build of src/FastConv (native/emu/FastConv.Emu.targets) makes it.");
        var psi = new ProcessStartInfo(driver)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // LeakSanitizer needs ptrace, which some CI containers forbid; leaks are not what these tests are about.
        psi.Environment["ASAN_OPTIONS"] = "detect_leaks=0";
        using var p = Process.Start(psi)!;
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        output = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail("fcemu_test_asan did not finish within 5 minutes; output so far:\n" + output);
        }
        output += stderr.Result;
        exitCode = p.ExitCode;
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
        throw new DirectoryNotFoundException($"no repository root (with native/emu/build.sh) above {TestContext.CurrentContext.TestDirectory}");
    }

    [Test]
    public void DriverReportsNoFailure()
    {
        Assert.That(output, Does.Not.Contain("FAIL "), output);
        Assert.That(exitCode, Is.Zero, output);
        Assert.That(output, Does.Contain("OK: 0 failure(s)"), output);
    }

    [TestCase("conv2d_naive")]
    [TestCase("conv2d_v1_depthwise")]
    [TestCase("conv2d_v2_direct")]
    [TestCase("conv2d_v3_igemm_fp32")]
    [TestCase("conv2d_v4_igemm_tf32")]
    [TestCase("pool2d_naive")]
    [TestCase("pool2d_v1_tiled")]
    [TestCase("global_pool_naive")]
    [TestCase("global_pool_v1_warp")]
    [TestCase("activation_naive")]
    [TestCase("activation_v1_vec4")]
    [TestCase("softmax_naive")]
    [TestCase("softmax_v1_warp")]
    [TestCase("gemm_naive")]
    [TestCase("gemm_v1_tiled")]
    public void KernelVariantMatchesHostReferenceInEveryOrder(string kernel)
    {
        var lines = output.Split('\n').Where(l => l.Contains(kernel + " ", StringComparison.Ordinal)).ToList();
        Assert.That(lines, Is.Not.Empty, $"the driver ran no case of {kernel}:\n{output}");
        Assert.That(lines, Has.All.StartWith("PASS "), string.Join('\n', lines));
    }

    [TestCase("missing_barrier")]
    [TestCase("off_by_one_store")]
    [TestCase("mma_wrong_fragment")]
    [TestCase("partial_warp_shuffle")]
    [TestCase("shared_overflow")]
    [TestCase("shuffle_source_outside_mask")]
    [TestCase("shuffle_barrier_deadlock")]
    [TestCase("divergent_barrier")]
    [TestCase("cp_async_no_wait")]
    public void PlantedBugIsCaughtInEveryThreadOrder(string bug)
    {
        for (int order = 0; order < 3; order++)
        {
            Assert.That(output, Does.Match($@"(?m)^CAUGHT planted {bug} order {order}:"), $"planted bug {bug} not caught in order {order}:\n{output}");
        }
    }

    [TestCase("missing_barrier_fixed")]
    [TestCase("mma_fixed")]
    [TestCase("cp_async_fixed")]
    public void FixedTwinPasses(string kernel)
    {
        var verdicts = PlantedLine().Matches(output).Where(m => m.Groups[2].Value == kernel).Select(m => m.Groups[1].Value).ToList();
        Assert.That(verdicts, Has.Count.EqualTo(3).And.All.EqualTo("PASS"), output);
    }

    [GeneratedRegex(@"(?m)^(PASS|CAUGHT|FAIL) planted (\S+) order \d")]
    private static partial Regex PlantedLine();
}
