using FastConv.Backends;
using FastConv.Graphs.Ops;
using FastConv.Cpu.Kernels;

namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// Erf (ONNX <c>Erf</c>), element-wise: <c>y = erf(x) = 2/√π·∫₀ˣ e^(−t²) dt</c>, evaluated in double by
    /// <see cref="ErrorFunction.Erf"/> (relative error below 1.2·10⁻¹⁵) and rounded once. erf(±∞) = ±1; NaN stays NaN. y may be x.
    /// </summary>
    public static void Erf(Tensor x, Tensor y)
    {
        RequireShape(y, x.Shape, "output", "Erf", x.Shape);
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        for (int i = 0; i < xs.Length; i++)
        {
            ys[i] = (float)ErrorFunction.Erf(xs[i]);
        }
    }
}

public sealed partial class ReferenceBackend : IErfPlanner
{
    public IUnaryPlan PlanErf(TensorShape x) => new UnaryPlan("Erf", x, Reference.Erf);
}
