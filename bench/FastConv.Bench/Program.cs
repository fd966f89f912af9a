using BenchmarkDotNet.Running;

// Micro-benchmarks of kernels on the named shape sets: ./build.sh --target=Bench --filter='*Relu*'
BenchmarkSwitcher.FromAssembly(typeof(FastConv.Bench.ReluBenchmarks).Assembly).Run(args);
