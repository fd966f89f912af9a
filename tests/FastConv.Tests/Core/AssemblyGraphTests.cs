using System.Reflection;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using FastConv.Cpu;
using FastConv.Gpu.Backends;
using FastConv.Interop;
using FastConv.Sessions;
using FastConv.Tests.Support;

namespace FastConv.Tests.Core;

/// <summary>
/// The assemblies reference each other one way, as the README's project graph draws it: Core nothing of ours; Cpu and
/// Interop only Core; Gpu Core and Interop (and only Gpu builds native code: native/emu's targets); Engine the backends
/// directly. So a program of Core and Cpu builds without g++ or CUDA packages, and no backend is found by reflection.
/// </summary>
public sealed class AssemblyGraphTests
{
    private static readonly Dictionary<string, string[]> Expected = new()
    {
        ["FastConv.Core"] = [],
        ["FastConv.Cpu"] = ["FastConv.Core"],
        ["FastConv.Interop"] = ["FastConv.Core"],
        ["FastConv.Gpu"] = ["FastConv.Core", "FastConv.Interop"],
        ["FastConv.Engine"] = ["FastConv.Core", "FastConv.Cpu", "FastConv.Gpu"],
    };

    private static XDocument Project(string name) => XDocument.Load(Path.Combine(Repository.Root, "src", name, name + ".csproj"));

    [Test]
    public void ProjectReferencesGoOneWay()
    {
        foreach (var (name, references) in Expected)
        {
            string[] actual = [.. Project(name).Descendants("ProjectReference").Select(r => Path.GetFileNameWithoutExtension(r.Attribute("Include")!.Value)).Order()];
            Assert.That(actual, Is.EqualTo(references.Order().ToArray()), $"{name}'s project references");
        }
    }

    [Test]
    public void OnlyTheGpuProjectBuildsNativeCode()
    {
        foreach (string name in Expected.Keys)
        {
            XDocument p = Project(name);
            string[] imports = [.. p.Descendants("Import").Select(i => i.Attribute("Project")!.Value)];
            bool native = imports.Any(i => i.Contains("native", StringComparison.Ordinal)) || p.Descendants("Exec").Any();
            Assert.That(native, Is.EqualTo(name == "FastConv.Gpu"), $"{name}: imports {string.Join(", ", imports)}");
        }
    }

    [Test]
    public void CompiledAssembliesReferenceWhatTheirProjectsSay()
    {
        Assembly[] assemblies = [typeof(Tensor).Assembly, typeof(CpuBackend).Assembly, typeof(NativeLibraries).Assembly, typeof(GpuBackendContext).Assembly, typeof(FastConvSession).Assembly];
        foreach (Assembly a in assemblies)
        {
            string[] ours = [.. a.GetReferencedAssemblies().Select(r => r.Name!).Where(n => n.StartsWith("FastConv", StringComparison.Ordinal)).Order()];
            string name = a.GetName().Name!;
            // The compiler drops references nothing uses, so the compiled set may be smaller, never larger.
            Assert.That(ours, Is.SubsetOf(Expected[name]), $"{name} references {string.Join(", ", ours)}");
        }
    }

    [Test]
    public void NoBackendIsFoundByReflection()
    {
        var loading = new Regex(@"Assembly\.Load|Type\.GetType\(|Activator\.CreateInstance|\[ModuleInitializer\]");
        string src = Path.Combine(Repository.Root, "src");
        string[] hits = [.. Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .SelectMany(f => File.ReadLines(f).Select((l, i) => (File: Path.GetRelativePath(src, f), Line: i + 1, Text: l)))
            .Where(l => loading.IsMatch(l.Text))
            .Select(l => $"{l.File}:{l.Line}: {l.Text.Trim()}")];
        // The one module initializer installs the DllImport resolver of our CUDA bindings (it must run before the first
        // [LibraryImport] binds); it loads no code.
        Assert.That(hits, Has.All.StartWith($"FastConv.Interop{Path.DirectorySeparatorChar}NativeLibraries.cs:"), string.Join("\n", hits));
    }
}
