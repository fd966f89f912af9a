using System.Diagnostics;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;

namespace FastConv.Tests.Packaging;

/// <summary>
/// The samples, as the solution built them, run briefly: the image classifier learns and classifies the drawn shapes
/// with the trained ResNet-18; the web service's load test runs both engines on loopback for a second each and must see
/// no error and the same answers. About 30 s together on 2 cores.
/// </summary>
[NonParallelizable]
public sealed class SamplesTests
{
    [Test]
    public void ImageClassifierLearnsTheDrawnShapes()
    {
        string output = RunSample("ImageClassifier", "--backend", "cpu", "--threads", "1");
        Match m = Regex.Match(output, @"held-out synthetic images: (\d+)/(\d+) right");
        Assert.That(m.Success, Is.True, output);
        // Trained features separate circles, squares, triangles and stripes; untrained ones (or a broken pipeline) do not.
        Assert.That(int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), Is.GreaterThanOrEqualTo(28), output);
    }

    [Test]
    public void WebServiceLoadTestServesBothEnginesAlike()
    {
        string output = RunSample("WebService", "loadtest", "--seconds", "1", "--clients", "2");
        Assert.That(output, Does.Contain("outputs agree"), output);
        Assert.That(Regex.Matches(output, @"^(fastconv \(cpu\)|ort)\s+\d+\s+[\d.]+\s+[\d.]+\s+\d+\s+0$", RegexOptions.Multiline), Has.Count.EqualTo(2), output);
    }

    private static string RunSample(string name, params string[] args)
    {
        string configuration = typeof(SamplesTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
        string dll = Path.Combine(RepoRoot(), "samples", name, "bin", configuration, "net10.0", name + ".dll");
        Assert.That(File.Exists(dll), Is.True, $"{dll} is missing: the samples build with FastConv.sln");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetTempPath() };
        start.ArgumentList.Add(dll);
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }
        using Process process = Process.Start(start)!;
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{name} did not finish in 3 minutes:\n{output}");
        }
        process.WaitForExit();
        Assert.That(process.ExitCode, Is.Zero, $"{name} {string.Join(' ', args)}:\n{output}");
        return output.ToString();
    }

    private static string RepoRoot()
    {
        for (DirectoryInfo? d = new(TestContext.CurrentContext.TestDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "FastConv.sln")))
            {
                return d.FullName;
            }
        }
        throw new DirectoryNotFoundException($"no repository root (with FastConv.sln) above {TestContext.CurrentContext.TestDirectory}");
    }
}
