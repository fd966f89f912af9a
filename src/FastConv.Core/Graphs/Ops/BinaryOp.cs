using FastConv.Backends;
using FastConv.Compilation;

namespace FastConv.Graphs.Ops;

/// <summary>The element-wise binary ops (ONNX Add, Sub, Mul, Div, Pow), with NumPy broadcasting.</summary>
public enum BinaryOpKind { Add, Sub, Mul, Div, Pow }

/// <summary>A backend that runs the element-wise binary ops.</summary>
public interface IBinaryPlanner
{
    /// <summary>Plans an element-wise binary op with NumPy broadcasting of <paramref name="a"/> and <paramref name="b"/>.</summary>
    IBinaryPlan PlanBinary(BinaryOpKind op, TensorShape a, TensorShape b);
}

/// <summary>ONNX <c>Add</c>, <c>Sub</c>, <c>Mul</c>, <c>Div</c>, <c>Pow</c> with NumPy broadcasting.</summary>
internal sealed class BinaryOp(BinaryOpKind op) : OpDefinition<IBinaryPlanner>(op.ToString())
{
    public override TensorShape[] InferShapes(OpContext context) =>
        [Broadcast.BroadcastShape(context.Shape(0, "A"), context.Shape(1, "B"), OpType)];

    public override long Flops(OpContext context, TensorShape[] outputs) => Flop.Count(outputs[0]);

    /// <summary>Same-shaped run-time operands combine element by element whatever the layout; a broadcast does not.</summary>
    public override bool IsLayoutAgnostic(OpContext context) =>
        context.Constant(0) is null && context.Constant(1) is null && context.Shape(0, "A") == context.Shape(1, "B");

    protected override Step Plan(IBinaryPlanner planner, KernelBinding binding) =>
        binding.Binary(planner.PlanBinary(op, binding.BufferShape(0), binding.BufferShape(1)));
}
