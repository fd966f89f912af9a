using FastConv.Backends;
using FastConv.Compilation;

namespace FastConv.Graphs.Ops;

/// <summary>A backend that runs InstanceNormalization.</summary>
public interface IInstanceNormalizationPlanner
{
    /// <summary>
    /// Plans InstanceNormalization of <paramref name="x"/> (N×C×D1×…, rank ≥ 3): per (n, c) over the spatial axes;
    /// <paramref name="scale"/> and <paramref name="bias"/> are [C] and read now.
    /// </summary>
    IUnaryPlan PlanInstanceNormalization(TensorShape x, float epsilon, Tensor scale, Tensor bias);
}

/// <summary>
/// ONNX <c>InstanceNormalization</c> (opset 6): <c>y = scale[c]·(x − μ)/√(σ² + ε) + B[c]</c>, μ and σ² (biased) over the
/// spatial axes of each (n, c). Scale and B are constants of shape [C].
/// </summary>
internal sealed class InstanceNormalizationOp() : OpDefinition<IInstanceNormalizationPlanner>("InstanceNormalization")
{
    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        problem = AttributeReader.FirstNonConstant(node, constantOf, 1, 2) is int i and > 0 ? $"input {i} ({(i == 1 ? "scale" : "B")}) must be a constant" : null;
        return problem is null;
    }

    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape x = context.Shape(0, "input");
        if (x.Rank < 3)
        {
            throw new InvalidShapeException($"InstanceNormalization: input must be N×C×D1×… (rank ≥ 3), got {x}.");
        }
        foreach ((int i, string what) in new[] { (1, "scale"), (2, "B") })
        {
            TensorShape s = context.Shape(i, what);
            if (s != TensorShape.Of(x[1]))
            {
                throw new InvalidShapeException($"InstanceNormalization: {what} must have shape [{x[1]}] (one value per channel of input {x}), got {s}.");
            }
        }
        return [x];
    }

    public override long Parameters(OpContext context) => Flop.Params(context.Constant(1)) + Flop.Params(context.Constant(2));

    /// <summary>Per element: an add for the mean, subtract, multiply and add for the variance, then subtract, multiply and add.</summary>
    public override long Flops(OpContext context, TensorShape[] outputs) => 7 * Flop.Count(outputs[0]);

    protected override Step Plan(IInstanceNormalizationPlanner planner, KernelBinding binding) =>
        binding.Unary(planner.PlanInstanceNormalization(binding.InputShape(0, "input"), binding.Node.GetFloat("epsilon", 1e-5f),
            binding.Constant(1, "scale"), binding.Constant(2, "B")));
}
