using FastConv.Backends;
using FastConv.Graphs.Ops;

namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// Softplus (ONNX <c>Softplus</c>), element-wise: <c>y = ln(1 + eˣ)</c> in double and rounded once, as an accurate
    /// log1p (Goldberg's <c>ln(u)·e/(u − 1)</c>, u = 1 + e rounded), so very negative x keep their small value eˣ; above
    /// 40, ln(1 + eˣ) = x in double. Softplus(+∞) = +∞, Softplus(−∞) = 0; NaN stays NaN. y may be x.
    /// </summary>
    public static void Softplus(Tensor x, Tensor y)
    {
        RequireShape(y, x.Shape, "output", "Softplus", x.Shape);
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        for (int i = 0; i < xs.Length; i++)
        {
            ys[i] = (float)Softplus((double)xs[i]);
        }
    }

    /// <summary>ln(1 + eˣ) in double, accurate for every x (see <see cref="Softplus(Tensor, Tensor)"/>).</summary>
    internal static double Softplus(double v)
    {
        double e = Math.Exp(v), u = 1 + e;
        return v > 40 || double.IsNaN(v) ? v : u == 1 ? e : Math.Log(u) * e / (u - 1);
    }
}

public sealed partial class ReferenceBackend : ISoftplusPlanner
{
    public IUnaryPlan PlanSoftplus(TensorShape x) => new UnaryPlan("Softplus", x, Reference.Softplus);
}
