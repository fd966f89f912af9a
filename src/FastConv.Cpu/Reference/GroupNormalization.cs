using FastConv.Backends;
using FastConv.Graphs.Ops;

namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// GroupNormalization (ONNX opset 21 form): for each n and group g of C/G channels, over the m = (C/G)·spatial
    /// elements of the group, <c>μ = Σx/m</c>, <c>σ² = Σ(x − μ)²/m</c>, <c>y = scale[c]·(x − μ)/√(σ² + ε) + bias[c]</c>
    /// with scale and bias per channel ([C]). Sums in double, each result rounded once.
    /// </summary>
    public static void GroupNormalization(Tensor x, int groups, float epsilon, Tensor scale, Tensor bias, Tensor y)
    {
        if (x.Rank < 3)
        {
            throw new InvalidShapeException($"GroupNormalization: input must be N×C×D1×… (rank ≥ 3), got {x.Shape}.");
        }
        int c = x.Shape[1];
        if (groups < 1 || c % groups != 0)
        {
            throw new InvalidHyperparameterException($"GroupNormalization: {groups} groups must divide the {c} channels of input {x.Shape}.");
        }
        RequireShape(scale, TensorShape.Of(c), "scale", "GroupNormalization", x.Shape);
        RequireShape(bias, TensorShape.Of(c), "bias", "GroupNormalization", x.Shape);
        RequireShape(y, x.Shape, "output", "GroupNormalization", x.Shape);
        int m = x.Length == 0 ? 0 : x.Length / (x.Shape[0] * groups);
        // Row = (n, g); its segments are the group's C/G channels: segment index row·(C/G) + j/spatial is n·C + c.
        NormalizeRows(x.Span, y.Span, m, epsilon, k => (scale.Span[k % c], bias.Span[k % c]), c / groups);
    }
}

public sealed partial class ReferenceBackend : IGroupNormalizationPlanner
{
    public IUnaryPlan PlanGroupNormalization(TensorShape x, int groups, float epsilon, Tensor scale, Tensor bias)
    {
        Tensor s = Copy(scale), b = Copy(bias);
        return new UnaryPlan("GroupNormalization", x, (xi, y) => Reference.GroupNormalization(xi, groups, epsilon, s, b, y));
    }
}
