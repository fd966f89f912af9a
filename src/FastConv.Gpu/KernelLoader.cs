using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using FastConv.Interop;

namespace FastConv.Gpu;

/// <summary>
/// The CUDA C++ sources embedded in FastConv.Gpu: every <c>native/kernels/*.cu</c> and <c>*.cuh</c> (the library
/// backends' <c>support.cu</c> included: one set of kernels, all of them built into the emulator too), under the
/// names <c>FastConv.Kernels.FILE</c>.
/// Headers are handed to NVRTC by name, so a kernel includes them as <c>#include "fc_x.cuh"</c>.
/// </summary>
public static class KernelSources
{
    private const string Prefix = "FastConv.Kernels.";
    private static readonly Lazy<IReadOnlyDictionary<string, string>> s_all = new(Load);

    /// <summary>Every embedded file, name → text (e.g. "conv2d.cu", "fc_mma.cuh").</summary>
    public static IReadOnlyDictionary<string, string> All => s_all.Value;

    /// <summary>The compilable sources (*.cu), ordered by name.</summary>
    public static IReadOnlyList<string> Sources => [.. All.Keys.Where(k => k.EndsWith(".cu", StringComparison.Ordinal)).Order(StringComparer.Ordinal)];

    /// <summary>The headers (*.cuh) as NVRTC wants them: name, text.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Headers
        => [.. All.Where(kv => kv.Key.EndsWith(".cuh", StringComparison.Ordinal)).OrderBy(kv => kv.Key, StringComparer.Ordinal)];

    /// <summary>A prebuilt fatbin shipped for <paramref name="source"/> (<c>name.fatbin</c> beside it), or null.</summary>
    public static byte[]? Fatbin(string source)
    {
        string name = Prefix + Path.ChangeExtension(source, ".fatbin");
        using Stream? s = typeof(KernelSources).Assembly.GetManifestResourceStream(name);
        if (s is null)
        {
            return null;
        }
        using var ms = new MemoryStream();
        s.CopyTo(ms);
        return ms.ToArray();
    }

    /// <summary>The text of one embedded file; throws when there is no such kernel source.</summary>
    public static string Text(string file)
        => All.TryGetValue(file, out string? text) ? text
            : throw new FastConvException($"No embedded kernel source '{file}' (embedded: {string.Join(", ", All.Keys.Order(StringComparer.Ordinal))}).");

    private static IReadOnlyDictionary<string, string> Load()
    {
        Assembly asm = typeof(KernelSources).Assembly;
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string res in asm.GetManifestResourceNames())
        {
            if (!res.StartsWith(Prefix, StringComparison.Ordinal) || !(res.EndsWith(".cu", StringComparison.Ordinal) || res.EndsWith(".cuh", StringComparison.Ordinal)))
            {
                continue;
            }
            using Stream s = asm.GetManifestResourceStream(res)!;
            using var reader = new StreamReader(s, Encoding.UTF8);
            result[res[Prefix.Length..]] = reader.ReadToEnd();
        }
        return result;
    }
}

/// <summary>How a source was compiled: target, NVRTC version, where the image came from.</summary>
public sealed record CompiledKernel(string Source, string Target, KernelImage Image, string NvrtcVersion, bool FromDiskCache, string Log, string? CachePath);

/// <summary>
/// NVRTC compilation of the embedded sources with an on-disk cache. The cache key is the SHA-256 of the
/// source, every header, the target architecture, the NVRTC version and the options, so editing a header,
/// moving to another GPU or upgrading NVRTC each compile afresh, and nothing else does. Cache folder:
/// <c>FASTCONV_KERNEL_CACHE</c>, else <c>$XDG_CACHE_HOME/fastconv/kernels</c>, else <c>~/.cache/fastconv/kernels</c>.
/// <para>
/// Each entry carries the SHA-256 and length of its image (<see cref="KernelCacheEntry"/>): an entry that is
/// truncated, corrupted or from an older format is deleted and compiled afresh, never handed to the driver. The
/// folder's entries are capped at <c>FASTCONV_KERNEL_CACHE_MAX_BYTES</c> (default <see cref="DefaultCacheMaxBytes"/>):
/// after each write, the least recently used entries (a hit refreshes an entry's time) go until the rest fit.
/// </para>
/// </summary>
public static class KernelCompiler
{
    public const string CacheVariable = "FASTCONV_KERNEL_CACHE";

