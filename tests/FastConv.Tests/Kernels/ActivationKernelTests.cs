using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Cpu.Kernels;

namespace FastConv.Tests.Kernels;

/// <summary>
/// <see cref="ActivationKernels"/> at every SIMD level this machine runs, TensorPrimitives-style: every length
/// 0..256 plus a large odd one, out of place and in place, special values, too-short and overlapping
/// destinations. The piecewise-linear activations and HardSigmoid/HardSwish must equal the reference bit for
/// bit (−0 included); Sigmoid, Tanh and Swish within 8 ulp + 4u absolute, the conformance bound.
/// </summary>
public sealed class ActivationKernelTests
{
    private const double U = 1.0 / (1 << 24);

    internal static readonly SimdLevel[] Levels = Enum.GetValues<SimdLevel>().Where(l => l <= CpuFeatures.Detected).ToArray();

    private static readonly Activation[] All =
    [
        Activation.None, Activation.Relu, Activation.LeakyRelu(0.1f), Activation.Relu6, Activation.Clip(-0.5f, 0.25f), Activation.Clip(2f, 1f),
        Activation.Sigmoid, Activation.Tanh, Activation.HardSigmoid(), Activation.HardSigmoid(0.3f, -0f), Activation.HardSwish,
        Activation.Swish(), Activation.Swish(0.5f),
    ];

    private static readonly float[] Specials =
    [
        float.NaN, float.PositiveInfinity, float.NegativeInfinity, -0f, 0f, 1e30f, -1e30f, 100f, -100f, 88.7f, -88.7f, 89.5f, -89.5f,
        104f, -104f, 110f, -110f, 9f, -9f, 0.625f, -0.625f, 0.6249f, 1e-20f, -1e-20f, float.Epsilon, -float.Epsilon, 3f, -3f, float.MaxValue, float.MinValue,
    ];

    public static IEnumerable<TestCaseData> LevelActivations()
    {
        foreach (SimdLevel level in Levels)
        {
            foreach (Activation a in All)
            {
                yield return new TestCaseData(level, a).SetName($"{a} at {level}");
            }
        }
    }

    private static bool IsExact(Activation a) => a.Kind is not (ActivationKind.Sigmoid or ActivationKind.Tanh or ActivationKind.Swish);

    private static float[] Expected(Activation a, float[] x)
    {
        var y = Tensor.Allocate(x.Length);
        Reference.Activation(Tensor.FromArray((float[])x.Clone(), x.Length), a, y);
        return y.ToArray();
    }

