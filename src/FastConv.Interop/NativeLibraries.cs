using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FastConv.Interop;

/// <summary>A native library FastConv binds to, by the name its <c>[LibraryImport]</c>s use.</summary>
public enum NativeLibraryKind
{
    /// <summary>The CUDA driver API, <c>libcuda.so.1</c> (installed with the driver, never the dev-only unversioned link).</summary>
    Cuda,
    /// <summary>NVRTC, the runtime CUDA C++ compiler.</summary>
    Nvrtc,
    /// <summary>cuBLAS.</summary>
    Cublas,
    /// <summary>cuDNN.</summary>
    Cudnn,
}

/// <summary>
/// The one place native libraries are found. Each library has a list of versioned sonames tried in
/// order (newest first) in each search directory — <c>FASTCONV_CUDA_PATH</c>, <c>LD_LIBRARY_PATH</c>,
/// <c>/usr/local/cuda*/lib64</c>, Python's <c>site-packages/nvidia/*/lib</c> — and then by bare
/// soname through the system loader. A library that is nowhere raises
/// <see cref="NativeLibraryNotFoundException"/> listing every path tried.
/// </summary>
public static class NativeLibraries
{
    public const string CudaPathVariable = "FASTCONV_CUDA_PATH";

    // The names [LibraryImport] declarations use; the resolver maps them to a loaded handle.
    internal const string CudaImport = "cuda";
    internal const string NvrtcImport = "nvrtc";
    internal const string CublasImport = "cublas";
    internal const string CudnnImport = "cudnn";

    private static readonly Lock Gate = new();
    private static readonly Dictionary<NativeLibraryKind, Resolution> Cache = [];

