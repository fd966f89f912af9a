using FastConv.Backends;
using FastConv.Graphs.Ops;

namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// LayerNormalization (ONNX opset 17): for each index of the axes before <paramref name="axis"/>, over the n
    /// elements of the axes from it on, <c>μ = Σx/n</c>, <c>σ² = Σ(x − μ)²/n</c>,
    /// <c>y = (x − μ)/√(σ² + ε)·scale + bias</c>, with scale and bias broadcast to the normalized axes. Sums in double,
    /// each result rounded once.
    /// </summary>
    public static void LayerNormalization(Tensor x, int axis, float epsilon, Tensor scale, Tensor? bias, Tensor y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(scale);
        ArgumentNullException.ThrowIfNull(y);
        int a = x.Shape.NormalizeAxis(axis, "LayerNormalization");
        var normalized = new TensorShape(x.Shape.Dims[a..]);
        Broadcast.RequireUnidirectional(scale.Shape, normalized, "Scale", "LayerNormalization");
        if (bias is not null)
        {
            Broadcast.RequireUnidirectional(bias.Shape, normalized, "B", "LayerNormalization");
        }
        RequireShape(y, x.Shape, "output", "LayerNormalization", $"input {x.Shape}, axis {axis}");
        int n = normalized.ElementCount;
        int[] scaleStrides = Broadcast.Strides(scale.Shape, normalized);
        int[]? biasStrides = bias is null ? null : Broadcast.Strides(bias.Shape, normalized);
        ReadOnlySpan<float> xs = x.Span, ss = scale.Span, bs = bias is null ? default : bias.Span;
        Span<float> ys = y.Span;
        for (int start = 0; start < xs.Length; start += n)
        {
            double sum = 0;
            for (int j = 0; j < n; j++)
            {
                sum += xs[start + j];
            }
            double mean = sum / n, squares = 0;
            for (int j = 0; j < n; j++)
            {
                double d = xs[start + j] - mean;
                squares += d * d;
            }
            double inv = 1 / Math.Sqrt(squares / n + epsilon);
            for (int j = 0; j < n; j++)
            {
                double v = (xs[start + j] - mean) * inv * ss[Broadcast.Offset(j, normalized, scaleStrides)];
                ys[start + j] = (float)(biasStrides is null ? v : v + bs[Broadcast.Offset(j, normalized, biasStrides)]);
            }
        }
    }
}

public sealed partial class ReferenceBackend : ILayerNormalizationPlanner
{
    public IUnaryPlan PlanLayerNormalization(TensorShape x, int axis, float epsilon, Tensor scale, Tensor? bias)
    {
        Tensor s = Copy(scale);
        Tensor? b = bias is null ? null : Copy(bias);
        return new UnaryPlan("LayerNormalization", x, (xi, y) => Reference.LayerNormalization(xi, axis, epsilon, s, b, y));
    }
}
