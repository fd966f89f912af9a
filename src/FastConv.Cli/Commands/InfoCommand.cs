using System.CommandLine;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Gpu;
using FastConv.Interop;
using Spectre.Console;

namespace FastConv.Cli.Commands;

/// <summary>What <c>fastconv info</c> reports: enough to diagnose "why is it slow" and "why no GPU".</summary>
public sealed record InfoReport(
    string FastConvVersion,
    string CpuModel,
    int LogicalCores,
    IReadOnlyList<string> CpuFeatures,
    string SimdLevel,
    string SimdDetected,
    string SimdReason,
    string DotnetVersion,
    string Os,
    string RuntimeIdentifier,
    bool GpuUsable,
    string? GpuDriverLibrary,
    string? GpuDriverVersion,
    IReadOnlyList<InfoDevice> GpuDevices,
    string? GpuProblem,
    IReadOnlyList<InfoLibrary> Libraries,
    IReadOnlyList<string> NvrtcArchitectures,
    string KernelCache,
    IReadOnlyList<InfoBackend> Backends);

/// <summary>One backend name: whether it can be created here, and why not.</summary>
public sealed record InfoBackend(string Name, bool Available, string? Reason);

public sealed record InfoDevice(int Ordinal, string Name, string Architecture, int Multiprocessors, long MemoryBytes);

public sealed record InfoLibrary(string Name, string? Path, string? Version, string? Problem);

