using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using FastConv.Backends;
using FastConv.Sessions;
using FastConv.Tests.Support;

namespace FastConv.Tests.Packaging;

/// <summary>
/// What a newcomer does with the packages: pack the libraries into artifacts/packages, create a fresh console app
/// (<c>dotnet new console</c>, outside this repository so none of its build settings apply), add the <c>FastConv</c>
/// package from that folder, paste the README's library example (the first <c>csharp</c> block of "Use it as a
/// library") as Program.cs, build it and run it — on the default backend and on <c>cuda-emu</c>, whose emulator comes
/// from FastConv.Gpu's runtimes/linux-x64/native asset — and check what it prints against the same model run here.
/// Restore is offline: the packages folder and this machine's package cache (used as a feed) are the only sources,
/// and the app restores into a package folder of its own, so a stale cached FastConv of the same version cannot be picked.
/// About a minute on 2 cores; FASTCONV_SKIP_PACKAGE_TEST=1 skips it.
/// </summary>
[NonParallelizable]
public sealed class NewcomerPackageTests
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(5);
    private string _dir = "";

    [SetUp]
    public void CreateFolder()
    {
        if (Environment.GetEnvironmentVariable("FASTCONV_SKIP_PACKAGE_TEST") == "1")
        {
            Assert.Ignore("FASTCONV_SKIP_PACKAGE_TEST=1");
        }
        _dir = Directory.CreateTempSubdirectory("fastconv-newcomer-").FullName;
    }

    [TearDown]
    public void DeleteFolder()
    {
        if (_dir.Length > 0 && Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Test]
    public void PackagesCarryTheirMetadataAndTheEmulator()
    {
        string version = Pack();
        string packages = PackagesFolder();
        foreach (string id in LibraryIds)
        {
            string nupkg = Path.Combine(packages, $"{id}.{version}.nupkg");
            Assert.That(File.Exists(nupkg), Is.True, $"{nupkg} was not written");
            using ZipArchive zip = ZipFile.OpenRead(nupkg);
            XNamespace ns = XDocument.Load(zip.GetEntry($"{id}.nuspec")!.Open()).Root!.Name.Namespace;
            XElement meta = XDocument.Load(zip.GetEntry($"{id}.nuspec")!.Open()).Root!.Element(ns + "metadata")!;
            Assert.Multiple(() =>
            {
                Assert.That(meta.Element(ns + "description")?.Value, Is.Not.Empty.And.Not.EqualTo("Package Description"), id);
                Assert.That(meta.Element(ns + "license")?.Value, Is.EqualTo("MIT"), id);
                Assert.That(meta.Element(ns + "readme")?.Value, Is.EqualTo("README.md"), id);
                Assert.That(zip.GetEntry("README.md"), Is.Not.Null, id);
                Assert.That(meta.Element(ns + "tags")?.Value, Does.Contain("onnx"), id);
                // SourceLink: the commit always (the URL only with a hosted remote, which this checkout may lack).
                Assert.That(meta.Element(ns + "repository")?.Attribute("commit")?.Value, Does.Match("^[0-9a-f]{40}$"), id);
            });
            if (id != "FastConv")
            {
                Assert.That(File.Exists(Path.ChangeExtension(nupkg, ".snupkg")), Is.True, $"{id}: no symbol package");
            }
        }
        using (ZipArchive gpu = ZipFile.OpenRead(Path.Combine(packages, $"FastConv.Gpu.{version}.nupkg")))
        {
            Assert.That(gpu.GetEntry("runtimes/linux-x64/native/libfastconv_emu.so"), Is.Not.Null, "the emulator is FastConv.Gpu's native asset");
        }
        using (ZipArchive meta = ZipFile.OpenRead(Path.Combine(packages, $"FastConv.{version}.nupkg")))
        {
            XDocument nuspec = XDocument.Load(meta.GetEntry("FastConv.nuspec")!.Open());
            string[] deps = [.. nuspec.Descendants().Where(e => e.Name.LocalName == "dependency").Select(e => e.Attribute("id")!.Value).Order()];
            Assert.That(deps, Is.EqualTo(new[] { "FastConv.Core", "FastConv.Cpu", "FastConv.Engine", "FastConv.Gpu", "FastConv.Interop" }));
        }
    }

    [Test]
    public void AFreshConsoleAppRunsTheReadmeExampleFromThePackages()
    {
        string version = Pack();
        string app = Path.Combine(_dir, "app");
        Dotnet(_dir, "new", "console", "--output", app, "--name", "NewcomerApp", "--no-restore");
        // The machine's package cache as an offline feed beside the freshly packed folder, and nothing else.
        string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p ? p
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="fastconv" value="{PackagesFolder()}" />
                <add key="machine" value="{cache}" />
              </packageSources>
            </configuration>
            """);
        Dotnet(app, "add", "package", "FastConv", "--version", version);
        File.WriteAllText(Path.Combine(app, "Program.cs"), ReadmeLibraryExample());
        Dotnet(app, "build", "-c", "Release", "--nologo");

        string dll = Path.Combine(app, "bin", "Release", "net10.0", "NewcomerApp.dll");
        Assert.That(File.Exists(Path.Combine(app, "bin", "Release", "net10.0", "runtimes", "linux-x64", "native", "libfastconv_emu.so")), Is.True,
            "the emulator library reached the app's output from FastConv.Gpu's native asset");

        string plain = Dotnet(app, dll);
        CheckAgainstThisProcess(plain, "builtin:mnist", 1e-5);
        string emulated = Dotnet(app, dll, "builtin:lenet5", "cuda-emu");
        Assert.That(emulated, Does.Contain("on cuda-emu"), emulated);
        // The emulator sums in another order than the cpu backend: float32 rounding, far below any wrong index.
        CheckAgainstThisProcess(emulated, "builtin:lenet5", 1e-3);
    }

    /// <summary>
    /// Each output line the example prints (<c>NAME [SHAPE]: argmax K; v0 v1 …</c>) against the same model run in this
    /// process on the cpu backend, with the example's input (a ramp i % 256 / 256).
    /// </summary>
    private static void CheckAgainstThisProcess(string printed, string model, double tolerance)
    {
        using FastConvSession session = FastConvSession.Load(model, new FastConvSessionOptions { Backend = BackendNames.Cpu });
        TensorShape shape = session.Inputs[0].Shape;
        float[] data = new float[shape.ElementCount];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = i % 256 / 256f;
        }
        IReadOnlyDictionary<string, Tensor> expected = session.Run(new Dictionary<string, Tensor> { [session.Inputs[0].Name] = Tensor.Wrap(data, shape) });
        var lines = Regex.Matches(printed, @"^(\S+) (\[[0-9,]+\]): argmax (\d+); (.+)$", RegexOptions.Multiline);
        Assert.That(lines, Has.Count.EqualTo(expected.Count), $"one line per output in:\n{printed}");
        foreach (Match line in lines)
        {
            Tensor y = expected[line.Groups[1].Value];
            float[] values = y.ToArray();
            double[] shown = [.. line.Groups[4].Value.Trim().Split(' ').Select(v => double.Parse(v, CultureInfo.InvariantCulture))];
            Assert.Multiple(() =>
            {
                Assert.That(line.Groups[2].Value, Is.EqualTo(y.Shape.ToString()));
                Assert.That(int.Parse(line.Groups[3].Value, CultureInfo.InvariantCulture), Is.EqualTo(Array.IndexOf(values, values.Max())), printed);
                Assert.That(shown, Has.Length.EqualTo(Math.Min(10, values.Length)));
                for (int i = 0; i < shown.Length; i++)
                {
                    Assert.That(shown[i], Is.EqualTo(values[i]).Within(tolerance * (1 + Math.Abs(values[i]))), $"{line.Groups[1].Value}[{i}]");
                }
            });
        }
    }

    /// <summary>The first <c>csharp</c> block under the README's "Use it as a library" heading.</summary>
    internal static string ReadmeLibraryExample()
    {
        string readme = File.ReadAllText(Path.Combine(Repository.Root, "README.md"));
        int section = readme.IndexOf("\n## Use it as a library", StringComparison.Ordinal);
        Assert.That(section, Is.GreaterThan(0), "README.md has no '## Use it as a library' section");
        int next = readme.IndexOf("\n## ", section + 1, StringComparison.Ordinal);
        string body = next > 0 ? readme[section..next] : readme[section..];
        Match block = Regex.Match(body, @"```csharp\n(.*?)\n```", RegexOptions.Singleline);
        Assert.That(block.Success, Is.True, "the section has no ```csharp block");
        return block.Groups[1].Value + "\n";
    }

    /// <summary>Packs the libraries (already built in this configuration) into artifacts/packages; returns their version.</summary>
    private static string Pack()
    {
        string configuration = typeof(NewcomerPackageTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
        // Pack skips a package whose file is newer than its inputs: the libraries' old packages go first, so what is
        // checked is what this pack wrote (and the one FastConv.VERSION.nupkg left names the version).
        var folder = new DirectoryInfo(PackagesFolder());
        if (folder.Exists)
        {
            foreach (FileInfo old in folder.GetFiles("FastConv.*").Where(f => LibraryIds.Any(id => IsPackageOf(f.Name, id))))
            {
                old.Delete();
            }
        }
        Dotnet(Repository.Root, "pack", "FastConv.Libraries.slnf", "-c", configuration, "--no-build", "--nologo");
        FileInfo[] meta = [.. new DirectoryInfo(PackagesFolder()).GetFiles("FastConv.*.nupkg").Where(f => IsPackageOf(f.Name, "FastConv"))];
        Assert.That(meta, Has.Length.EqualTo(1), $"pack wrote no FastConv.VERSION.nupkg to {PackagesFolder()}");
        return meta[0].Name["FastConv.".Length..^".nupkg".Length];
    }

    private static readonly string[] LibraryIds = ["FastConv", "FastConv.Core", "FastConv.Cpu", "FastConv.Interop", "FastConv.Gpu", "FastConv.Engine", "FastConv.Extensions"];

    /// <summary>Whether <paramref name="file"/> is ID.VERSION.(s)nupkg: the id followed by a version, which starts with a digit.</summary>
    private static bool IsPackageOf(string file, string id) => file.Length > id.Length + 1 && file.StartsWith(id + ".", StringComparison.Ordinal) && char.IsDigit(file[id.Length + 1]);

    private static string PackagesFolder() => Path.Combine(Repository.Root, "artifacts", "packages");

    /// <summary>Runs dotnet with <paramref name="args"/> in <paramref name="dir"/>, bounded; fails the test with its output unless it exits 0.</summary>
    private static string Dotnet(string dir, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        // The app's own package folder (see the class summary); the test's MSBuild settings must not leak into it.
        start.Environment["NUGET_PACKAGES"] = Path.Combine(Path.GetTempPath(), "fastconv-newcomer-packages-" + Environment.ProcessId);
        start.Environment.Remove("MSBuildExtensionsPath");
        start.Environment.Remove("MSBuildSDKsPath");
        start.Environment.Remove("MSBUILD_EXE_PATH");
        using Process process = Process.Start(start)!;
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(StepTimeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"dotnet {string.Join(' ', args)} did not finish in {StepTimeout.TotalMinutes} min:\n{output}");
        }
        process.WaitForExit();
        Assert.That(process.ExitCode, Is.Zero, $"dotnet {string.Join(' ', args)} in {dir} failed:\n{output}");
        return output.ToString();
    }
}