    /// <summary>Environment variable capping the bytes of compiled kernels kept in the cache folder.</summary>
    public const string CacheMaxBytesVariable = "FASTCONV_KERNEL_CACHE_MAX_BYTES";

    /// <summary>256 MiB: every FastConv kernel for a few architectures and NVRTC versions takes a few MiB.</summary>
    public const long DefaultCacheMaxBytes = 256L << 20;

    /// <summary>The cache cap in force: <c>FASTCONV_KERNEL_CACHE_MAX_BYTES</c> or <see cref="DefaultCacheMaxBytes"/>.</summary>
    public static long CacheMaxBytes => ByteSize.FromEnvironment(CacheMaxBytesVariable, DefaultCacheMaxBytes);

    /// <summary>
    /// Options every kernel compiles with (besides the architecture), accepted alike by NVRTC 11.2 (the CI's), 12 and
    /// 13 (the GPU machine's CUDA 13 wheels): C++17 is a dialect every one of them knows (13 dropped the oldest ones,
    /// never 17, and 17 is what CCCL now requires anyway), <c>-default-device</c> and <c>-lineinfo</c> are unchanged
    /// since 11. No architecture list: the one target comes from <see cref="TargetFor"/>, which asks this NVRTC what it
    /// supports (13 no longer offers anything below sm_75), and the sources include no system header, only
    /// native/kernels' own fc_*.cuh handed over by name. native/emu/tests/nvrtc_check.py uses the same options.
    /// </summary>
    public static IReadOnlyList<string> CommonOptions { get; } = ["--std=c++17", "-default-device", "-lineinfo"];

