using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Cpu.Kernels;

namespace FastConv.Tests.Kernels;

/// <summary>
/// <see cref="CpuEpilogue.Apply"/>'s fused pass at every SIMD level and every length 0..80 (every tail of every
/// width) against the unfused definition <c>act(z·Scale + bias·Scale + Shift + residual)</c> computed in
/// double: within the fma's and the activation's rounding.
/// </summary>
public sealed class CpuEpilogueTests
{
    private const double U = 1.0 / (1 << 24);

    public static IEnumerable<TestCaseData> Cases()
    {
        Activation[] activations = [Activation.None, Activation.Relu, Activation.Relu6, Activation.LeakyRelu(0.2f), Activation.Sigmoid, Activation.Tanh, Activation.HardSwish, Activation.HardSigmoid(), Activation.Swish()];
        foreach (SimdLevel level in ActivationKernelTests.Levels)
        {
            foreach (Activation a in activations)
            {
                foreach (bool scale in new[] { false, true })
                {
                    foreach (bool bias in new[] { false, true })
                    {
                        foreach (bool residual in new[] { false, true })
                        {
                            yield return new TestCaseData(level, a, scale, bias, residual)
                                .SetName($"{level} act={a} scale={scale} bias={bias} residual={residual}");
                        }
                    }
                }
            }
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void FusedPassMatchesDefinition(SimdLevel level, Activation a, bool withScale, bool withBias, bool withResidual)
    {
        const int k = 3;
        var rng = new Random(11);
        float[] scale = [1.5f, -0.75f, 0.3f], shift = [0.25f, -1f, 2f], biasValues = [0.5f, -0.125f, 1f];
        var epilogue = new ConvEpilogue
        {
            Scale = withScale ? scale : null, Shift = withScale ? shift : null, AddResidual = withResidual, Activation = a,
        };
        var e = new CpuEpilogue(k, withBias ? biasValues : ReadOnlySpan<float>.Empty, epilogue, level);
        for (int n = 0; n <= 80; n++)
        {
            for (int ch = 0; ch < k; ch++)
            {
                float[] values = Enumerable.Range(0, n).Select(_ => (rng.NextSingle() - 0.5f) * 8f).ToArray();
                float[] res = Enumerable.Range(0, n).Select(_ => (rng.NextSingle() - 0.5f) * 4f).ToArray();
                float[] expected = new float[n];
                for (int i = 0; i < n; i++)
                {
                    double z = values[i] + (withBias ? biasValues[ch] : 0.0);
                    if (withScale)
                    {
                        z = z * scale[ch] + shift[ch];
                    }
                    if (withResidual)
                    {
                        z += res[i];
                    }
                    var t = Tensor.FromArray([(float)z], 1);
                    Reference.Activation(t, a, t);
                    expected[i] = t.Span[0];
                }
                float[] actual = (float[])values.Clone();
                e.Apply(ch, actual, withResidual ? res : ReadOnlySpan<float>.Empty);
                for (int i = 0; i < n; i++)
                {
                    // z is rounded a few times (bias·Scale, + Shift, fma, + residual): a few u of |terms|;
                    // the steepest activation (slope 1) carries it over; plus the activation's own 8 ulp.
                    double magnitude = Math.Abs(values[i] * (withScale ? scale[ch] : 1f)) + 4;
                    double bound = 8 * U * magnitude + 8 * U * Math.Abs(expected[i]);
                    Assert.That(Math.Abs((double)actual[i] - expected[i]), Is.LessThanOrEqualTo(bound), $"length {n} channel {ch} element {i}: expected {expected[i]:R}, got {actual[i]:R}");
                }
            }
        }
    }

    [Test]
    public void ShortResidualThrows()
    {
        var e = new CpuEpilogue(1, ReadOnlySpan<float>.Empty, new ConvEpilogue { AddResidual = true });
        Assert.Throws<InvalidShapeException>(() => e.Apply(0, new float[8], new float[7]));
    }
}
