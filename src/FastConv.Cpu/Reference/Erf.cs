using FastConv.Backends;
using FastConv.Graphs.Ops;
using MathNet.Numerics;

namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// Erf (ONNX <c>Erf</c>), element-wise: <c>y = erf(x) = 2/√π·∫₀ˣ e^(−t²) dt</c>, evaluated in double by MathNet.Numerics'
    /// <c>SpecialFunctions.Erf</c> (relative error ~1e-15) and rounded once. erf(±∞) = ±1; NaN stays NaN. y may be x.
    /// </summary>
    public static void Erf(Tensor x, Tensor y)
    {
        RequireShape(y, x.Shape, "output", "Erf", x.Shape);
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        for (int i = 0; i < xs.Length; i++)
        {
            ys[i] = (float)SpecialFunctions.Erf(xs[i]);
        }
    }
}

public sealed partial class ReferenceBackend : IErfPlanner
{
    public IUnaryPlan PlanErf(TensorShape x) => new UnaryPlan("Erf", x, Reference.Erf);
}
