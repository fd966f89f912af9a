using BenchmarkDotNet.Attributes;
using FastConv.Cpu;
using FastConv.Ops;

namespace FastConv.Bench;

/// <summary>
/// Relu on the <c>relu</c> set (64×224×224, the tensor after VGG's conv1_2), against a plain copy of
/// the same bytes: the memory-bound ceiling a fused or vectorized Relu should approach.
/// </summary>
[MemoryDiagnoser]
public class ReluBenchmarks
{
    private Tensor _x = null!;
    private Tensor _y = null!;

    [Params(1)]
    public int N { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var shape = ShapeSets.PoolReluInput(N);
        _x = Tensor.Allocate(shape);
        _y = Tensor.Allocate(shape);
        var rng = new Random(1);
        Span<float> s = _x.Span;
        for (int i = 0; i < s.Length; i++)
        {
            s[i] = rng.NextSingle() - 0.5f;
        }
    }

    [Benchmark(Baseline = true, Description = "copy (same bytes)")]
    public void Copy() => _x.Span.CopyTo(_y.Span);

    [Benchmark(Description = "Reference.Relu")]
    public void ReferenceRelu() => Reference.Relu(_x, _y);
}
