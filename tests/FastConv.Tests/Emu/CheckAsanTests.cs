using System.Diagnostics;
using Spectre.Console.Testing;

namespace FastConv.Tests.Emu;

/// <summary>
/// <c>fastconv check --asan</c>: the edges set on cuda-emu with the kernels built with AddressSanitizer passes clean,
/// and the same check over a copy of the kernels with a planted off-by-one read (activation_naive reading x[i + 1])
/// stops with ASan's heap-buffer-overflow report naming the kernel — possible because the emulator allocates device
/// memory at exact sizes, so a read past a tensor lands in a redzone.
/// </summary>
[Category("Emu")]
[NonParallelizable]
public sealed class CheckAsanTests
{
    [Test]
    public void TheEdgesSetIsCleanUnderAddressSanitizer()
    {
        var output = new StringWriter();
        int rc = FastConv.Cli.Cli.Run(["check", "--backend", "cuda-emu", "--set", "edges", "--asan"], new TestConsole(), output);
        string text = output.ToString();
        Assert.That(rc, Is.Zero, text[^Math.Min(text.Length, 3000)..]);
        Assert.That(text, Does.Contain("check --asan: kernels from").And.Contain("libfastconv_emu_asan.so").And.Contain("cases, 0 mismatches"));
    }

    [Test]
    public void APlantedOutOfBoundsReadIsStoppedWithTheReport()
    {
        string root = RepoRoot(), objects = Path.Combine(root, "artifacts", "native", "emu", "obj-asan");
        string dir = Directory.CreateTempSubdirectory("fastconv-asan-").FullName;
        try
        {
            string source = File.ReadAllText(Path.Combine(root, "native", "kernels", "activation.cu"));
            const string Good = "a.y[i] = fc_activate(a.x[i], a.act, a.alpha, a.beta);";
            Assert.That(source, Does.Contain(Good), "activation_naive changed: update the planted bug");
            string bad = Path.Combine(dir, "activation_bad.cu");
            File.WriteAllText(bad, source.Replace(Good, "a.y[i] = fc_activate(a.x[i + 1], a.act, a.alpha, a.beta);", StringComparison.Ordinal));
            string emu = Path.Combine(root, "native", "emu"), kernels = Path.Combine(root, "native", "kernels");
            Sh($"g++ -std=c++17 -fPIC -O1 -g -fsanitize=address -fno-omit-frame-pointer -I'{emu}' -I'{kernels}' -fno-strict-aliasing " +
               $"-x c++ -include '{emu}/fcemu_device.h' -c '{bad}' -o '{dir}/activation_bad.o'");
            string others = string.Join(' ', Directory.GetFiles(objects, "*.o")
                .Where(o => !Path.GetFileName(o).StartsWith("activation.cu", StringComparison.Ordinal) && !o.EndsWith("planted.cu.o", StringComparison.Ordinal)
                    && !o.EndsWith("emu_test_driver.cpp.o", StringComparison.Ordinal))
                .Select(o => $"'{o}'"));
            Sh($"g++ -shared -fsanitize=address -o '{dir}/libbad.so' '{dir}/activation_bad.o' {others} -lpthread");

            var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string a in (string[])[typeof(FastConv.Cli.Cli).Assembly.Location, "check", "--backend", "cuda-emu", "--set", "edges"])
            {
                psi.ArgumentList.Add(a);
            }
            psi.Environment["LD_PRELOAD"] = Sh("g++ -print-file-name=libasan.so").Trim();
            psi.Environment["FASTCONV_EMU_LIBRARY"] = Path.Combine(dir, "libbad.so");
            psi.Environment["ASAN_OPTIONS"] = "detect_leaks=0:handle_segv=0:allow_user_segv_handler=1:detect_odr_violation=0:abort_on_error=1";
            using var p = Process.Start(psi)!;
            Task<string> err = p.StandardError.ReadToEndAsync();
            string output = p.StandardOutput.ReadToEnd();
            Assert.That(p.WaitForExit(TimeSpan.FromMinutes(5)), "the check did not finish");
            string all = output + err.Result;
            Assert.That(p.ExitCode, Is.Not.Zero);
            Assert.That(all, Does.Contain("AddressSanitizer: heap-buffer-overflow").And.Contain("activation_naive"), all[^Math.Min(all.Length, 3000)..]);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string Sh(string command)
    {
        var psi = new ProcessStartInfo("bash") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(command);
        using var p = Process.Start(psi)!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.That(p.ExitCode, Is.Zero, $"{command}\n{err.Result}");
        return output;
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