[JsonSerializable(typeof(InfoReport))]
internal sealed partial class InfoJsonContext : JsonSerializerContext
{
    /// <summary>
    /// Indented snake_case, with apostrophes and non-ASCII text written as they are ("the CPU's features", not
    /// "CPU\u0027s"): System.Text.Json's default encoder escapes what is unsafe in HTML, and this output is never HTML.
    /// </summary>
    public static InfoJsonContext Relaxed { get; } = new(new JsonSerializerOptions
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}

/// <summary><c>fastconv info</c>: CPU, SIMD level (and how to force a lower one), .NET, GPU status and CUDA libraries.</summary>
public static class InfoCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var json = new Option<bool>("--json") { Description = "Print the report as JSON instead of a table." };
        var command = new Command("info", "Print the CPU, the SIMD level FastConv uses, the .NET version, and the GPU status as detected.")
        {
            json,
        };
        command.SetAction(parse =>
        {
            InfoReport report = Collect();
            if (parse.GetValue(json))
            {
                parse.InvocationConfiguration.Output.WriteLine(JsonSerializer.Serialize(report, InfoJsonContext.Relaxed.InfoReport));
            }
            else
            {
                Render(report, console);
            }
            return 0;
        });
        return command;
    }

    /// <summary>Gathers the report; never throws (a missing library or no GPU is part of the answer).</summary>
    public static InfoReport Collect()
    {
        GpuStatus gpu = GpuProbe.Detect();
        var libraries = GpuProbe.Libraries()
            .Select(l => new InfoLibrary(LibraryName(l.Kind), l.Path, l.Version, l.Problem))
            .ToList();
        string version = typeof(InfoCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?";
        return new InfoReport(
            version.Split('+')[0],
            Cpu.CpuFeatures.CpuModel(),
            Environment.ProcessorCount,
            Cpu.CpuFeatures.FeatureFlags(),
            Cpu.CpuFeatures.Current.ToString(),
            Cpu.CpuFeatures.Detected.ToString(),
            Cpu.CpuFeatures.Explain(),
            RuntimeInformation.FrameworkDescription,
            RuntimeInformation.OSDescription,
            RuntimeInformation.RuntimeIdentifier,
            gpu.Usable,
            gpu.DriverLibrary,
            gpu.DriverVersion is { } v ? $"{v.Major}.{v.Minor}" : null,
            gpu.Devices.Select(d => new InfoDevice(d.Ordinal, d.Name, d.Architecture, d.MultiprocessorCount, d.TotalMemoryBytes)).ToList(),
            gpu.Unusable,
            libraries,
            NvrtcArchitectures(),
            KernelCompiler.CacheDirectory(),
            BackendAvailability());
    }

    /// <summary>The real architectures NVRTC can emit cubins for (empty without NVRTC).</summary>
    private static IReadOnlyList<string> NvrtcArchitectures()
    {
        if (NativeLibraries.Probe(NativeLibraryKind.Nvrtc).Path is null)
        {
            return [];
        }
        try
        {
            return [.. Nvrtc.SupportedArchitectures().Select(a => $"sm_{a}")];
        }
        catch (FastConvException)
        {
            return [];
        }
        catch (EntryPointNotFoundException)
        {
            return [];
        }
    }

    /// <summary>Each backend name: created and disposed once to see, or the reason it cannot be.</summary>
    private static IReadOnlyList<InfoBackend> BackendAvailability()
    {
        var result = new List<InfoBackend>();
        foreach (string name in BackendNames.All)
        {
            try
            {
                using IBackend backend = BackendRegistry.Create(name);
                result.Add(new InfoBackend(name, true, null));
            }
            catch (BackendUnavailableException e)
            {
                result.Add(new InfoBackend(name, false, e.Reason));
            }
            catch (FastConvException e)
            {
                result.Add(new InfoBackend(name, false, e.Message));
            }
        }
        return result;
    }

    public static void Render(InfoReport r, IAnsiConsole console)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumn("").AddColumn("");
        table.HideHeaders();
        void Row(string key, string value) => table.AddRow(new Markup($"[bold]{Markup.Escape(key)}[/]"), new Markup(value));
        Row("FastConv", Markup.Escape(r.FastConvVersion));
        Row("CPU", Markup.Escape($"{r.CpuModel}, {r.LogicalCores} logical cores"));
        Row("CPU features", Markup.Escape(string.Join(" ", r.CpuFeatures)));
        Row("SIMD level", $"[green]{Markup.Escape(r.SimdLevel)}[/] (detected {Markup.Escape(r.SimdDetected)}): {Markup.Escape(r.SimdReason)}");
        Row(".NET", Markup.Escape($"{r.DotnetVersion} on {r.Os} ({r.RuntimeIdentifier})"));
        if (r.GpuUsable)
        {
            foreach (InfoDevice d in r.GpuDevices)
            {
                Row($"GPU {d.Ordinal}", Markup.Escape($"{d.Name}, {d.Architecture}, {d.Multiprocessors} SMs, {d.MemoryBytes / (1L << 30)} GiB (driver CUDA {r.GpuDriverVersion})"));
            }
        }
        else
        {
            Row("GPU", $"[yellow]none usable[/]: {Markup.Escape(r.GpuProblem ?? "unknown")}");
        }
        foreach (InfoLibrary l in r.Libraries)
        {
            string value = l.Path is null
                ? $"[yellow]missing[/]: {Markup.Escape(l.Problem ?? "")}"
                : Markup.Escape($"{l.Version ?? "version unknown"} at {l.Path}") + (l.Problem is null ? "" : $" [yellow]({Markup.Escape(l.Problem)})[/]");
            Row(l.Name, value);
        }
        if (r.NvrtcArchitectures.Count > 0)
        {
            Row("NVRTC targets", Markup.Escape(string.Join(" ", r.NvrtcArchitectures)));
        }
        Row("Kernel cache", Markup.Escape(r.KernelCache));
        foreach (InfoBackend b in r.Backends)
        {
            Row($"backend {b.Name}", b.Available ? "[green]available[/]" : $"[yellow]unavailable[/]: {Markup.Escape(b.Reason ?? "")}");
        }
        console.Write(table);
    }

    private static string LibraryName(NativeLibraryKind kind) => kind switch
    {
        NativeLibraryKind.Cuda => "CUDA driver",
        NativeLibraryKind.Nvrtc => "NVRTC",
        NativeLibraryKind.Cublas => "cuBLAS",
        NativeLibraryKind.Cudnn => "cuDNN",
        _ => kind.ToString(),
    };
}
