using FastConv.Backends;
using FastConv.Compilation;

namespace FastConv.Graphs.Ops;

/// <summary>A backend that runs Softplus.</summary>
public interface ISoftplusPlanner
{
    /// <summary>Plans Softplus element-wise on tensors of <paramref name="x"/>; Execute may run in place.</summary>
    IUnaryPlan PlanSoftplus(TensorShape x);
}

/// <summary>
/// ONNX <c>Softplus</c> (opset 1): <c>y = ln(1 + eˣ)</c>, element-wise. Exporters write Mish before opset 18 as
/// <c>x·Tanh(Softplus(x))</c>, which the fuse pass turns into one Mish.
/// </summary>
internal sealed class SoftplusOp() : OpDefinition<ISoftplusPlanner>("Softplus")
{
    public override TensorShape[] InferShapes(OpContext context) => [context.Shape(0, "X")];

    public override long Flops(OpContext context, TensorShape[] outputs) => Flop.Count(outputs[0]);

    public override bool IsLayoutAgnostic(OpContext context) => true;

    protected override Step Plan(ISoftplusPlanner planner, KernelBinding binding) => binding.Unary(planner.PlanSoftplus(binding.BufferShape(0)));
}
