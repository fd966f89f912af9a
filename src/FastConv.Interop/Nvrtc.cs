using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace FastConv.Interop;

/// <summary>An NVRTC call failed: the API name, the nvrtcResult, NVRTC's own string for it, and the compile log when there is one.</summary>
public sealed class NvrtcException : FastConvException
{
    public NvrtcException(string api, int status, string? description, string? log = null)
        : base($"{api} failed: {description ?? "NVRTC_ERROR " + status} ({status})" + (string.IsNullOrWhiteSpace(log) ? "." : $". Compiler log:\n{log.TrimEnd()}"))
    {
        Api = api;
        Status = status;
        Log = log;
    }

    public string Api { get; }
    public int Status { get; }
    public string? Log { get; }
}

/// <summary>What one NVRTC compilation produced: the image (PTX text NUL-terminated, or a cubin) and the log (warnings).</summary>
public sealed record NvrtcOutput(byte[] Image, bool IsCubin, string Log);

/// <summary>
/// NVRTC, the runtime CUDA C++ compiler, bound with source-generated <c>[LibraryImport]</c>s to
/// libnvrtc.so.13/.12/.11.2 (resolved by <see cref="NativeLibraries"/>). Runs without a GPU.
/// </summary>
public static unsafe partial class Nvrtc
{
    private const int CompilationFailed = 6;

    [LibraryImport(NativeLibraries.NvrtcImport)]
    private static partial int nvrtcVersion(out int major, out int minor);

    [LibraryImport(NativeLibraries.NvrtcImport)]
    private static partial int nvrtcGetNumSupportedArchs(out int count);

    [LibraryImport(NativeLibraries.NvrtcImport)]
    private static partial int nvrtcGetSupportedArchs(int* archs);

    [LibraryImport(NativeLibraries.NvrtcImport)]
    private static partial byte* nvrtcGetErrorString(int result);

    [LibraryImport(NativeLibraries.NvrtcImport)]
    private static partial int nvrtcCreateProgram(out nint program, byte* source, byte* name, int numHeaders, byte** headers, byte** includeNames);

    [LibraryImport(NativeLibraries.NvrtcImport)]
    internal static partial int nvrtcDestroyProgram(ref nint program);

    [LibraryImport(NativeLibraries.NvrtcImport)]
    private static partial int nvrtcCompileProgram(nint program, int numOptions, byte** options);

    [LibraryImport(NativeLibraries.NvrtcImport)]
    private static partial int nvrtcGetProgramLogSize(nint program, out nuint size);

    [LibraryImport(NativeLibraries.NvrtcImport)]
    private static partial int nvrtcGetProgramLog(nint program, byte* log);

    [LibraryImport(NativeLibraries.NvrtcImport, EntryPoint = "nvrtcGetPTXSize")]
    private static partial int nvrtcGetPtxSize(nint program, out nuint size);

    [LibraryImport(NativeLibraries.NvrtcImport, EntryPoint = "nvrtcGetPTX")]
    private static partial int nvrtcGetPtx(nint program, byte* ptx);

    [LibraryImport(NativeLibraries.NvrtcImport, EntryPoint = "nvrtcGetCUBINSize")]
    private static partial int nvrtcGetCubinSize(nint program, out nuint size);

    [LibraryImport(NativeLibraries.NvrtcImport, EntryPoint = "nvrtcGetCUBIN")]
    private static partial int nvrtcGetCubin(nint program, byte* cubin);

    /// <summary>The one place an nvrtcResult becomes an exception, with NVRTC's own string.</summary>
    public static void ThrowIfFailed(int result, [CallerArgumentExpression(nameof(result))] string api = "", string? log = null)
    {
        if (result == 0)
        {
            return;
        }
        int paren = api.IndexOf('(', StringComparison.Ordinal);
        string apiName = paren > 0 ? api[..paren] : api;
        throw new NvrtcException(apiName, result, ErrorString(result), log);
    }

    /// <summary>NVRTC's string for a status, e.g. NVRTC_ERROR_COMPILATION.</summary>
    public static string? ErrorString(int result)
    {
        byte* s = nvrtcGetErrorString(result);
        return s == null ? null : Marshal.PtrToStringUTF8((nint)s);
    }

