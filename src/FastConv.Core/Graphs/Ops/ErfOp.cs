using FastConv.Backends;
using FastConv.Compilation;

namespace FastConv.Graphs.Ops;

/// <summary>A backend that runs Erf.</summary>
public interface IErfPlanner
{
    /// <summary>Plans the element-wise error function on tensors of <paramref name="x"/>; Execute may run in place.</summary>
    IUnaryPlan PlanErf(TensorShape x);
}

/// <summary>ONNX <c>Erf</c> (opset 9/13): <c>y = erf(x) = 2/√π·∫₀ˣ e^(−t²) dt</c>, element-wise.</summary>
internal sealed class ErfOp() : OpDefinition<IErfPlanner>("Erf")
{
    public override TensorShape[] InferShapes(OpContext context) => [context.Shape(0, "input")];

    public override long Flops(OpContext context, TensorShape[] outputs) => Flop.Count(outputs[0]);

    public override bool IsLayoutAgnostic(OpContext context) => true;

    protected override Step Plan(IErfPlanner planner, KernelBinding binding) => binding.Unary(planner.PlanErf(binding.BufferShape(0)));
}
