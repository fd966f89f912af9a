using FastConv.Backends;
using FastConv.Compilation;

namespace FastConv.Graphs.Ops;

/// <summary>A backend that runs GroupNormalization.</summary>
public interface IGroupNormalizationPlanner
{
    /// <summary>
    /// Plans GroupNormalization of <paramref name="x"/> (N×C×D1×…, rank ≥ 3) in <paramref name="groups"/> groups of
    /// C/groups channels; <paramref name="scale"/> and <paramref name="bias"/> are per channel ([C]) and read now.
    /// </summary>
    IUnaryPlan PlanGroupNormalization(TensorShape x, int groups, float epsilon, Tensor scale, Tensor bias);
}

/// <summary>
/// ONNX <c>GroupNormalization</c>: per n and group g of C/G channels, μ and σ² (biased) over the group's channels and
/// spatial axes, <c>y = scale·(x − μ)/√(σ² + ε) + bias</c>. Opset 21 takes scale and bias per channel ([C]); opset
/// 18 per group ([G]), which is the same as each group's value repeated over its channels (that is how it is planned).
/// Scale and bias are constants; <c>stash_type</c> must be 1 (float32 statistics).
/// </summary>
internal sealed class GroupNormalizationOp() : OpDefinition<IGroupNormalizationPlanner>("GroupNormalization")
{
    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        problem = AttributeReader.FirstNonConstant(node, constantOf, 1, 2) is int i and > 0 ? $"input {i} ({(i == 1 ? "scale" : "bias")}) must be a constant"
            : node.GetInt("stash_type", 1) != 1 ? $"attribute 'stash_type' = {node.GetInt("stash_type", 1)} is not supported (1: float32 statistics)"
            : null;
        return problem is null;
    }

    /// <summary>The number of groups, validated against input <paramref name="x"/>.</summary>
    public static int Groups(Node node, TensorShape x)
    {
        if (!node.Attributes.ContainsKey("num_groups"))
        {
            throw new InvalidModelException("attribute 'num_groups' is required.");
        }
        long g = node.GetInt("num_groups", 1);
        if (x.Rank < 3)
        {
            throw new InvalidShapeException($"GroupNormalization: input must be N×C×D1×… (rank ≥ 3), got {x}.");
        }
        if (g < 1 || g > x[1] || x[1] % g != 0)
        {
            throw new InvalidHyperparameterException($"GroupNormalization: num_groups = {g} must divide the {x[1]} channels of input {x}.");
        }
        return (int)g;
    }

    /// <summary>Whether scale and bias are per group (opset 18's form) rather than per channel (opset 21).</summary>
    private static bool PerGroup(OpContext context, TensorShape x, int groups)
    {
        TensorShape s = context.Shape(1, "scale");
        bool perGroup = context.Opset < 21 && groups != x[1];
        int expected = perGroup ? groups : x[1];
        foreach ((int i, string what) in new[] { (1, "scale"), (2, "bias") })
        {
            TensorShape t = context.Shape(i, what);
            if (t != TensorShape.Of(expected))
            {
                string form = context.Opset < 21 ? "one per group (opset 18)" : "one per channel (opset 21)";
                throw new InvalidShapeException($"GroupNormalization: {what} must have shape [{expected}] ({form}) for input {x} and {groups} groups, got {t}.");
            }
        }
        return perGroup && s[0] == groups;
    }

    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape x = context.Shape(0, "X");
        PerGroup(context, x, Groups(context.Node, x));
        return [x];
    }

    public override long Parameters(OpContext context) => Flop.Params(context.Constant(1)) + Flop.Params(context.Constant(2));

    public override long Flops(OpContext context, TensorShape[] outputs) => 7 * Flop.Count(outputs[0]);

    protected override Step Plan(IGroupNormalizationPlanner planner, KernelBinding binding)
    {
        TensorShape x = binding.InputShape(0, "X");
        int groups = Groups(binding.Node, x);
        Tensor scale = binding.Constant(1, "scale"), bias = binding.Constant(2, "bias");
        if (PerGroup(binding.Context, x, groups))
        {
            scale = PerChannel(scale, x[1], groups);
            bias = PerChannel(bias, x[1], groups);
        }
        return binding.Unary(planner.PlanGroupNormalization(x, groups, binding.Node.GetFloat("epsilon", 1e-5f), scale, bias));
    }

    /// <summary>Opset 18's per-group values, each repeated over its group's C/G channels.</summary>
    private static Tensor PerChannel(Tensor perGroup, int channels, int groups)
    {
        var values = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            values[c] = perGroup.Span[c / (channels / groups)];
        }
        return Tensor.FromArray(values, channels);
    }
}
