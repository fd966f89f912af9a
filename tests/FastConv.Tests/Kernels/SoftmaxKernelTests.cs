using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Cpu.Kernels;
using FastConv.Tests.Support;

namespace FastConv.Tests.Kernels;

/// <summary>
/// The <c>cpu</c> backend's Softmax at every SIMD level, every axis, against the reference: rows around the
/// vector widths (the overlapping last vector and the scalar tail), strided axes with inner sizes around the
/// widths (vector columns plus scalar ones), in place, a NaN or +∞ in one slice, a slice of −∞ and finite
/// values, one large enough for two threads.
/// </summary>
public sealed class SoftmaxKernelTests
{
    private const double U = 1.0 / (1 << 24);

    public static IEnumerable<TestCaseData> Cases()
    {
        int[][] shapes =
        [
            [1], [3], [4], [5], [8], [15], [16], [17], [31], [33], [64], [100], [1000],
            [3, 17], [2, 5, 7], [2, 3, 4, 5], [8, 33], [4, 20, 16], [2, 7, 9], [3, 5, 33], [256, 1000], [2, 40, 24, 24],
        ];
        foreach (int[] d in shapes)
        {
            for (int axis = -1; axis >= -d.Length; axis--)
            {
                yield return new TestCaseData(d, axis).SetName($"Softmax(X=[{string.Join(",", d)}], axis={axis})");
            }
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void EqualsReferenceAtEveryLevel(int[] dims, int axis)
    {
        var shape = new TensorShape(dims);
        var x = TestData.Floats(new Random(dims.Sum() - axis), shape, -6f, 6f);
        using var reference = new ReferenceBackend();
        using var refPlan = reference.PlanSoftmax(shape, axis);
        var expected = TestData.Poisoned(shape);
        refPlan.Execute(x, expected);
        int n = dims[shape.NormalizeAxis(axis, "Softmax")];
        // exp of x − max: u·(8 + |x − max|) relative with |x − max| ≤ 12 here; plus the sum's γ_n.
        float rtol = (float)(24 * U + 2 * Tolerance.Gamma(n));
        foreach (SimdLevel level in ActivationKernelTests.Levels)
        {
            using var backend = new CpuBackend(new CpuBackendOptions { Simd = level, Threads = 2 });
            using IUnaryPlan plan = backend.PlanSoftmax(shape, axis);
            var actual = TestData.Poisoned(shape);
            plan.Execute(x, actual);
            string problem = $"{level} [{plan.Algorithm}] Softmax X={shape} axis={axis}";
            Compare.Close(expected, actual, problem, (float)U, rtol);
            var inPlace = Tensor.FromArray(x.ToArray(), dims);
            plan.Execute(inPlace, inPlace);
            Compare.Close(actual, inPlace, problem + " (in place)", 0f, 0f);
        }
    }

    [Test]
    public void SpecialValuesPoisonOnlyTheirSlice()
    {
        // Four rows of 37: a NaN, a +∞, −∞ among finite values, and huge values (the max keeps exp finite).
        var x = TestData.Floats(new Random(3), TensorShape.Of(4, 37), -3f, 3f);
        x.Span[5] = float.NaN;
        x.Span[37 + 30] = float.PositiveInfinity;
        x.Span[74 + 2] = float.NegativeInfinity;
        x.Span[74 + 36] = float.NegativeInfinity;
        x.Span[111 + 1] = 1e30f;
        x.Span[111 + 20] = 3e38f;
        using var reference = new ReferenceBackend();
        using var refPlan = reference.PlanSoftmax(x.Shape, -1);
        var expected = TestData.Poisoned(x.Shape);
        refPlan.Execute(x, expected);
        foreach (SimdLevel level in ActivationKernelTests.Levels)
        {
            using var backend = new CpuBackend(new CpuBackendOptions { Simd = level });
            foreach (int axis in new[] { -1, 0 })
            {
                using var refAxis = reference.PlanSoftmax(x.Shape, axis);
                var e = TestData.Poisoned(x.Shape);
                refAxis.Execute(x, e);
                using IUnaryPlan plan = backend.PlanSoftmax(x.Shape, axis);
                var actual = TestData.Poisoned(x.Shape);
                plan.Execute(x, actual);
                Compare.Close(e, actual, $"{level} [{plan.Algorithm}] specials axis={axis}", (float)U, (float)(24 * U + 2 * Tolerance.Gamma(37)));
            }
        }
        Assert.That(float.IsNaN(expected.Span[0]) && float.IsNaN(expected.Span[37]) && !float.IsNaN(expected.Span[74]), "the reference makes exactly the NaN and +∞ slices NaN");
    }

    [Test]
    public void ExpOfSoftmaxRangeIsWithinOneUlpAndUnderflowsToZero()
    {
        foreach (SimdLevel level in ActivationKernelTests.Levels)
        {
            float[] x = [0f, -1e-8f, -0.5f, -10f, -87f, -88f, -100f, -103.9f, -104f, -200f, float.NegativeInfinity, -3e38f, 0.5f, 88f, 89f, 1000f];
            var y = new float[x.Length];
            ActivationKernels.Run(new ExpOperator(), x, y, level);
            for (int i = 0; i < x.Length; i++)
            {
                double e = Math.Exp(x[i]);
                double bound = e > 3.4e38 ? double.PositiveInfinity : Math.Max(1.5e-45, 1.01 * (MathF.BitIncrement((float)e) - (float)e));
                Assert.That(Math.Abs(y[i] - Math.Min(e, 2.7e38)), Is.LessThanOrEqualTo(bound), $"{level} exp({x[i]:R}) = {y[i]:R}, expected {e:R}");
            }
            Assert.That(y[9], Is.EqualTo(0f), "exp(−200) underflows to 0");
            if (level > SimdLevel.Scalar)
            {
                Assert.That(float.IsFinite(y[15]), "the vector exp(1000) is clamped to a finite value");
            }
        }
    }
}