    public static string CacheDirectory()
    {
        string? explicitDir = Environment.GetEnvironmentVariable(CacheVariable);
        if (!string.IsNullOrEmpty(explicitDir))
        {
            return explicitDir;
        }
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string root = !string.IsNullOrEmpty(xdg) ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "fastconv", "kernels");
    }

    /// <summary>
    /// What NVRTC should target for a device of compute capability <paramref name="major"/>.<paramref name="minor"/>:
    /// a cubin for that exact architecture when this NVRTC knows it, else PTX for the newest architecture it
    /// knows below the device's (the driver JIT-compiles PTX forward to newer GPUs).
    /// </summary>
    public static (string Option, bool Cubin, string Target) TargetFor(int major, int minor)
    {
        int arch = major * 10 + minor;
        IReadOnlyList<int> supported = Nvrtc.SupportedArchitectures();
        if (supported.Contains(arch))
        {
            return ($"--gpu-architecture=sm_{arch}", true, $"sm_{arch}");
        }
        int best = supported.Where(a => a <= arch).DefaultIfEmpty(-1).Max();
        if (best < 0)
        {
            throw new FastConvException($"NVRTC {Nvrtc.Version().Major}.{Nvrtc.Version().Minor} supports architectures {string.Join(", ", supported)}; none is at or below the device's sm_{arch}.");
        }
        return ($"--gpu-architecture=compute_{best}", false, $"compute_{best}");
    }

    /// <summary>Compiles (or reads from the disk cache) <paramref name="source"/> for the given compute capability.</summary>
    public static CompiledKernel Compile(string source, int major, int minor, IReadOnlyList<string>? extraOptions = null, bool useCache = true)
    {
        string text = KernelSources.Text(source);
        var (archOption, cubin, target) = TargetFor(major, minor);
        var options = new List<string>(CommonOptions) { archOption };
        if (extraOptions is not null)
        {
            options.AddRange(extraOptions);
        }
        var headers = KernelSources.Headers;
        var (vMajor, vMinor) = Nvrtc.Version();
        string version = $"{vMajor}.{vMinor}";
        string key = CacheKey(text, headers, target, version, options);
        string dir = CacheDirectory();
        string path = Path.Combine(dir, $"{Path.GetFileNameWithoutExtension(source)}-{target}-{key[..16]}.{(cubin ? "cubin" : "ptx")}");
        KernelImageKind kind = cubin ? KernelImageKind.Cubin : KernelImageKind.Ptx;
        if (useCache && TryRead(path, out byte[] cached))
        {
            return new CompiledKernel(source, target, new KernelImage(kind, cached, $"{source} for {target} (cached)"), version, true, "", path);
        }
        NvrtcOutput output = Nvrtc.Compile(text, source, headers, options, cubin);
        string? written = useCache ? TryWrite(dir, path, output.Image) : null;
        if (written is not null)
        {
            EvictLeastRecentlyUsed(dir, CacheMaxBytes, keep: written);
        }
        return new CompiledKernel(source, target, new KernelImage(kind, output.Image, $"{source} for {target}"), version, false, output.Log, written);
    }

    /// <summary>SHA-256 over everything that changes the compiled image.</summary>
    public static string CacheKey(string source, IReadOnlyList<KeyValuePair<string, string>> headers, string target, string nvrtcVersion, IReadOnlyList<string> options)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string s)
        {
            sha.AppendData(Encoding.UTF8.GetBytes(s));
            sha.AppendData([0]);
        }
        Add(source);
        foreach (var (name, text) in headers)
        {
            Add(name);
            Add(text);
        }
        Add(target);
        Add(nvrtcVersion);
        foreach (string o in options)
        {
            Add(o);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>
    /// The image stored at <paramref name="path"/> when the entry is whole (its hash and length check); a damaged
    /// entry is deleted so the compile that follows replaces it. A hit marks the entry as just used.
    /// </summary>
    internal static bool TryRead(string path, out byte[] bytes)
    {
        bytes = [];
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists || info.LinkTarget is not null || info.Length > KernelCacheEntry.MaxEntryBytes)
            {
                return false;
            }
            if (!KernelCacheEntry.TryDecode(File.ReadAllBytes(path), out bytes))
            {
                TryDelete(path);
                return false;
            }
            info.LastWriteTimeUtc = DateTime.UtcNow; // the least-recently-used order of eviction
            return true;
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        bytes = [];
        return false;
    }

    // A cache that cannot be written (read-only home, full disk) only costs a recompile next time.
    private static string? TryWrite(string dir, string path, byte[] image)
    {
        try
        {
            Directory.CreateDirectory(dir);
            string tmp = path + "." + Environment.ProcessId + ".tmp";
            File.WriteAllBytes(tmp, KernelCacheEntry.Encode(image));
            File.Move(tmp, path, overwrite: true); // atomic: a concurrent reader sees the old file or the whole new one
            return path;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// Deletes the least recently used compiled kernels (*.cubin, *.ptx) in <paramref name="dir"/> until the rest
    /// take at most <paramref name="maxBytes"/>; <paramref name="keep"/> (the entry just written) always stays.
    /// Other files (the algorithm choices) are not entries and are never touched. Returns the paths deleted.
    /// </summary>
    internal static IReadOnlyList<string> EvictLeastRecentlyUsed(string dir, long maxBytes, string? keep = null)
    {
        var deleted = new List<string>();
        try
        {
            var entries = new DirectoryInfo(dir).EnumerateFiles()
                .Where(f => f.Extension is ".cubin" or ".ptx" && f.LinkTarget is null)
                .OrderBy(f => f.LastWriteTimeUtc)
                .ToList();
            long total = entries.Sum(f => f.Length);
            foreach (FileInfo f in entries)
            {
                if (total <= maxBytes)
                {
                    break;
                }
                if (string.Equals(f.FullName, keep is null ? null : Path.GetFullPath(keep), StringComparison.Ordinal))
                {
                    continue;
                }
                if (TryDelete(f.FullName))
                {
                    total -= f.Length;
                    deleted.Add(f.FullName);
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return deleted;
    }

    private static bool TryDelete(string path)
    {
        try
        {
            File.Delete(path);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}

/// <summary>
/// One kernel cache entry on disk: the 8-byte magic <c>FCKCACH1</c>, the image's length (int64, little-endian), the
/// SHA-256 of the image (32 bytes), then the image. Decoding checks all three, so a truncated, padded, bit-flipped
/// or foreign file is never mistaken for a kernel.
/// </summary>
internal static class KernelCacheEntry
{
    /// <summary>Largest entry read back (a kernel image is kilobytes to a few MiB).</summary>
    public const long MaxEntryBytes = 64L << 20;

    private static ReadOnlySpan<byte> Magic => "FCKCACH1"u8;
    private const int HeaderBytes = 8 + 8 + 32;

    public static byte[] Encode(ReadOnlySpan<byte> image)
    {
        var entry = new byte[HeaderBytes + image.Length];
        Magic.CopyTo(entry);
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(entry.AsSpan(8), image.Length);
        SHA256.HashData(image, entry.AsSpan(16, 32));
        image.CopyTo(entry.AsSpan(HeaderBytes));
        return entry;
    }

    public static bool TryDecode(ReadOnlySpan<byte> entry, out byte[] image)
    {
        image = [];
        if (entry.Length <= HeaderBytes || !entry[..8].SequenceEqual(Magic))
        {
            return false;
        }
        long length = System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(entry[8..]);
        ReadOnlySpan<byte> payload = entry[HeaderBytes..];
        if (length != payload.Length)
        {
            return false;
        }
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(payload, hash);
        if (!hash.SequenceEqual(entry.Slice(16, 32)))
        {
            return false;
        }
        image = payload.ToArray();
        return true;
    }
}

/// <summary>
/// Loads kernels on first use for one device: a shipped fatbin when there is one, else NVRTC (through the disk
/// cache) for the device's architecture, else — for a driver that wants no image (the emulator) — nothing at all,
/// and the function is found by name. Modules stay loaded until the loader is disposed.
/// </summary>
public sealed class KernelLoader(IGpuDriver driver) : IDisposable
{
    private readonly Dictionary<string, nint> _modules = new(StringComparer.Ordinal);
    private readonly Dictionary<(string, string), GpuKernel> _kernels = [];
    private readonly Lock _gate = new();

    /// <summary>How each source was obtained (for <c>fastconv info</c> and logs).</summary>
    public List<CompiledKernel> Compiled { get; } = [];

    /// <summary>The <c>extern "C"</c> kernel <paramref name="function"/> of source file <paramref name="source"/>.</summary>
    public GpuKernel Get(string source, string function)
    {
        lock (_gate)
        {
            if (_kernels.TryGetValue((source, function), out GpuKernel? k))
            {
                return k;
            }
            if (!_modules.TryGetValue(source, out nint module))
            {
                module = driver.ModuleLoad(ImageFor(source));
                _modules[source] = module;
            }
            k = new GpuKernel(driver, driver.ModuleGetFunction(module, function), function);
            _kernels[(source, function)] = k;
            return k;
        }
    }

    private KernelImage ImageFor(string source)
    {
        if (driver.PreferredImage == KernelImageKind.None)
        {
            return KernelImage.Empty(source);
        }
        if (KernelSources.Fatbin(source) is { } fatbin)
        {
            return new KernelImage(KernelImageKind.Fatbin, fatbin, $"{source} (shipped fatbin)");
        }
        CompiledKernel c = KernelCompiler.Compile(source, driver.Device.ComputeMajor, driver.Device.ComputeMinor);
        Compiled.Add(c);
        return c.Image;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (nint m in _modules.Values)
            {
                try
                {
                    driver.ModuleUnload(m);
                }
                catch (FastConvException)
                {
                    // Disposal never throws; the context's teardown unloads what is left.
                }
            }
            _modules.Clear();
            _kernels.Clear();
        }
    }
}
