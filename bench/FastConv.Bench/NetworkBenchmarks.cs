using System.Diagnostics;
using FastConv.Networks;
using FastConv.Onnx;
using FastConv.Sessions;
using FastConv.Tests.Support;
using Microsoft.ML.OnnxRuntime;

namespace FastConv.Bench;

/// <summary>
/// Whole networks from one ONNX file on FastConv (cpu backend, optimizer on) and ONNX Runtime (CPU provider,
/// ORT_ENABLE_ALL, the same intra-op thread count, inputs and outputs bound once), batch 1, in one process:
/// <c>dotnet run -c Release --project bench/FastConv.Bench -- networks [--threads 1,2] [--nets vgg16,resnet18,mobilenetv3] [--iterations N]</c>.
/// vgg16 and resnet18 are the builtins written as ONNX (<see cref="OnnxExport"/>); mobilenetv3 is MobileNetV3-Large's
/// layout at 224 (tests/…/OnnxTestNets.cs). Iterations alternate FastConv and ORT so both see the same machine load;
/// the figure is the median. Outputs are checked against each other first (1e-3 of max|y|).
/// </summary>
internal static class NetworkBenchmarks
{
    public static int Run(string[] args)
    {
        int[] threads = [1, 2];
        string[] nets = ["vgg16", "resnet18", "mobilenetv3"];
        int iterations = 0;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--threads": threads = [.. args[i + 1].Split(',').Select(int.Parse)]; break;
                case "--nets": nets = args[i + 1].Split(','); break;
                case "--iterations": iterations = int.Parse(args[i + 1]); break;
            }
        }
        Console.WriteLine("| network | threads | FastConv cpu (ms) | ONNX Runtime (ms) | ratio |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (string name in nets)
        {
            var (model, input, shape) = Model(name);
            var x = new float[shape.Aggregate(1, (a, b) => a * b)];
            var rng = new Random(1);
            for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
            foreach (int t in threads)
            {
                var (fc, ort) = Time(model, input, shape, x, t, iterations > 0 ? iterations : name == "vgg16" ? 15 : 60);
                Console.WriteLine($"| {name} | {t} | {fc:F2} | {ort:F2} | {fc / ort:F2} |");
            }
        }
        return 0;
    }

    private static (byte[] Model, string Input, int[] Shape) Model(string name)
    {
        if (name.StartsWith("mobilenetv3", StringComparison.Ordinal))
        {
            var net = OnnxTestNets.MobileNetV3Large(224);
            return (net.Model, net.Input, net.InputShape);
        }
        var g = Builtins.Create(name);
        return (OnnxExport.ToBytes(g), g.Inputs[0].Name, [.. g.Inputs[0].Shape]);
    }

    private static (double FastConv, double Ort) Time(byte[] model, string input, int[] shape, float[] x, int threads, int iterations)
    {
        using var session = new FastConvSession(OnnxModel.Load(model), new FastConv.Sessions.FastConvSessionOptions { Backend = "cpu", Threads = threads });
        string output = session.Outputs[0].Name;
        var y = new float[session.Outputs[0].Shape.ElementCount];

        using var options = new Microsoft.ML.OnnxRuntime.SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        using var ort = new InferenceSession(model, options);
        var yOrt = new float[y.Length];
        using var xv = OrtValue.CreateTensorValueFromMemory(x, [.. shape.Select(d => (long)d)]);
        using var yv = OrtValue.CreateTensorValueFromMemory(yOrt, [.. session.Outputs[0].Shape.Select(d => (long)d)]);
        using var binding = ort.CreateIoBinding();
        binding.BindInput(input, xv);
        binding.BindOutput(output, yv);
        using var runOptions = new RunOptions();

        void RunFastConv() => session.Run(input, x, output, y);
        void RunOrt() => ort.RunWithBinding(runOptions, binding);

        for (int i = 0; i < 3; i++)
        {
            RunFastConv();
            RunOrt();
        }
        double max = yOrt.Max(v => Math.Abs((double)v)), worst = 0;
        for (int i = 0; i < y.Length; i++) worst = Math.Max(worst, Math.Abs(y[i] - yOrt[i]));
        if (!(worst <= 1e-3 * max + 1e-6)) // a sanity check; the tests hold the real bounds (OnnxNetworkTests)
            throw new InvalidOperationException($"outputs differ: max |Δ| {worst:E2}, max|y| {max:G4}");

        var fc = new double[iterations];
        var or = new double[iterations];
        for (int i = 0; i < iterations; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            RunFastConv();
            fc[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            t0 = Stopwatch.GetTimestamp();
            RunOrt();
            or[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        return (Median(fc), Median(or));
    }

    private static double Median(double[] v)
    {
        var s = v.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }
}