    private static void Check(Activation a, float[] expected, ReadOnlySpan<float> actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            float e = expected[i], g = actual[i];
            bool ok = IsExact(a)
                ? BitConverter.SingleToInt32Bits(e) == BitConverter.SingleToInt32Bits(g) || (float.IsNaN(e) && float.IsNaN(g))
                : (float.IsNaN(e) ? float.IsNaN(g) : e == g || Math.Abs((double)g - e) <= 4 * U + 8 * U * Math.Abs(e));
            if (!ok)
            {
                Assert.Fail($"{a} {what}: element {i}: expected {e:R}, got {g:R}.");
            }
        }
    }

    private static float[] Input(int length, int seed)
    {
        var rng = new Random(seed);
        var x = new float[length];
        for (int i = 0; i < length; i++)
        {
            x[i] = (rng.NextSingle() - 0.5f) * 20f;
        }
        // A few specials at the start, in the middle and at the end (the tail vector) of long enough inputs.
        for (int k = 0; k < Math.Min(length, 3); k++)
        {
            x[k] = Specials[(seed + k) % Specials.Length];
            x[length - 1 - k] = Specials[(seed + 7 + k) % Specials.Length];
            x[length / 2] = Specials[(seed + 13) % Specials.Length];
        }
        return x;
    }

    [TestCaseSource(nameof(LevelActivations))]
    public void EveryLengthOutOfPlaceAndInPlace(SimdLevel level, Activation a)
    {
        foreach (int n in Enumerable.Range(0, 257).Append(10007))
        {
            float[] x = Input(n, n);
            float[] expected = Expected(a, x);
            var y = new float[n + 3];
            y.AsSpan().Fill(float.NaN);
            ActivationKernels.Apply(a, x, y, level);
            Check(a, expected, y, $"length {n}, out of place");
            Assert.That(y.AsSpan(n).ToArray(), Is.All.NaN, $"{a} length {n}: wrote past the input's length");
            ActivationKernels.Apply(a, x, x, level);
            Check(a, expected, x, $"length {n}, in place");
        }
    }

    [TestCaseSource(nameof(LevelActivations))]
    public void SpecialValues(SimdLevel level, Activation a)
    {
        // Each special at every position of a 40-long input, so every lane of every width sees it.
        for (int pos = 0; pos < 40; pos++)
        {
            float[] x = Input(40, pos);
            for (int k = 0; k < Specials.Length; k++)
            {
                x[(pos + k) % 40] = Specials[k];
            }
            float[] expected = Expected(a, x);
            var y = new float[40];
            ActivationKernels.Apply(a, x, y, level);
            Check(a, expected, y, $"specials at {pos}");
        }
    }

    /// <summary>The backend's plan on a tensor large enough to be split across two threads (chunk edges included), in and out of place.</summary>
    [TestCaseSource(nameof(LevelActivations))]
    public void PlanSplitAcrossThreads(SimdLevel level, Activation a)
    {
        const int n = (1 << 18) + 13;
        float[] x = Input(n, 5);
        float[] expected = Expected(a, x);
        using var backend = new CpuBackend(new CpuBackendOptions { Simd = level, Threads = 2 });
        using var plan = backend.PlanActivation(a, TensorShape.Of(n));
        var y = Tensor.Allocate(n);
        y.Span.Fill(float.NaN);
        plan.Execute(Tensor.FromArray(x, n), y);
        Check(a, expected, y.Span, $"plan of {n} on 2 threads");
        var inPlace = Tensor.FromArray((float[])x.Clone(), n);
        plan.Execute(inPlace, inPlace);
        Check(a, expected, inPlace.Span, $"plan of {n} on 2 threads, in place");
    }

    [Test]
    public void TooShortDestinationThrows()
    {
        foreach (SimdLevel level in Levels)
        {
            Assert.Throws<InvalidShapeException>(() => ActivationKernels.Apply(Activation.Relu, new float[17], new float[16], level));
        }
    }

    [Test]
    public void PartiallyOverlappingDestinationThrows()
    {
        var buffer = new float[40];
        Assert.Throws<InvalidShapeException>(() => ActivationKernels.Apply(Activation.Relu, buffer.AsSpan(0, 32), buffer.AsSpan(1, 32)));
    }

    /// <summary>
    /// The worst error of the vector exp, tanh and sigmoid against double, in ulps of the float result, over
    /// 2²² evenly spread points of the range that matters plus a dense sweep near 0 — the figures quoted in
    /// <c>VectorMath</c>. Results below the normal range are skipped (their error is absolute, under 4u).
    /// </summary>
    [Test]
    public void ExpTanhSigmoidWorstUlp()
    {
        SimdLevel level = CpuFeatures.Detected;
        const int count = 1 << 22;
        var x = new float[count + (1 << 17)];
        for (int i = 0; i < count; i++)
        {
            x[i] = -87f + 175f * i / count;
        }
        for (int i = 0; i < 1 << 17; i++)
        {
            x[count + i] = -1f + i / 65536f;
        }
        var y = new float[x.Length];
        double Worst(Func<double, double> exact)
        {
            double worst = 0;
            for (int i = 0; i < x.Length; i++)
            {
                double e = exact(x[i]);
                if (Math.Abs(e) < 1.2e-38 || Math.Abs(e) > 3e38)
                {
                    continue;
                }
                float ef = (float)e;
                double ulp = MathF.BitIncrement(MathF.Abs(ef)) - MathF.Abs(ef);
                worst = Math.Max(worst, Math.Abs(y[i] - e) / ulp);
            }
            return worst;
        }
        ActivationKernels.Run(new ExpOperator(), x, y, level);
        double expUlp = Worst(Math.Exp);
        ActivationKernels.Apply(Activation.Tanh, x, y, level);
        double tanhUlp = Worst(Math.Tanh);
        ActivationKernels.Apply(Activation.Sigmoid, x, y, level);
        double sigmoidUlp = Worst(v => 1 / (1 + Math.Exp(-v)));
        TestContext.Out.WriteLine($"{level}: worst exp {expUlp:F3} ulp, tanh {tanhUlp:F3} ulp, sigmoid {sigmoidUlp:F3} ulp");
        Assert.Multiple(() =>
        {
            Assert.That(expUlp, Is.LessThan(2), "exp");
            Assert.That(tanhUlp, Is.LessThan(3), "tanh");
            Assert.That(sigmoidUlp, Is.LessThan(3), "sigmoid");
        });
    }
}
