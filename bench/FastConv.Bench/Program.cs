using BenchmarkDotNet.Running;
using FastConv.Bench;

// The CPU benchmarks of issue 4 (see Conv2dBenchmarks.cs for how to run each set):
//   ./build.sh --target=Bench --filter='*ResNet50Benchmarks*'
//   dotnet run -c Release --project bench/FastConv.Bench -- report    (rewrite docs/cpu-benchmarks.md from stored rows)
if (args.Length > 0 && args[0] == "report")
{
    return CpuBenchmarkReport.Run(args[1..]);
}
BenchmarkSwitcher.FromAssembly(typeof(Conv2dBenchmarks).Assembly).Run(args, BenchConfig.Create(args));
return 0;
