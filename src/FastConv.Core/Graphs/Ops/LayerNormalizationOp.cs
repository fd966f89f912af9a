using FastConv.Backends;
using FastConv.Compilation;

namespace FastConv.Graphs.Ops;

/// <summary>A backend that runs LayerNormalization.</summary>
public interface ILayerNormalizationPlanner
{
    /// <summary>
    /// Plans LayerNormalization of <paramref name="x"/> over the axes from <paramref name="axis"/> (normalized, ≥ 0) to
    /// the last; <paramref name="scale"/> and <paramref name="bias"/> broadcast to those axes and are read now.
    /// </summary>
    IUnaryPlan PlanLayerNormalization(TensorShape x, int axis, float epsilon, Tensor scale, Tensor? bias);
}

/// <summary>
/// ONNX <c>LayerNormalization</c> (opset 17): <c>Y = (X − mean) / √(var + ε) · Scale + B</c>, mean and variance over
/// the axes from <c>axis</c> (default −1) to the last, per index of the axes before it. Scale and B are constants that
/// broadcast to the normalized axes. The optional Mean and InvStdDev outputs (for training) are not produced.
/// </summary>
internal sealed class LayerNormalizationOp() : OpDefinition<ILayerNormalizationPlanner>("LayerNormalization")
{
    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        problem = AttributeReader.FirstNonConstant(node, constantOf, 1, 2) is int i and > 0 ? $"input {i} ({(i == 1 ? "Scale" : "B")}) must be a constant"
            : node.GetInt("stash_type", 1) != 1 ? $"attribute 'stash_type' = {node.GetInt("stash_type", 1)} is not supported (1: float32 statistics)"
            : node.Outputs.Skip(1).Any(o => o.Length > 0) ? "outputs 1 and 2 (Mean, InvStdDev) are not supported (inference only)"
            : null;
        return problem is null;
    }

    /// <summary>The first normalized axis, in [0, rank).</summary>
    public static int Axis(Node node, TensorShape x) => x.NormalizeAxis(AttributeReader.Int(node, "axis", -1), "LayerNormalization");

    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape x = context.Shape(0, "X");
        var normalized = new TensorShape(x.Dims[Axis(context.Node, x)..]);
        Broadcast.RequireUnidirectional(context.Shape(1, "Scale"), normalized, "Scale", OpType);
        if (context.Has(2))
        {
            Broadcast.RequireUnidirectional(context.Shape(2, "B"), normalized, "B", OpType);
        }
        return [x];
    }

    public override long Parameters(OpContext context) => Flop.Params(context.Constant(1)) + Flop.Params(context.Constant(2));

    /// <summary>Per element: one add for the mean, a subtract, multiply and add for the variance, then subtract, two multiplies and an add.</summary>
    public override long Flops(OpContext context, TensorShape[] outputs) => 8 * Flop.Count(outputs[0]);

    protected override Step Plan(ILayerNormalizationPlanner planner, KernelBinding binding)
    {
        TensorShape x = binding.InputShape(0, "X");
        return binding.Unary(planner.PlanLayerNormalization(x, Axis(binding.Node, x), binding.Node.GetFloat("epsilon", 1e-5f),
            binding.Constant(1, "Scale"), binding.OptionalConstant(2)));
    }
}
