namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// BatchNormalization, inference mode (ONNX <c>BatchNormalization</c> with training_mode = 0), on an input
    /// N×C×D1×… (rank ≥ 2, channels on axis 1; NCHW for images), per channel c:
    /// <c>y = scale[c]·(x − mean[c]) / sqrt(var[c] + epsilon) + bias[c]</c>.
    /// Evaluated in double and rounded to float once. <paramref name="scale"/>, <paramref name="bias"/>,
    /// <paramref name="mean"/> and <paramref name="var"/> each have shape [C]. <paramref name="y"/> may be <paramref name="x"/>.
    /// </summary>
    public static void BatchNormalization(Tensor x, Tensor scale, Tensor bias, Tensor mean, Tensor var, float epsilon, Tensor y)
    {
        const string op = "BatchNormalization";
        if (x.Rank < 2)
        {
            throw new InvalidShapeException($"{op}: input must have rank >= 2 (N, C, ...), got rank {x.Rank} shape {x.Shape}.");
        }
        int n = x.Shape[0], c = x.Shape[1];
        int inner = c == 0 || n == 0 ? 0 : x.Length / (n * c);
        var perChannel = TensorShape.Of(c);
        RequireShape(scale, perChannel, "scale", op, $"input {x.Shape} has C={c}");
        RequireShape(bias, perChannel, "bias", op, $"input {x.Shape} has C={c}");
        RequireShape(mean, perChannel, "mean", op, $"input {x.Shape} has C={c}");
        RequireShape(var, perChannel, "var", op, $"input {x.Shape} has C={c}");
        RequireShape(y, x.Shape, "output", op, $"input {x.Shape}");
        ReadOnlySpan<float> xs = x.Span, g = scale.Span, b = bias.Span, mu = mean.Span, v = var.Span;
        Span<float> ys = y.Span;
        for (int ni = 0; ni < n; ni++)
        {
            for (int ci = 0; ci < c; ci++)
            {
                double invStd = 1.0 / Math.Sqrt((double)v[ci] + epsilon);
                for (int k = 0; k < inner; k++)
                {
                    int i = (ni * c + ci) * inner + k;
                    ys[i] = (float)((double)g[ci] * ((double)xs[i] - mu[ci]) * invStd + b[ci]);
                }
            }
        }
    }
}
