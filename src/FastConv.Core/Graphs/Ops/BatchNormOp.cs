using FastConv.Compilation;

namespace FastConv.Graphs.Ops;

/// <summary>A backend that runs inference-mode BatchNormalization on its own (the fuse pass folds most into a conv).</summary>
public interface IBatchNormalizationPlanner
{
    /// <summary>Plans BatchNormalization in inference mode; scale, bias, mean and var ([C]) are read now.</summary>
    Backends.IUnaryPlan PlanBatchNormalization(TensorShape x, Tensor scale, Tensor bias, Tensor mean, Tensor var, float epsilon);
}

/// <summary>ONNX <c>BatchNormalization</c>, inference mode, constant statistics.</summary>
internal sealed class BatchNormOp() : OpDefinition<IBatchNormalizationPlanner>("BatchNormalization")
{
    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        problem = node.GetInt("training_mode", 0) != 0 ? "attribute 'training_mode' = 1 is not supported (inference only)"
            : node.Opset is > 0 and < 9 && node.GetInt("spatial", 1) != 1 ? "attribute 'spatial' = 0 is not supported"
            : node.Outputs.Skip(1).Any(o => o.Length > 0) ? "training outputs (running mean/var) are not supported"
            : Enumerable.Range(1, 4).Any(i => !node.HasInput(i) || constantOf(node.Inputs[i]) is null) ? "inputs 1-4 (scale, B, mean, var) must be constants"
            : null;
        return problem is null;
    }

    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape x = context.Shape(0, "X");
        if (x.Rank < 2)
        {
            throw new InvalidShapeException($"input must have rank >= 2 (N, C, ...), got {x}.");
        }
        string[] names = ["scale", "B", "mean", "var"];
        for (int i = 1; i <= 4; i++)
        {
            TensorShape s = context.Shape(i, names[i - 1]);
            if (s.Rank != 1 || s[0] != x[1])
            {
                throw new InvalidShapeException($"{names[i - 1]} has shape {s}, expected [{x[1]}] (one per channel of input {x}).");
            }
        }
        return [x];
    }

    public override long Parameters(OpContext context) => Flop.Params(context.Constant(1)) + Flop.Params(context.Constant(2));

    public override long Flops(OpContext context, TensorShape[] outputs) => 2 * Flop.Count(outputs[0]);

    protected override Step Plan(IBatchNormalizationPlanner planner, KernelBinding binding) =>
        binding.Unary(planner.PlanBatchNormalization(binding.InputShape(0, "X"), binding.Constant(1, "scale"), binding.Constant(2, "B"),
            binding.Constant(3, "mean"), binding.Constant(4, "var"), binding.Node.GetFloat("epsilon", 1e-5f)));
}
