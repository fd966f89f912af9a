using CsCheck;
using FastConv.Cpu;
using FastConv.Ops;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>
/// A 1×1 convolution (stride 1, no padding, one group) is a GEMM per image:
/// <c>Y_n[K, H·W] = W[K, C] · X_n[C, H·W]</c>. Checked between the two reference ops on random
/// integer-valued problems, where both are exact.
/// </summary>
public sealed class ConvGemmPropertyTests
{
    [Test]
    public void OneByOneConvEqualsGemm()
    {
        Gen.Select(Gen.Int[1, 3], Gen.Int[1, 17], Gen.Int[1, 17], Gen.Int[1, 9], Gen.Int[1, 9], Gen.Bool, Gen.Int).Sample((n, c, k, h, w, withBias, seed) =>
        {
            var rng = new Random(seed);
            var x = TestData.Ints(rng, TensorShape.Of(n, c, h, w));
            var weights = TestData.Ints(rng, TensorShape.Of(k, c, 1, 1));
            Tensor? bias = withBias ? TestData.Ints(rng, TensorShape.Of(k)) : null;
            var conv = TestData.Poisoned(TensorShape.Of(n, k, h, w));
            Reference.Conv2d(x, weights, bias, Conv2dParams.Create(), conv);

            var viaGemm = Tensor.Allocate(n, k, h, w);
            var a = weights.Reshape(TensorShape.Of(k, c));
            // Gemm's C input broadcasts a [K, 1] bias over the H·W columns.
            Tensor? cBias = bias?.Reshape(TensorShape.Of(k, 1));
            for (int i = 0; i < n; i++)
            {
                var xi = Tensor.Wrap(x.Memory.Slice(i * c * h * w, c * h * w), TensorShape.Of(c, h * w));
                var yi = Tensor.Wrap(viaGemm.Memory.Slice(i * k * h * w, k * h * w), TensorShape.Of(k, h * w));
                Reference.Gemm(a, xi, cBias, GemmParams.Default, yi);
            }
            Compare.Exact(viaGemm, conv, $"1x1 conv vs Gemm N={n} C={c} H={h} W={w} K={k} R=1 S=1 bias={withBias}");
        }, iter: 100, threads: 1);
    }
}
