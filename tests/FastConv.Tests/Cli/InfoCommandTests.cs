using System.Text.Json;
using FastConv.Cpu;
using Spectre.Console;
using Spectre.Console.Testing;

namespace FastConv.Tests.Cli;

public sealed class InfoCommandTests
{
    [Test]
    public void JsonReportNamesCpuSimdDotnetAndGpu()
    {
        var output = new StringWriter();
        int rc = FastConv.Cli.Cli.Run(["info", "--json"], null, output);
        Assert.That(rc, Is.Zero, output.ToString());
        using var doc = JsonDocument.Parse(output.ToString());
        var root = doc.RootElement;
        Assert.Multiple(() =>
        {
            Assert.That(root.GetProperty("cpu_model").GetString(), Is.Not.Empty);
            Assert.That(root.GetProperty("logical_cores").GetInt32(), Is.EqualTo(Environment.ProcessorCount));
            Assert.That(root.GetProperty("simd_level").GetString(), Is.EqualTo(CpuFeatures.Current.ToString()));
            Assert.That(root.GetProperty("simd_reason").GetString(), Does.Contain("FASTCONV_SIMD"));
            Assert.That(root.GetProperty("dotnet_version").GetString(), Does.Contain(".NET"));
            bool usable = root.GetProperty("gpu_usable").GetBoolean();
            Assert.That(usable ? root.GetProperty("gpu_devices").GetArrayLength() > 0 : root.GetProperty("gpu_problem").GetString()!.Length > 0);
            Assert.That(root.GetProperty("libraries").GetArrayLength(), Is.EqualTo(4));
        });
        // Apostrophes as written, not \u0027 (System.Text.Json's default encoder escapes them for HTML).
        Assert.That(output.ToString(), Does.Not.Contain("\\u0027").And.Contain("CPU's"));
    }

    [Test]
    public void TableReportRenders()
    {
        var console = new TestConsole { EmitAnsiSequences = false };
        console.Profile.Width = 160;
        int rc = FastConv.Cli.Cli.Run(["info"], console);
        Assert.That(rc, Is.Zero);
        Assert.That(console.Output, Does.Contain("SIMD level").And.Contain("GPU").And.Contain(".NET").And.Contain("cuDNN"));
    }

    [Test]
    public void HelpWorksOnEveryVerb()
    {
        var verbs = FastConv.Cli.Cli.BuildRoot(new TestConsole()).Subcommands.Select(c => c.Name).ToList();
        Assert.That(verbs, Does.Contain("info"));
        foreach (string[] args in verbs.Select(v => new[] { v, "--help" }).Append(["--help"]))
        {
            var output = new StringWriter();
            int rc = FastConv.Cli.Cli.Run(args, null, output);
            Assert.That(rc, Is.Zero, string.Join(" ", args));
            Assert.That(output.ToString(), Does.Contain("Usage"), string.Join(" ", args));
        }
    }

    [Test]
    [NonParallelizable]
    public void BadSimdSwitchIsOneClearLineAndNonZeroExit()
    {
        string? saved = Environment.GetEnvironmentVariable(CpuFeatures.EnvironmentVariable);
        Environment.SetEnvironmentVariable(CpuFeatures.EnvironmentVariable, "avx9000");
        try
        {
            var output = new StringWriter();
            int rc = FastConv.Cli.Cli.Run(["info"], new TestConsole(), output);
            Assert.That(rc, Is.Not.Zero);
            Assert.That(output.ToString().Trim(), Does.StartWith("fastconv: Unknown SIMD level 'avx9000'").And.Not.Contain(" at "));
            Assert.That(output.ToString().Trim().Split('\n'), Has.Length.EqualTo(1));
        }
        finally
        {
            Environment.SetEnvironmentVariable(CpuFeatures.EnvironmentVariable, saved);
        }
    }

    [Test]
    public void UnknownVerbFails()
    {
        var output = new StringWriter();
        Assert.That(FastConv.Cli.Cli.Run(["frobnicate"], null, output), Is.Not.Zero);
    }
}
