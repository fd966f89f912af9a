using FastConv.Backends;
using FastConv.Compilation;

namespace FastConv.Graphs.Ops;

/// <summary>A backend that runs Mish.</summary>
public interface IMishPlanner
{
    /// <summary>Plans Mish element-wise on tensors of <paramref name="x"/>; Execute may run in place.</summary>
    IUnaryPlan PlanMish(TensorShape x);
}

/// <summary>ONNX <c>Mish</c> (opset 18): <c>y = x·tanh(softplus(x)) = x·tanh(ln(1 + eˣ))</c>, element-wise.</summary>
internal sealed class MishOp() : OpDefinition<IMishPlanner>("Mish")
{
    public override TensorShape[] InferShapes(OpContext context) => [context.Shape(0, "X")];

    public override long Flops(OpContext context, TensorShape[] outputs) => Flop.Count(outputs[0]);

    public override bool IsLayoutAgnostic(OpContext context) => true;

    protected override Step Plan(IMishPlanner planner, KernelBinding binding) => binding.Unary(planner.PlanMish(binding.BufferShape(0)));
}
