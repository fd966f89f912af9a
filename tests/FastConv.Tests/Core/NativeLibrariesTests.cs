using FastConv.Interop;

namespace FastConv.Tests.Core;

/// <summary>Library resolution without a GPU, for real: what is missing is reported with every path tried.</summary>
public sealed class NativeLibrariesTests
{
    [Test]
    public void SonamesAreVersionedNewestFirst()
    {
        Assert.Multiple(() =>
        {
            Assert.That(NativeLibraries.Sonames(NativeLibraryKind.Cuda), Is.EqualTo(new[] { "libcuda.so.1" }));
            Assert.That(NativeLibraries.Sonames(NativeLibraryKind.Nvrtc), Is.EqualTo(new[] { "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2" }));
            Assert.That(NativeLibraries.Sonames(NativeLibraryKind.Cublas), Is.EqualTo(new[] { "libcublas.so.13", "libcublas.so.12", "libcublas.so.11" }));
            Assert.That(NativeLibraries.Sonames(NativeLibraryKind.Cudnn), Is.EqualTo(new[] { "libcudnn.so.9", "libcudnn.so.8" }));
        });
    }

    [Test]
    public void MissingCudnnListsEveryPathTried()
    {
        var (path, _) = NativeLibraries.Probe(NativeLibraryKind.Cudnn);
        if (path is not null)
        {
            Assert.Ignore($"cuDNN is installed here ({path}); the missing-library path cannot be exercised.");
        }
        var ex = Assert.Throws<NativeLibraryNotFoundException>(() => NativeLibraries.Load(NativeLibraryKind.Cudnn));
        Assert.That(ex!.Message, Does.Contain("libcudnn.so.9").And.Contain("libcudnn.so.8").And.Contain(NativeLibraries.CudaPathVariable));
        Assert.That(ex.Tried, Has.Count.GreaterThanOrEqualTo(2));
        Assert.That(ex, Is.InstanceOf<FastConvException>());
    }

    [Test]
    public void GpuProbeNeverThrowsAndExplainsItself()
    {
        GpuStatus status = GpuProbe.Detect();
        if (status.Usable)
        {
            Assert.That(status.Devices[0].Architecture, Does.StartWith("sm_"));
        }
        else
        {
            Assert.That(status.Unusable, Is.Not.Null.And.Not.Empty);
        }
        Assert.That(GpuProbe.Libraries(), Has.Count.EqualTo(4));
    }

    /// <summary>A fake file system tree of empty .so files: resolution is checked without loading anything.</summary>
    private sealed class FakeTree : IDisposable
    {
        public FakeTree() => Root = Directory.CreateTempSubdirectory("fastconv-libs-").FullName;

        public string Root { get; }

        public string File(string relative)
        {
            string path = Path.Combine(Root, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            System.IO.File.WriteAllBytes(path, []);
            return path;
        }

        public void Dispose() => Directory.Delete(Root, recursive: true);
    }

    private static Func<string, string?> Env(params (string Name, string Value)[] vars)
        => name => vars.FirstOrDefault(v => v.Name == name).Value;

    [Test]
    public void Cuda13WheelsInAVirtualEnvironmentOnPathAreFoundWithoutRunningPython()
    {
        // The device image: python3 is /opt/torch/.venv/bin/python3 on PATH, VIRTUAL_ENV unset, CUDA 13 wheels put
        // cuBLAS and NVRTC into site-packages/nvidia/cu13/lib and cuDNN into site-packages/nvidia/cudnn/lib.
        using var tree = new FakeTree();
        string venv = Path.Combine(tree.Root, "opt", "torch", ".venv");
        tree.File("opt/torch/.venv/bin/python3");
        string cublas = tree.File("opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcublas.so.13");
        string nvrtc = tree.File("opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib/libnvrtc.so.13");
        string cudnn = tree.File("opt/torch/.venv/lib/python3.12/site-packages/nvidia/cudnn/lib/libcudnn.so.9");
        Func<string, string?> env = Env(("PATH", Path.Combine(venv, "bin") + Path.PathSeparator + "/usr/bin"));
        Assert.Multiple(() =>
        {
            Assert.That(NativeLibraries.Candidates(NativeLibraryKind.Cublas, env), Does.Contain(cublas));
            Assert.That(NativeLibraries.Candidates(NativeLibraryKind.Nvrtc, env), Does.Contain(nvrtc));
            Assert.That(NativeLibraries.Candidates(NativeLibraryKind.Cudnn, env), Does.Contain(cudnn));
        });
    }

