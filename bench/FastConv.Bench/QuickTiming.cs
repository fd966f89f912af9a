using System.Diagnostics;
using FastConv.Backends;
using FastConv.Cli.Bench;
using FastConv.Cpu;
using FastConv.Ops;

namespace FastConv.Bench;

/// <summary>
/// A fast loop for tuning one kernel, not a replacement for the BenchmarkDotNet table: the conv layers of a
/// named set, FastConv (with a chosen algorithm) and ONNX Runtime set up exactly as <see cref="Conv2dBenchmarks"/>
/// does (same data, output check included), then timed alternately — FastConv, ORT, FastConv, ... — so that
/// noise from other processes hits both about equally; prints the median of each and their ratio.
/// <code>
/// dotnet run -c Release --project bench/FastConv.Bench -- quick vgg16 conv3_2,conv4_2 --threads 1,2 --batch 1,8 --algo winograd --reps 15
/// </code>
/// Layers: a comma list or <c>all</c>; <c>--algo</c> forces a FastConv algorithm (default: the automatic choice).
/// </summary>
internal static unsafe class QuickTiming
{
    /// <summary>
    /// <c>--clock thread</c>: time by the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID) instead of the wall
    /// clock — for one-thread runs on a machine shared with other work, where time spent descheduled would
    /// otherwise land on whichever side happened to be running.
    /// </summary>
    private static bool s_threadClock;

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, long* ts);

    private static double NowMs()
    {
        if (!s_threadClock)
        {
            return Stopwatch.GetTimestamp() * 1000.0 / Stopwatch.Frequency;
        }
        long* ts = stackalloc long[2];
        ClockGetTime(3, ts); // CLOCK_THREAD_CPUTIME_ID
        return ts[0] * 1000.0 + ts[1] / 1e6;
    }

    public static int Run(string[] args)
    {
        if (args.Length < 2)
        {
            Console.Error.WriteLine("usage: quick <vgg16|resnet50|mobilenet> <layer,...|all|3x3s1> [--threads 1,2] [--batch 1,8] [--algo name] [--reps n] [--min-ms t] [--wino-t tiles] [--wino-mode shared|private]");
            return 2;
        }
        IReadOnlyList<NamedConv2d> set = args[0].ToLowerInvariant() switch
        {
            "vgg16" => ShapeSets.Vgg16,
            "resnet50" => ShapeSets.ResNet50,
            "mobilenet" => ShapeSets.MobileNet,
            _ => throw new ArgumentException($"unknown set '{args[0]}'"),
        };
        IEnumerable<NamedConv2d> layers = args[1] switch
        {
            "all" => set,
            "3x3s1" => set.Where(l => Conv2dBenchmarks.IsWinogradCandidate(l.WithBatch(1))),
            _ => args[1].Split(',').Select(n => set.FirstOrDefault(l => l.Name == n) ?? throw new ArgumentException($"no layer '{n}'")),
        };
        int[] threads = [1, 2], batches = [1, 8];
        string? algo = null;
        int reps = 11;
        var schedule = new FastConv.Cpu.Conv2d.WinogradSchedule(0, null);
        double minMs = 300;
        for (int i = 2; i < args.Length; i += 2)
        {
            string v = args[i + 1];
            switch (args[i])
            {
                case "--threads": threads = v.Split(',').Select(int.Parse).ToArray(); break;
                case "--batch": batches = v.Split(',').Select(int.Parse).ToArray(); break;
                case "--algo": algo = v; break;
                case "--reps": reps = int.Parse(v); break;
                case "--wino-t": schedule = schedule with { BlockTiles = int.Parse(v) }; break;
                case "--wino-mode": schedule = schedule with { Cooperative = v == "shared" }; break;
                case "--min-ms": minMs = double.Parse(v); break;
                case "--clock": s_threadClock = v == "thread"; break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }
        Console.WriteLine($"{"layer",-22} {"thr",3} {"N",3} {"algorithm",-12} {"FastConv ms",11} {"ORT ms",9} {"ratio",6}");
        foreach (NamedConv2d layer in layers)
        {
            foreach (int t in threads)
            {
                foreach (int n in batches)
                {
                    Case(layer, t, n, algo, schedule, reps, minMs);
                }
            }
        }
        return 0;
    }

    private static void Case(NamedConv2d layer, int threads, int batch, string? algo, FastConv.Cpu.Conv2d.WinogradSchedule schedule, int reps, double minMs)
    {
        Conv2dShape shape = layer.WithBatch(batch);
        float gain = 1f / MathF.Sqrt(shape.InputChannelsPerGroup * shape.R * shape.S);
        float[] weights = new float[shape.WeightShape.ElementCount];
        AlignedBuffer.Uniform(weights, AlignedBuffer.StableSeed(layer.ToString(), 2), -gain, gain);
        float[] bias = new float[shape.K];
        AlignedBuffer.Uniform(bias, AlignedBuffer.StableSeed(layer.ToString(), 3), -0.1f, 0.1f);
        var x = new AlignedBuffer(shape.InputShape).FillUniform(AlignedBuffer.StableSeed(layer.ToString(), 1), -1f, 1f);
        var yf = new AlignedBuffer(shape.OutputShape);
        var yo = new AlignedBuffer(shape.OutputShape);
        using var backend = new CpuBackend(new CpuBackendOptions { Threads = threads, ConvAlgorithm = algo });
        Tensor w = Tensor.FromArray(weights, shape.WeightShape.Dims), b = Tensor.FromArray(bias, shape.K);
        using IConv2dPlan plan = schedule == default || algo != "winograd"
            ? backend.PlanConv2d(shape, w, b, ConvEpilogue.None)
            : FastConv.Cpu.Conv2d.WinogradConv2d.F4.Plan(shape, w, b, ConvEpilogue.None, backend.Context, schedule);
        using var ort = OrtOneNode.Conv(shape, weights, bias, threads, x, yo);
        yf.Poison();
        plan.Execute(x.Tensor, yf.Tensor);
        ort.Run();
        OutputCheck.Agree($"{layer} N={batch} threads={threads} {plan.Algorithm}", yf.Span, yo.Span, OutputCheck.FastTolerance);

        // Calls per sample so a sample lasts ≥ ~minMs / reps.
        var sw = Stopwatch.StartNew();
        plan.Execute(x.Tensor, yf.Tensor);
        ort.Run();
        double once = Math.Max(sw.Elapsed.TotalMilliseconds, 0.01);
        int inner = Math.Max(1, (int)(minMs / reps / once));
        var f = new double[reps];
        var o = new double[reps];
        for (int r = 0; r < reps; r++)
        {
            double t0 = NowMs();
            for (int i = 0; i < inner; i++)
            {
                plan.Execute(x.Tensor, yf.Tensor);
            }
            f[r] = (NowMs() - t0) / inner;
            t0 = NowMs();
            for (int i = 0; i < inner; i++)
            {
                ort.Run();
            }
            o[r] = (NowMs() - t0) / inner;
        }
        Array.Sort(f);
        Array.Sort(o);
        double fm = f[reps / 2], om = o[reps / 2];
        Console.WriteLine($"{layer,-22} {threads,3} {batch,3} {plan.Algorithm,-12} {fm,11:F3} {om,9:F3} {fm / om,6:F2}");
    }
}
