using FastConv.Backends;
using FastConv.Graphs.Ops;
using FastConv.Cpu;
using FastConv.Tests.Support;

namespace FastConv.Tests.Sessions;

/// <summary>
/// The cpu backend's plans for the network ops beyond convolution (binary ops with broadcasting, Concat,
/// BatchNormalization, Sqrt) against the reference: binary ops and Sqrt are one IEEE operation per element, so
/// they must agree exactly; Concat copies; BN differs from the double-evaluated reference by rounding the
/// per-channel scale and shift to float first (a few ulps).
/// </summary>
public sealed class CpuNetworkPlanTests
{
    private static readonly (int[] A, int[] B)[] Shapes =
    [
        ([2, 3, 4, 5], [2, 3, 4, 5]),
        ([2, 3, 4, 5], [1, 3, 1, 1]),
        ([2, 3, 4, 5], [3, 1, 1]),
        ([2, 3, 4, 5], []),
        ([1], [2, 3, 17]),
        ([2, 1, 4, 1], [1, 3, 1, 5]),
        ([5, 1], [1, 7]),
        ([2, 3, 1, 33], [2, 3, 9, 33]),
        ([0, 3], [1, 3]),
        ([1, 3, 16, 16, 2], [1, 3, 1, 1, 2]), // a YOLO decode: rows of 2 against per-anchor pairs
    ];

    [Test]
    public void BinaryOpsMatchTheReferenceExactly([Values] BinaryOpKind op)
    {
        using var cpu = new CpuBackend(new CpuBackendOptions { Threads = 1 });
        using var reference = new ReferenceBackend();
        var rng = new Random((int)op);
        foreach (var (sa, sb) in Shapes)
        {
            foreach (bool swap in new[] { false, true })
            {
                TensorShape a = TensorShape.Of(swap ? sb : sa), b = TensorShape.Of(swap ? sa : sb);
                Tensor x = TestData.Floats(rng, a, op == BinaryOpKind.Pow ? 0.1f : -2f, 2f), z = TestData.Floats(rng, b, -2f, 2f);
                using IBinaryPlan fast = cpu.PlanBinary(op, a, b)!, slow = reference.PlanBinary(op, a, b);
                Tensor expected = TestData.Poisoned(slow.OutputShape), actual = TestData.Poisoned(fast.OutputShape);
                slow.Execute(x, z, expected);
                fast.Execute(x, z, actual);
                Compare.Exact(expected, actual, $"{op} A {a} B {b}");
            }
        }
    }

    [Test]
    public void ConcatMatchesTheReference([Values(0, 1, 2, -1)] int axis)
    {
        using var cpu = new CpuBackend();
        var rng = new Random(axis + 10);
        TensorShape[] shapes = axis switch
        {
            0 => [TensorShape.Of(1, 3, 4), TensorShape.Of(2, 3, 4), TensorShape.Of(0, 3, 4)],
            1 => [TensorShape.Of(2, 1, 4), TensorShape.Of(2, 5, 4)],
            _ => [TensorShape.Of(2, 3, 4), TensorShape.Of(2, 3, 1), TensorShape.Of(2, 3, 7)],
        };
        Tensor[] inputs = [.. shapes.Select(s => TestData.Floats(rng, s))];
        using INaryPlan plan = cpu.PlanConcat(shapes, axis);
        Tensor expected = TestData.Poisoned(plan.OutputShape), actual = TestData.Poisoned(plan.OutputShape);
        Reference.Concat(inputs, axis, expected);
        plan.Execute(inputs, actual);
        Compare.Exact(expected, actual, $"Concat axis {axis}");
    }

    [Test]
    public void BatchNormAndSqrtMatchTheReference()
    {
        using var cpu = new CpuBackend();
        var rng = new Random(4);
        var shape = TensorShape.Of(2, 5, 3, 7);
        Tensor x = TestData.Floats(rng, shape, -3, 3);
        Tensor g = TestData.Floats(rng, TensorShape.Of(5), 0.5f, 2), b = TestData.Floats(rng, TensorShape.Of(5)), m = TestData.Floats(rng, TensorShape.Of(5)), v = TestData.Floats(rng, TensorShape.Of(5), 0.1f, 2);
        using IUnaryPlan bn = cpu.PlanBatchNormalization(shape, g, b, m, v, 1e-5f);
        Tensor expected = TestData.Poisoned(shape), actual = TestData.Poisoned(shape);
        Reference.BatchNormalization(x, g, b, m, v, 1e-5f, expected);
        bn.Execute(x, actual);
        // |x·s + t − exact| ≤ rounding of s and t (each ½ ulp relative) times |x·s| + |t|, plus the final two roundings: < 4 ulps of the magnitudes.
        Compare.Close(expected, actual, "BatchNormalization", 4e-6f * 10, 4e-7f * 4);
        Tensor pos = TestData.Floats(rng, shape, 0, 100);
        using IUnaryPlan sqrt = cpu.PlanSqrt(shape);
        sqrt.Execute(pos, actual);
        Reference.Sqrt(pos, expected);
        Compare.Exact(expected, actual, "Sqrt");
    }
}