    /// <summary>The NVRTC version, e.g. (11, 8).</summary>
    public static (int Major, int Minor) Version()
    {
        ThrowIfFailed(nvrtcVersion(out int major, out int minor));
        return (major, minor);
    }

    /// <summary>The real architectures this NVRTC can emit cubins for (e.g. 35, 37, 50, …, 90).</summary>
    public static IReadOnlyList<int> SupportedArchitectures()
    {
        ThrowIfFailed(nvrtcGetNumSupportedArchs(out int count));
        int[] archs = new int[count];
        fixed (int* p = archs)
        {
            ThrowIfFailed(nvrtcGetSupportedArchs(p));
        }
        return archs;
    }

    /// <summary>
    /// Compiles <paramref name="source"/> with the given headers (name → text, found by <c>#include "name"</c>)
    /// and options. <c>--gpu-architecture=sm_XX</c> gives a cubin (<paramref name="cubin"/> true), <c>compute_XX</c>
    /// PTX. A compile error throws <see cref="NvrtcException"/> carrying the log; warnings come back in the log.
    /// </summary>
    public static NvrtcOutput Compile(string source, string name, IReadOnlyList<KeyValuePair<string, string>> headers, IReadOnlyList<string> options, bool cubin)
    {
        var pinned = new List<GCHandle>();
        try
        {
            byte* Utf8(string s)
            {
                var h = GCHandle.Alloc(Encoding.UTF8.GetBytes(s + "\0"), GCHandleType.Pinned);
                pinned.Add(h);
                return (byte*)h.AddrOfPinnedObject();
            }
            byte** headerTexts = stackalloc byte*[Math.Max(1, headers.Count)];
            byte** headerNames = stackalloc byte*[Math.Max(1, headers.Count)];
            for (int i = 0; i < headers.Count; i++)
            {
                headerTexts[i] = Utf8(headers[i].Value);
                headerNames[i] = Utf8(headers[i].Key);
            }
            byte** opts = stackalloc byte*[Math.Max(1, options.Count)];
            for (int i = 0; i < options.Count; i++)
            {
                opts[i] = Utf8(options[i]);
            }
            ThrowIfFailed(nvrtcCreateProgram(out nint raw, Utf8(source), Utf8(name), headers.Count, headerTexts, headerNames));
            using var program = new NvrtcProgramHandle(raw);
            int compiled = nvrtcCompileProgram(raw, options.Count, opts);
            string log = ReadLog(raw);
            if (compiled != 0)
            {
                ThrowIfFailed(compiled, $"nvrtcCompileProgram({name})", compiled == CompilationFailed ? log : null);
            }
            byte[] image;
            if (cubin)
            {
                ThrowIfFailed(nvrtcGetCubinSize(raw, out nuint size));
                image = new byte[(int)size];
                fixed (byte* p = image)
                {
                    ThrowIfFailed(nvrtcGetCubin(raw, p));
                }
            }
            else
            {
                ThrowIfFailed(nvrtcGetPtxSize(raw, out nuint size));
                image = new byte[(int)size]; // includes the terminating NUL cuModuleLoadData needs
                fixed (byte* p = image)
                {
                    ThrowIfFailed(nvrtcGetPtx(raw, p));
                }
            }
            return new NvrtcOutput(image, cubin, log);
        }
        finally
        {
            foreach (GCHandle h in pinned)
            {
                h.Free();
            }
        }
    }

    private static string ReadLog(nint program)
    {
        ThrowIfFailed(nvrtcGetProgramLogSize(program, out nuint size));
        if (size <= 1)
        {
            return "";
        }
        byte[] log = new byte[(int)size];
        fixed (byte* p = log)
        {
            ThrowIfFailed(nvrtcGetProgramLog(program, p));
        }
        return Encoding.UTF8.GetString(log, 0, log.Length - 1).Trim();
    }
}

/// <summary>An nvrtcProgram; destroying it never throws.</summary>
public sealed class NvrtcProgramHandle : SafeHandle
{
    internal NvrtcProgramHandle(nint program) : base(0, ownsHandle: true) => SetHandle(program);

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        nint p = handle;
        return Nvrtc.nvrtcDestroyProgram(ref p) == 0;
    }
}
