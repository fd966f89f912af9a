using BenchmarkDotNet.Running;
using FastConv.Cli.Bench;
using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Ops;

namespace FastConv.Bench;

/// <summary>What one benchmark case computes: the work the report divides its time by.</summary>
/// <param name="Set">The shape set: vgg16, resnet50, mobilenet, pool, relu or peak.</param>
/// <param name="Layer">The layer (or op) name within the set.</param>
/// <param name="Threads">FastConv's and ORT's thread count.</param>
/// <param name="Batch">N.</param>
/// <param name="Method">FastConv, FastConvExact, OnnxRuntime, Copy or Fma.</param>
/// <param name="Flops">Useful FLOPs of one call: 2·N·K·(C/groups)·R·S·P·Q for a conv; 0 for memory-bound ops.</param>
/// <param name="Bytes">Bytes one call must read plus write at minimum (input + output; a copy moves its input twice).</param>
/// <param name="Shape">The conv problem, or null.</param>
internal sealed record CaseInfo(string Set, string Layer, int Threads, int Batch, string Method, double Flops, double Bytes, Conv2dShape? Shape);

/// <summary>Maps a BenchmarkDotNet case (class + parameters + method) to what it computes.</summary>
internal static class BenchCatalog
{
    public static IReadOnlyList<NamedConv2d>? ConvSet(Type type) => type.Name switch
    {
        nameof(Vgg16Benchmarks) => ShapeSets.Vgg16,
        nameof(ResNet50Benchmarks) => ShapeSets.ResNet50,
        nameof(MobileNetBenchmarks) => ShapeSets.MobileNet,
        _ => null,
    };

    public static CaseInfo? Describe(BenchmarkCase benchmarkCase)
    {
        Type type = benchmarkCase.Descriptor.Type;
        string method = benchmarkCase.Descriptor.WorkloadMethod.Name;
        int threads = Convert.ToInt32(benchmarkCase.Parameters["Threads"], System.Globalization.CultureInfo.InvariantCulture);
        int batch = benchmarkCase.Parameters.Items.Any(p => p.Name == "Batch")
            ? Convert.ToInt32(benchmarkCase.Parameters["Batch"], System.Globalization.CultureInfo.InvariantCulture)
            : 1;
        if (ConvSet(type) is { } set)
        {
            string layerName = (string)benchmarkCase.Parameters["Layer"];
            NamedConv2d layer = set.First(l => l.Name == layerName);
            Conv2dShape shape = layer.WithBatch(batch);
            double bytes = 4.0 * (shape.InputShape.ElementCount + shape.WeightShape.ElementCount + shape.OutputShape.ElementCount);
            return new CaseInfo(layer.Set, layer.Name, threads, batch, method, shape.Flops, bytes, shape);
        }
        TensorShape input = ShapeSets.PoolReluInput(batch);
        double inBytes = 4.0 * input.ElementCount;
        return type.Name switch
        {
            nameof(PoolBenchmarks) => new CaseInfo("pool", "maxpool2x2_s2", threads, batch, method, 0,
                method == nameof(MemoryBoundBenchmarks.Copy) ? 2 * inBytes : inBytes + 4.0 * Pool2dShape.From(input, ShapeSets.Pool2x2, "MaxPool2d").OutputShape.ElementCount, null),
            nameof(ReluBenchmarks) => new CaseInfo("relu", "relu", threads, batch, method, 0, 2 * inBytes, null),
            nameof(FmaPeakBenchmarks) => new CaseInfo("peak", "fma", threads, 1, method, 2.0 * FmaPeak.Steps * 16 * FmaPeak.Lanes * threads, 0, null),
            _ => null,
        };
    }

    /// <summary>
    /// The algorithm FastConv's planner picks for a case (planned again here with zero weights: choosing
    /// depends on shape, threads and precision only), e.g. "winograd-f4x4" or "reference" while a path is missing.
    /// </summary>
    public static string? Algorithm(CaseInfo info)
    {
        if (info.Method is not (nameof(Conv2dBenchmarks.FastConv) or nameof(Conv2dBenchmarks.FastConvExact)))
        {
            return null;
        }
        var precision = info.Method == nameof(Conv2dBenchmarks.FastConvExact) ? CpuPrecision.Exact : CpuPrecision.Fast;
        using var backend = new CpuBackend(new CpuBackendOptions { Threads = info.Threads, Precision = precision });
        if (info.Shape is { } shape)
        {
            using IConv2dPlan plan = backend.PlanConv2d(shape, Tensor.Allocate(shape.WeightShape), Tensor.Allocate(shape.K), ConvEpilogue.None);
            return plan.Algorithm;
        }
        TensorShape input = ShapeSets.PoolReluInput(info.Batch);
        using IUnaryPlan unary = info.Set == "pool"
            ? backend.PlanPool2d(Pool2dShape.From(input, ShapeSets.Pool2x2, "MaxPool2d"), max: true)
            : backend.PlanActivation(Activation.Relu, input);
        return unary.Algorithm;
    }
}
