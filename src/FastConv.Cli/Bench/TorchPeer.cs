using FastConv.Ops;
#if FASTCONV_TORCH
using TorchSharp;
using static TorchSharp.torch.nn.functional;
#endif

namespace FastConv.Cli.Bench;

/// <summary>
/// LibTorch through TorchSharp as a second CPU peer (<c>--vs ort,torch</c>): <c>torch.nn.functional.conv2d</c> on
/// the same input, weights and bias, with <c>torch.set_num_threads</c> equal to FastConv's threads.
/// <para>
/// Restored only when asked: TorchSharp-cpu brings LibTorch's ~0.6 GB native package, so the CLI references it
/// only when built with the MSBuild property <c>FastConvTorch=true</c>
/// (<c>dotnet build src/FastConv.Cli -c Release -p:FastConvTorch=true -o artifacts/torch-cli</c>; the property adds
/// the PackageReference and the FASTCONV_TORCH symbol). The default build, the tests and CI never restore it;
/// there <c>--vs torch</c> reports the peer as unavailable with that command.
/// </para>
/// <para>
/// Timed: one <c>conv2d</c> call into a fresh LibTorch tensor (TorchSharp has no out= overload), the previous
/// result released; copying the result into the compared buffer happens only when the check reads it.
/// </para>
/// </summary>
internal static class TorchPeer
{
    public const string Name = "torch";

    public const string BuildCommand = "dotnet build src/FastConv.Cli -c Release -p:FastConvTorch=true -o artifacts/torch-cli";

    public static IBenchSubject Conv(Conv2dShape s, float[] weights, float[] bias, int threads, AlignedBuffer x)
    {
        Padding2d pad = s.Params.Padding;
        if (pad.Top != pad.Bottom || pad.Left != pad.Right)
        {
            throw new WorkloadUnavailableException($"the torch peer takes symmetric padding only (conv2d's padding argument); {s} is asymmetric");
        }
#if FASTCONV_TORCH
        try
        {
            return new ConvSubject(s, weights, bias, threads, x);
        }
        catch (Exception e) when (e is not FastConvException)
        {
            // LibTorch's native libraries failed to load (TorchSharp wraps that in a TypeInitializationException
            // whose message blames a missing package reference); the loader's own message names the real cause.
            throw new WorkloadUnavailableException($"TorchSharp could not run here: {(e.InnerException ?? e).Message.Split('\n')[0]} {NativeLoadError()}");
        }
#else
        _ = (weights, bias, threads, x);
        throw new WorkloadUnavailableException($"this fastconv was built without the torch peer; build it with `{BuildCommand}` (restores TorchSharp-cpu, ~0.6 GB)");
#endif
    }

#if FASTCONV_TORCH
    /// <summary>What the dynamic loader says about LibTorchSharp (e.g. a libstdc++ too old for it), or nothing.</summary>
    private static string NativeLoadError()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        try
        {
            if (File.Exists(path))
            {
                System.Runtime.InteropServices.NativeLibrary.Free(System.Runtime.InteropServices.NativeLibrary.Load(path));
            }
            return "";
        }
        catch (DllNotFoundException e)
        {
            // The dlerror text (e.g. "version `GLIBCXX_3.4.32' not found") is the last line of the message.
            return "The loader: " + e.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[^1];
        }
    }

    private sealed class ConvSubject : IBenchSubject
    {
        private readonly torch.Tensor _x, _w, _b;
        private readonly long[] _stride, _padding, _dilation;
        private readonly long _groups;
        private readonly AlignedBuffer _y;
        private torch.Tensor? _last;

        public ConvSubject(Conv2dShape s, float[] weights, float[] bias, int threads, AlignedBuffer x)
        {
            torch.set_num_threads(threads);
            _x = torch.tensor(x.Span.ToArray(), s.InputShape.Dims.ToArray().Select(d => (long)d).ToArray());
            _w = torch.tensor(weights, s.WeightShape.Dims.ToArray().Select(d => (long)d).ToArray());
            _b = torch.tensor(bias, [s.K]);
            _stride = [s.Params.StrideH, s.Params.StrideW];
            _padding = [s.Params.Padding.Top, s.Params.Padding.Left];
            _dilation = [s.Params.DilationH, s.Params.DilationW];
            _groups = s.Params.Groups;
            _y = new AlignedBuffer(s.OutputShape);
        }

        public string Name => TorchPeer.Name;
        public string? Algorithm => null;
        public string Device => "cpu";

        public ReadOnlySpan<float> Output
        {
            get
            {
                if (_last is not null)
                {
                    _last.data<float>().CopyTo(_y.Span);
                }
                return _y.Span;
            }
        }

        public void Run()
        {
            _last?.Dispose();
            _last = conv2d(_x, _w, _b, _stride, _padding, _dilation, _groups);
        }

        public void Poison()
        {
            _last?.Dispose();
            _last = null;
            _y.Poison();
        }

        public void Dispose()
        {
            _last?.Dispose();
            _x.Dispose();
            _w.Dispose();
            _b.Dispose();
        }
    }
#endif
}
