using FastConv.Ops;

namespace FastConv.Cpu;

// The one-line element-wise activations. Each writes y (same shape as x; y may be x). Transcendental
// functions are evaluated in double precision and rounded to float once, so each result is within
// 0.5 ulp (float) plus the double library's own error (≈ 1 ulp of a double, far below a float ulp) of
// the exact value. NaN in gives NaN out.
public static partial class Reference
{
    /// <summary>
    /// LeakyRelu: <c>y = x</c> for <c>x ≥ 0</c>, <c>y = alpha·x</c> for <c>x &lt; 0</c> (ONNX default alpha 0.01).
    /// One float multiplication, so exact (correctly rounded). −0 stays −0; NaN stays NaN.
    /// </summary>
    public static void LeakyRelu(Tensor x, float alpha, Tensor y)
    {
        RequireShape(y, x.Shape, "output", "LeakyRelu", $"input {x.Shape}, alpha={alpha:R}");
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        for (int i = 0; i < xs.Length; i++)
        {
            ys[i] = xs[i] < 0f ? alpha * xs[i] : xs[i];
        }
    }

    /// <summary>
    /// Sigmoid: <c>y = 1 / (1 + exp(−x))</c>, in double, rounded once (≤ 0.5 ulp + the double exp's error).
    /// </summary>
    public static void Sigmoid(Tensor x, Tensor y)
    {
        RequireShape(y, x.Shape, "output", "Sigmoid", $"input {x.Shape}");
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        for (int i = 0; i < xs.Length; i++)
        {
            ys[i] = (float)(1.0 / (1.0 + Math.Exp(-(double)xs[i])));
        }
    }

    /// <summary>Tanh: <c>y = tanh(x)</c>, in double, rounded once (≤ 0.5 ulp + the double tanh's error).</summary>
    public static void Tanh(Tensor x, Tensor y)
    {
        RequireShape(y, x.Shape, "output", "Tanh", $"input {x.Shape}");
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        for (int i = 0; i < xs.Length; i++)
        {
            ys[i] = (float)Math.Tanh(xs[i]);
        }
    }

    /// <summary>
    /// HardSigmoid: <c>y = max(0, min(1, alpha·x + beta))</c> (ONNX defaults alpha 0.2, beta 0.5), evaluated
    /// in double from the float alpha and beta and rounded once. NaN stays NaN.
    /// </summary>
    public static void HardSigmoid(Tensor x, HardSigmoidParams p, Tensor y)
    {
        RequireShape(y, x.Shape, "output", "HardSigmoid", $"input {x.Shape}, {p}");
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        double alpha = p.Alpha, beta = p.Beta;
        for (int i = 0; i < xs.Length; i++)
        {
            ys[i] = (float)Math.Max(0.0, Math.Min(1.0, alpha * xs[i] + beta));
        }
    }

    /// <summary>
    /// HardSwish (ONNX opset 14): <c>y = x·max(0, min(1, x/6 + 0.5))</c>, in double, rounded once.
    /// NaN stays NaN.
    /// </summary>
    public static void HardSwish(Tensor x, Tensor y)
    {
        RequireShape(y, x.Shape, "output", "HardSwish", $"input {x.Shape}");
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        for (int i = 0; i < xs.Length; i++)
        {
            double v = xs[i];
            ys[i] = (float)(v * Math.Max(0.0, Math.Min(1.0, v / 6.0 + 0.5)));
        }
    }

    /// <summary>
    /// Swish (ONNX opset 24; SiLU for alpha = 1): <c>y = x / (1 + exp(−alpha·x))</c>, in double from the float alpha,
    /// rounded once. NaN stays NaN; −∞ gives −0·… = NaN in exact arithmetic, here −∞/∞ = NaN as well.
    /// </summary>
    public static void Swish(Tensor x, float alpha, Tensor y)
    {
        RequireShape(y, x.Shape, "output", "Swish", $"input {x.Shape}, alpha={alpha:R}");
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        for (int i = 0; i < xs.Length; i++)
        {
            double v = xs[i];
            ys[i] = (float)(v / (1.0 + Math.Exp(-(double)alpha * v)));
        }
    }
}