    /// <summary>Versioned sonames tried for a library, in order.</summary>
    public static IReadOnlyList<string> Sonames(NativeLibraryKind kind) => kind switch
    {
        NativeLibraryKind.Cuda => ["libcuda.so.1"],
        NativeLibraryKind.Nvrtc => ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"],
        NativeLibraryKind.Cublas => ["libcublas.so.13", "libcublas.so.12", "libcublas.so.11"],
        NativeLibraryKind.Cudnn => ["libcudnn.so.9", "libcudnn.so.8"],
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>Directories searched before the system loader, in order, existing ones only.</summary>
    public static IReadOnlyList<string> SearchDirectories()
    {
        var dirs = new List<string>();
        void AddList(string? list)
        {
            if (string.IsNullOrEmpty(list))
            {
                return;
            }
            foreach (string d in list.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                dirs.Add(d);
            }
        }
        AddList(Environment.GetEnvironmentVariable(CudaPathVariable));
        AddList(Environment.GetEnvironmentVariable("LD_LIBRARY_PATH"));
        foreach (string root in SafeGlob("/usr/local", "cuda*"))
        {
            dirs.Add(Path.Combine(root, "lib64"));
        }
        // pip's CUDA wheels: site-packages/nvidia/<component>/lib, under every Python we can see.
        foreach (string sitePackages in PythonSitePackages())
        {
            foreach (string component in SafeGlob(Path.Combine(sitePackages, "nvidia"), "*"))
            {
                dirs.Add(Path.Combine(component, "lib"));
            }
        }
        return dirs.Where(Directory.Exists).Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>Finds and loads a library, or throws <see cref="NativeLibraryNotFoundException"/> listing what was tried.</summary>
    public static nint Load(NativeLibraryKind kind)
    {
        Resolution r = Resolve(kind);
        return r.Handle != 0 ? r.Handle : throw new NativeLibraryNotFoundException(kind.ToString(), r.Tried, r.Errors);
    }

    /// <summary>Like <see cref="Load"/> but never throws: the path it loaded, or null with the paths tried.</summary>
    public static (string? Path, IReadOnlyList<string> Tried) Probe(NativeLibraryKind kind)
    {
        Resolution r = Resolve(kind);
        return (r.Handle != 0 ? r.Path : null, r.Tried);
    }

    private static Resolution Resolve(NativeLibraryKind kind)
    {
        lock (Gate)
        {
            if (Cache.TryGetValue(kind, out Resolution? cached))
            {
                return cached;
            }
            var tried = new List<string>();
            var errors = new List<string>();
            IReadOnlyList<string> dirs = SearchDirectories();
            foreach (string soname in Sonames(kind))
            {
                foreach (string dir in dirs)
                {
                    string path = Path.Combine(dir, soname);
                    tried.Add(path);
                    if (File.Exists(path) && TryLoad(path, errors, out nint h))
                    {
                        return Cache[kind] = new Resolution(h, path, tried, errors);
                    }
                }
            }
            foreach (string soname in Sonames(kind))
            {
                tried.Add(soname + " (system loader: ld.so.cache, /lib, /usr/lib)");
                if (TryLoad(soname, errors, out nint h))
                {
                    return Cache[kind] = new Resolution(h, soname, tried, errors);
                }
            }
            // A miss is not cached: setting FASTCONV_CUDA_PATH or installing the library later in the process works.
            return new Resolution(0, null, tried, errors);
        }
    }

    private static bool TryLoad(string pathOrName, List<string> errors, out nint handle)
    {
        try
        {
            handle = NativeLibrary.Load(pathOrName);
            return true;
        }
        catch (DllNotFoundException e)
        {
            // A file that exists but fails to load (wrong architecture, missing dependency) is worth reporting.
            if (File.Exists(pathOrName))
            {
                errors.Add($"{pathOrName}: {e.Message}");
            }
            handle = 0;
            return false;
        }
        catch (BadImageFormatException e)
        {
            errors.Add($"{pathOrName}: {e.Message}");
            handle = 0;
            return false;
        }
    }

    private static IEnumerable<string> PythonSitePackages()
    {
        var roots = new List<string> { "/usr/lib", "/usr/local/lib", "/opt/conda/lib" };
        string? home = Environment.GetEnvironmentVariable("HOME");
        if (!string.IsNullOrEmpty(home))
        {
            roots.Add(Path.Combine(home, ".local", "lib"));
            foreach (string v in SafeGlob(Path.Combine(home, ".pyenv", "versions"), "*"))
            {
                roots.Add(Path.Combine(v, "lib"));
            }
        }
        string? venv = Environment.GetEnvironmentVariable("VIRTUAL_ENV");
        if (!string.IsNullOrEmpty(venv))
        {
            roots.Add(Path.Combine(venv, "lib"));
        }
        foreach (string root in roots)
        {
            foreach (string py in SafeGlob(root, "python3*"))
            {
                yield return Path.Combine(py, "site-packages");
                yield return Path.Combine(py, "dist-packages");
            }
        }
    }

    private static IEnumerable<string> SafeGlob(string dir, string pattern)
    {
        try
        {
            return Directory.Exists(dir) ? Directory.GetDirectories(dir, pattern).Order(StringComparer.Ordinal).ToArray() : [];
        }
        catch (IOException)
        {
            return [];
        }
        catch (UnauthorizedAccessException)
        {
            return [];
        }
    }

    // The resolver must be in place before the first [LibraryImport] of this assembly is bound, and
    // SetDllImportResolver may be called only once per assembly: a module initializer does both.
#pragma warning disable CA2255
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void RegisterResolver()
        => NativeLibrary.SetDllImportResolver(typeof(NativeLibraries).Assembly, ResolveImport);

    private static nint ResolveImport(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        NativeLibraryKind? kind = name switch
        {
            CudaImport => NativeLibraryKind.Cuda,
            NvrtcImport => NativeLibraryKind.Nvrtc,
            CublasImport => NativeLibraryKind.Cublas,
            CudnnImport => NativeLibraryKind.Cudnn,
            _ => null,
        };
        // Throwing here gives the caller our listing instead of the runtime's bare DllNotFoundException.
        return kind is { } k ? Load(k) : 0;
    }

    private sealed record Resolution(nint Handle, string? Path, IReadOnlyList<string> Tried, IReadOnlyList<string> Errors);
}

/// <summary>A native library FastConv needs was not found; the message lists every path tried and what to do.</summary>
public sealed class NativeLibraryNotFoundException : FastConvException
{
    public NativeLibraryNotFoundException(string library, IReadOnlyList<string> tried, IReadOnlyList<string> errors)
        : base(BuildMessage(library, tried, errors))
    {
        Library = library;
        Tried = tried;
    }

    public string Library { get; }
    public IReadOnlyList<string> Tried { get; }

    private static string BuildMessage(string library, IReadOnlyList<string> tried, IReadOnlyList<string> errors)
    {
        var sb = new System.Text.StringBuilder();
        sb.Append("Native library ").Append(library).Append(" was not found. Tried, in order:");
        foreach (string t in tried)
        {
            sb.AppendLine().Append("  ").Append(t);
        }
        foreach (string e in errors)
        {
            sb.AppendLine().Append("  load error: ").Append(e);
        }
        sb.AppendLine().Append("Install it, or point ").Append(NativeLibraries.CudaPathVariable)
          .Append(" (or LD_LIBRARY_PATH) at the folder that holds it; `fastconv info` shows what was found.");
        return sb.ToString();
    }
}
