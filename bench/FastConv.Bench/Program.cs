using BenchmarkDotNet.Running;
using FastConv.Bench;

// The CPU benchmarks of issue 4 (see Conv2dBenchmarks.cs for how to run each set):
//   ./build.sh --target=Bench --filter='*ResNet50Benchmarks*'
//   dotnet run -c Release --project bench/FastConv.Bench -- report    (rewrite docs/cpu-benchmarks.md from stored rows)
if (args.Length > 0 && args[0] == "networks")
{
    return NetworkBenchmarks.Run(args[1..]); // whole networks from one ONNX file vs ONNX Runtime (issue 5)
}
if (args.Length > 0 && args[0] == "report")
{
    return CpuBenchmarkReport.Run(args[1..]);
}
if (args.Length > 0 && args[0] == "quick")
{
    return QuickTiming.Run(args[1..]);
}
var summaries = BenchmarkSwitcher.FromAssembly(typeof(Conv2dBenchmarks).Assembly).Run(args, BenchConfig.Create(args));
// A case whose output check (or run) failed has no result: exit non-zero so ./build.sh --target=Bench fails too.
var failed = summaries.SelectMany(s => s.Reports).Where(r => !r.Success).Select(r => r.BenchmarkCase.DisplayInfo).ToList();
foreach (string name in failed)
{
    Console.Error.WriteLine($"FAILED: {name} (see the log above: FastConv's output check or the run threw)");
}
return failed.Count > 0 || summaries.Any(s => s.HasCriticalValidationErrors) ? 1 : 0;
