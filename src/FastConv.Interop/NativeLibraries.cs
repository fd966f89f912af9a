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
/// <c>/usr/local/cuda*/lib64</c>, and pip's CUDA wheels in every Python environment found without running Python
/// (<see cref="PythonSitePackages"/>): <c>site-packages/nvidia/cu13/lib</c> (CUDA 13 wheels put every library there)
/// and <c>site-packages/nvidia/&lt;component&gt;/lib</c> (CUDA 12 wheels, cuDNN) — and then by bare soname through
/// the system loader. A library that is nowhere raises <see cref="NativeLibraryNotFoundException"/> listing every
/// path tried.
/// <para>
/// Where a library loads others by soname at run time, those are preloaded from the folder it was found in
/// (<see cref="Companions"/>): cuDNN 9's shim dlopens libcudnn_graph, _ops, _cnn, _adv, _heuristic and _engines_*
/// by soname, which the system loader would look for on LD_LIBRARY_PATH and in ld.so.cache, not beside the shim;
/// once a library of that soname is loaded, the loader hands it out instead. Loading them all from one folder also
/// keeps cuDNN's sub-libraries of one version together (mixed copies fail with SUBLIBRARY_VERSION_MISMATCH).
/// </para>
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

    /// <summary>Directories searched before the system loader, in order, existing ones only (the process's environment).</summary>
    public static IReadOnlyList<string> SearchDirectories() => SearchDirectories(Environment.GetEnvironmentVariable);

    /// <summary>Directories searched before the system loader, for an environment given as a variable lookup.</summary>
    public static IReadOnlyList<string> SearchDirectories(Func<string, string?> variable)
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
        AddList(variable(CudaPathVariable));
        AddList(variable("LD_LIBRARY_PATH"));
        foreach (string root in SafeGlob("/usr/local", "cuda*"))
        {
            dirs.Add(Path.Combine(root, "lib64"));
            dirs.Add(Path.Combine(root, "targets", "x86_64-linux", "lib"));
        }
        // pip's CUDA wheels: CUDA 13 puts every library of the toolkit into nvidia/cu13/lib; CUDA 12 wheels and cuDNN
        // use nvidia/<component>/lib (cudnn, cublas, cuda_nvrtc, ...).
        foreach (string sitePackages in PythonSitePackages(variable))
        {
            string nvidia = Path.Combine(sitePackages, "nvidia");
            dirs.Add(Path.Combine(nvidia, "cu13", "lib"));
            foreach (string component in SafeGlob(nvidia, "*"))
            {
                dirs.Add(Path.Combine(component, "lib"));
            }
        }
        return dirs.Where(Directory.Exists).Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// The libraries to load from <paramref name="folder"/> before the one of <paramref name="kind"/> found there
    /// under <paramref name="soname"/>, in load order, existing files only: what it loads by soname at run time
    /// (cuDNN 9's sub-libraries, NVRTC's builtins) or needs beside it (cuBLAS's cuBLASLt).
    /// </summary>
    public static IReadOnlyList<string> Companions(NativeLibraryKind kind, string folder, string soname)
    {
        string major = soname[(soname.IndexOf(".so.", StringComparison.Ordinal) + 4)..].Split('.')[0];
        IEnumerable<string> names = kind switch
        {
            // Dependencies first: the engines and heuristics, the graph API, then the legacy ops/cnn/adv built on it.
            NativeLibraryKind.Cudnn when major != "8" =>
            [
                $"libcudnn_engines_precompiled.so.{major}", $"libcudnn_engines_runtime_compiled.so.{major}", $"libcudnn_heuristic.so.{major}",
                $"libcudnn_graph.so.{major}", $"libcudnn_ops.so.{major}", $"libcudnn_cnn.so.{major}", $"libcudnn_adv.so.{major}",
            ],
            NativeLibraryKind.Cudnn => [$"libcudnn_ops_infer.so.{major}", $"libcudnn_cnn_infer.so.{major}"],
            NativeLibraryKind.Cublas => [$"libcublasLt.so.{major}"],
            // libnvrtc-builtins.so.MAJOR.MINOR: the minor is the NVRTC's own, so take what the folder holds.
            NativeLibraryKind.Nvrtc => SafeFiles(folder, $"libnvrtc-builtins.so.{major}.*").Select(Path.GetFileName).OfType<string>(),
            _ => [],
        };
        return [.. names.Select(n => Path.Combine(folder, n)).Where(File.Exists)];
    }

    /// <summary>
    /// Every existing path where <paramref name="kind"/> would be looked for, in the order <see cref="Load"/> tries
    /// them (newest soname first, then each search directory); the system loader's own search comes after these.
    /// </summary>
    public static IReadOnlyList<string> Candidates(NativeLibraryKind kind, Func<string, string?> variable)
    {
        IReadOnlyList<string> dirs = SearchDirectories(variable);
        return [.. Sonames(kind).SelectMany(soname => dirs.Select(d => Path.Combine(d, soname))).Where(File.Exists)];
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
            if (kind == NativeLibraryKind.Cudnn)
            {
                // cuDNN 9's engines need cuBLASLt at load time; bring in the cuBLAS we would use (best effort: a
                // missing one is reported by cuDNN's own load error below).
                _ = Resolve(NativeLibraryKind.Cublas);
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
                    if (File.Exists(path))
                    {
                        IReadOnlyList<string> preloaded = Preload(Companions(kind, dir, soname), errors);
                        if (TryLoad(path, errors, out nint h))
                        {
                            return Cache[kind] = new Resolution(h, path, tried, errors, preloaded);
                        }
                    }
                }
            }
            foreach (string soname in Sonames(kind))
            {
                tried.Add(soname + " (system loader: ld.so.cache, /lib, /usr/lib)");
                if (TryLoad(soname, errors, out nint h))
                {
                    return Cache[kind] = new Resolution(h, soname, tried, errors, []);
                }
            }
            // A miss is not cached: setting FASTCONV_CUDA_PATH or installing the library later in the process works.
            return new Resolution(0, null, tried, errors, []);
        }
    }

    /// <summary>The libraries preloaded beside <paramref name="kind"/> (empty until it is resolved, or when none were needed).</summary>
    public static IReadOnlyList<string> Preloaded(NativeLibraryKind kind) => Resolve(kind).Preloaded;

    /// <summary>
    /// Loads each path (NativeLibrary.Load, so the loader knows it by its soname from then on), retrying those that
    /// failed while another pass still loads something: a library whose dependency comes later in the list loads on
    /// the next pass. What never loads is reported, not fatal — the main library's own load decides.
    /// </summary>
    private static IReadOnlyList<string> Preload(IReadOnlyList<string> paths, List<string> errors)
    {
        var loaded = new List<string>();
        var left = new List<string>(paths);
        var lastErrors = new List<string>();
        while (left.Count > 0)
        {
            lastErrors.Clear();
            int before = left.Count;
            foreach (string path in left.ToArray())
            {
                if (TryLoad(path, lastErrors, out _))
                {
                    loaded.Add(path);
                    left.Remove(path);
                }
            }
            if (left.Count == before)
            {
                break;
            }
        }
        errors.AddRange(lastErrors);
        return loaded;
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

    /// <summary>
    /// The site-packages folders of the Python environments on this machine, found from the known layouts, never by
    /// running Python: the system's (<c>/usr/lib</c>, <c>/usr/local/lib</c>: site- and dist-packages), the user's
    /// (<c>~/.local</c>), pyenv's versions, the active virtual environment (<c>VIRTUAL_ENV</c>) and conda
    /// environment (<c>CONDA_PREFIX</c>, <c>/opt/conda</c>), and every environment whose <c>bin</c> holds a
    /// <c>python3</c> on <c>PATH</c> (a venv used without activating it, e.g. <c>/opt/torch/.venv/bin</c>).
    /// </summary>
    public static IEnumerable<string> PythonSitePackages(Func<string, string?> variable)
    {
        var roots = new List<string> { "/usr/lib", "/usr/local/lib", "/usr/lib64", "/opt/conda/lib" };
        string? home = variable("HOME");
        if (!string.IsNullOrEmpty(home))
        {
            roots.Add(Path.Combine(home, ".local", "lib"));
            foreach (string v in SafeGlob(Path.Combine(home, ".pyenv", "versions"), "*"))
            {
                roots.Add(Path.Combine(v, "lib"));
            }
        }
        foreach (string prefixVariable in (string[])["VIRTUAL_ENV", "CONDA_PREFIX"])
        {
            if (variable(prefixVariable) is { Length: > 0 } prefix)
            {
                roots.Add(Path.Combine(prefix, "lib"));
            }
        }
        foreach (string bin in (variable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (File.Exists(Path.Combine(bin, "python3")) && Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(bin)) is { } prefix)
            {
                roots.Add(Path.Combine(prefix, "lib"));
            }
        }
        foreach (string root in roots.Distinct(StringComparer.Ordinal))
        {
            foreach (string py in SafeGlob(root, "python3*"))
            {
                yield return Path.Combine(py, "site-packages");
                yield return Path.Combine(py, "dist-packages");
            }
        }
    }

    private static IEnumerable<string> SafeFiles(string dir, string pattern)
    {
        try
        {
            return Directory.Exists(dir) ? Directory.GetFiles(dir, pattern).Order(StringComparer.Ordinal).ToArray() : [];
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

    private sealed record Resolution(nint Handle, string? Path, IReadOnlyList<string> Tried, IReadOnlyList<string> Errors, IReadOnlyList<string> Preloaded);
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
