using FastConv.Backends;
using FastConv.Graphs.Ops;

namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// InstanceNormalization (ONNX opset 6): for each (n, c) over the m spatial elements, <c>μ = Σx/m</c>,
    /// <c>σ² = Σ(x − μ)²/m</c>, <c>y = scale[c]·(x − μ)/√(σ² + ε) + B[c]</c>. Sums in double, each result rounded once.
    /// </summary>
    public static void InstanceNormalization(Tensor x, float epsilon, Tensor scale, Tensor bias, Tensor y)
    {
        if (x.Rank < 3)
        {
            throw new InvalidShapeException($"InstanceNormalization: input must be N×C×D1×… (rank ≥ 3), got {x.Shape}.");
        }
        int c = x.Shape[1];
        RequireShape(scale, TensorShape.Of(c), "scale", "InstanceNormalization", x.Shape);
        RequireShape(bias, TensorShape.Of(c), "B", "InstanceNormalization", x.Shape);
        RequireShape(y, x.Shape, "output", "InstanceNormalization", x.Shape);
        int m = x.Length == 0 ? 0 : x.Length / (x.Shape[0] * c);
        NormalizeRows(x.Span, y.Span, m, epsilon, row => (scale.Span[row % c], bias.Span[row % c]), 1);
    }

    /// <summary>
    /// The shared loops of the normalizations: each row of <paramref name="m"/> elements gets its mean and biased
    /// variance (in double), then <c>y = (x − μ)/√(σ² + ε)·s + b</c> with (s, b) of <paramref name="affineOfRow"/>(row·segments + j / (m/segments)).
    /// </summary>
    private static void NormalizeRows(ReadOnlySpan<float> xs, Span<float> ys, int m, float epsilon, Func<int, (float S, float B)> affineOfRow, int segments)
    {
        if (m == 0)
        {
            return;
        }
        int segment = m / segments;
        for (int row = 0, start = 0; start < xs.Length; row++, start += m)
        {
            double sum = 0;
            for (int j = 0; j < m; j++)
            {
                sum += xs[start + j];
            }
            double mean = sum / m, squares = 0;
            for (int j = 0; j < m; j++)
            {
                double d = xs[start + j] - mean;
                squares += d * d;
            }
            double inv = 1 / Math.Sqrt(squares / m + epsilon);
            for (int j = 0; j < m; j++)
            {
                (float s, float b) = affineOfRow(row * segments + j / segment);
                ys[start + j] = (float)((xs[start + j] - mean) * inv * s + b);
            }
        }
    }
}

public sealed partial class ReferenceBackend : IInstanceNormalizationPlanner
{
    public IUnaryPlan PlanInstanceNormalization(TensorShape x, float epsilon, Tensor scale, Tensor bias)
    {
        Tensor s = Copy(scale), b = Copy(bias);
        return new UnaryPlan("InstanceNormalization", x, (xi, y) => Reference.InstanceNormalization(xi, epsilon, s, b, y));
    }
}
