using FastConv.Backends;
using FastConv.Graphs.Ops;

namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// Mish (ONNX <c>Mish</c>, opset 18), element-wise: <c>y = x·tanh(softplus(x))</c>, <c>softplus(x) = ln(1 + eˣ)</c>,
    /// evaluated in double (ln(1 + eˣ) as an accurate log1p, so very negative x keep their small value) and rounded once.
    /// Mish(+∞) = +∞, Mish(−∞) = −∞·0 = NaN as the formula (and ONNX Runtime) gives; NaN stays NaN. y may be x.
    /// </summary>
    public static void Mish(Tensor x, Tensor y)
    {
        RequireShape(y, x.Shape, "output", "Mish", x.Shape);
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        for (int i = 0; i < xs.Length; i++)
        {
            double v = xs[i];
            // Above 40, ln(1 + eˣ) = x in double; below, log1p(eˣ) by Goldberg's exact-rounding form ln(u)·e/(u − 1).
            double e = Math.Exp(v), u = 1 + e;
            double softplus = v > 40 ? v : u == 1 ? e : Math.Log(u) * e / (u - 1);
            ys[i] = (float)(v * Math.Tanh(softplus));
        }
    }
}

public sealed partial class ReferenceBackend : IMishPlanner
{
    public IUnaryPlan PlanMish(TensorShape x) => new UnaryPlan("Mish", x, Reference.Mish);
}
