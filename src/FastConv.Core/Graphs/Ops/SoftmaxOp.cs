using FastConv.Backends;
using FastConv.Compilation;

namespace FastConv.Graphs.Ops;

/// <summary>
/// ONNX <c>Softmax</c>: along one axis from opset 13; before 13, on the input flattened to 2-D at the axis (each row
/// normalized). Every backend runs it (<see cref="IBackend.PlanSoftmax"/>).
/// </summary>
internal sealed class SoftmaxOp() : OpDefinition<IBackend>("Softmax")
{
    /// <summary>Softmax's axis: default 1 before opset 13 (with its flatten-to-2-D meaning), −1 from 13 on.</summary>
    public static int Axis(Node node) => AttributeReader.Int(node, "axis", node.Opset is > 0 and < 13 ? 1 : -1);

    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape x = context.Shape(0, "input");
        x.NormalizeAxis(Axis(context.Node), "Softmax");
        return [x];
    }

    public override long Flops(OpContext context, TensorShape[] outputs) => 3 * Flop.Count(outputs[0]);

    protected override Step Plan(IBackend backend, KernelBinding binding)
    {
        TensorShape x = binding.InputShape(0);
        int axis = Axis(binding.Node);
        if (binding.Node.Opset is > 0 and < 13)
        {
            int a = x.NormalizeAxis(axis, "Softmax");
            int outer = 1;
            for (int d = 0; d < a; d++)
            {
                outer *= x[d];
            }
            var flat = TensorShape.Of(outer, outer == 0 ? 0 : x.ElementCount / outer);
            return binding.Unary(backend.PlanSoftmax(flat, 1), flat, flat);
        }
        return binding.Unary(backend.PlanSoftmax(x, axis));
    }
}