    [Test]
    public void EveryKnownPythonLayoutIsSearched()
    {
        using var tree = new FakeTree();
        string home = Path.Combine(tree.Root, "home", "u");
        string venv = Path.Combine(tree.Root, "work", "venv");
        string conda = Path.Combine(tree.Root, "conda", "envs", "gpu");
        string user = tree.File("home/u/.local/lib/python3.11/site-packages/nvidia/cublas/lib/libcublas.so.12");
        string pyenv = tree.File("home/u/.pyenv/versions/3.10.4/lib/python3.10/site-packages/nvidia/cudnn/lib/libcudnn.so.9");
        string active = tree.File("work/venv/lib/python3.12/site-packages/nvidia/cu13/lib/libnvrtc.so.13");
        string condaLib = tree.File("conda/envs/gpu/lib/python3.12/site-packages/nvidia/cu13/lib/libcublas.so.13");
        Func<string, string?> env = Env(("HOME", home), ("VIRTUAL_ENV", venv), ("CONDA_PREFIX", conda));
        Assert.Multiple(() =>
        {
            Assert.That(NativeLibraries.Candidates(NativeLibraryKind.Cublas, env), Is.EqualTo(new[] { condaLib, user }), "newest soname first, every environment");
            Assert.That(NativeLibraries.Candidates(NativeLibraryKind.Cudnn, env), Does.Contain(pyenv));
            Assert.That(NativeLibraries.Candidates(NativeLibraryKind.Nvrtc, env), Does.Contain(active));
        });
    }

    [Test]
    public void CondaPrefixOfTheProcessIsSearched()
    {
        // Through the process environment, as Load resolves: CONDA_PREFIX was not searched before.
        using var tree = new FakeTree();
        string lib = tree.File("env/lib/python3.12/site-packages/nvidia/cudnn/lib/libcudnn.so.9");
        string? before = Environment.GetEnvironmentVariable("CONDA_PREFIX");
        Environment.SetEnvironmentVariable("CONDA_PREFIX", Path.Combine(tree.Root, "env"));
        try
        {
            Assert.That(NativeLibraries.SearchDirectories(), Does.Contain(Path.GetDirectoryName(lib)));
        }
        finally
        {
            Environment.SetEnvironmentVariable("CONDA_PREFIX", before);
        }
    }

    [Test]
    public void CudnnSubLibrariesArePreloadedFromTheShimsFolderInDependencyOrder()
    {
        using var tree = new FakeTree();
        string dir = Path.GetDirectoryName(tree.File("sp/nvidia/cudnn/lib/libcudnn.so.9"))!;
        string[] present = ["libcudnn_adv.so.9", "libcudnn_cnn.so.9", "libcudnn_ops.so.9", "libcudnn_graph.so.9", "libcudnn_heuristic.so.9",
            "libcudnn_engines_precompiled.so.9", "libcudnn_engines_runtime_compiled.so.9"];
        foreach (string f in present)
        {
            tree.File(Path.Combine("sp/nvidia/cudnn/lib", f));
        }
        tree.File("sp/nvidia/cudnn/lib/libcudnn_ops.so.8"); // another major version beside it is not ours
        IReadOnlyList<string> companions = NativeLibraries.Companions(NativeLibraryKind.Cudnn, dir, "libcudnn.so.9");
        Assert.That(companions.Select(Path.GetFileName), Is.EqualTo(new[]
        {
            "libcudnn_engines_precompiled.so.9", "libcudnn_engines_runtime_compiled.so.9", "libcudnn_heuristic.so.9",
            "libcudnn_graph.so.9", "libcudnn_ops.so.9", "libcudnn_cnn.so.9", "libcudnn_adv.so.9",
        }));
        Assert.That(companions, Has.All.StartWith(dir), "from the folder libcudnn.so.9 was found in, never elsewhere");
    }

    [Test]
    public void CublasLtAndNvrtcBuiltinsComeFromTheSameFolder()
    {
        using var tree = new FakeTree();
        string dir = Path.GetDirectoryName(tree.File("sp/nvidia/cu13/lib/libcublas.so.13"))!;
        tree.File("sp/nvidia/cu13/lib/libcublasLt.so.13");
        tree.File("sp/nvidia/cu13/lib/libnvrtc.so.13");
        tree.File("sp/nvidia/cu13/lib/libnvrtc-builtins.so.13.0");
        tree.File("sp/nvidia/cu13/lib/libnvrtc-builtins.so.12.8");
        Assert.Multiple(() =>
        {
            Assert.That(NativeLibraries.Companions(NativeLibraryKind.Cublas, dir, "libcublas.so.13").Select(Path.GetFileName), Is.EqualTo(new[] { "libcublasLt.so.13" }));
            Assert.That(NativeLibraries.Companions(NativeLibraryKind.Nvrtc, dir, "libnvrtc.so.13").Select(Path.GetFileName), Is.EqualTo(new[] { "libnvrtc-builtins.so.13.0" }));
            Assert.That(NativeLibraries.Companions(NativeLibraryKind.Cudnn, dir, "libcudnn.so.9"), Is.Empty, "none there, none preloaded");
        });
    }
}
