using FastConv.Backends;
using FastConv.Compilation;

namespace FastConv.Graphs.Ops;

/// <summary>
/// The ops that keep the elements and change only the shape: a plain copy on host memory, a device-to-device copy
/// (<see cref="IMemoryCopyPlanner"/>) on a device backend, so a reshape never sends a value back to the host.
/// </summary>
internal abstract class ShapeOnlyOp(string opType) : OpDefinition(opType)
{
    public override bool CanRun(IBackend backend, OpContext context) => backend.Memory == MemorySpace.Host || backend is IMemoryCopyPlanner;

    public override Step Plan(KernelBinding binding) => PlanCopy(binding);

    /// <summary>The same elements from input 0 into output 0, in the backend's memory space.</summary>
    public static Step PlanCopy(KernelBinding binding)
    {
        ArgumentNullException.ThrowIfNull(binding);
        if (binding.Backend.Memory == MemorySpace.Host)
        {
            return binding.Copy();
        }
        TensorShape y = binding.OutputShapes[0];
        IUnaryPlan plan = ((IMemoryCopyPlanner)binding.Backend).PlanCopy(y, MemorySpace.Device, MemorySpace.Device);
        return binding.Unary(plan, binding.Input(0).Reshape(y));
    }
}

/// <summary>ONNX <c>Flatten</c>: [d0…d(axis−1)] × [d(axis)…] as a 2-D tensor.</summary>
internal sealed class FlattenOp() : ShapeOnlyOp("Flatten")
{
    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape x = context.Shape(0, "input");
        int axis = AttributeReader.Int(context.Node, "axis", 1);
        int a = axis < 0 ? axis + x.Rank : axis;
        if (a < 0 || a > x.Rank)
        {
            throw new InvalidHyperparameterException($"axis {axis} is outside [-{x.Rank}, {x.Rank}] for input {x}.");
        }
        long outer = 1, inner = 1;
        for (int d = 0; d < x.Rank; d++)
        {
            if (d < a)
            {
                outer *= x[d];
            }
            else
            {
                inner *= x[d];
            }
            if (outer > int.MaxValue || inner > int.MaxValue)
            {
                throw new InvalidShapeException($"flattening input {x} at axis {axis} gives a dimension above {int.MaxValue}.");
            }
        }
        return [TensorShape.Of((int)outer, (int)inner)];
    }
}

/// <summary>ONNX <c>Reshape</c> with a constant shape (shape arithmetic is folded at load).</summary>
internal sealed class ReshapeOp() : ShapeOnlyOp("Reshape")
{
    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        problem = node.GetInt("allowzero", 0) != 0 && node.HasInput(1) && constantOf(node.Inputs[1]) is { } c && c.Int64s.Contains(0)
            ? "attribute 'allowzero' = 1 with a 0 in the shape is not supported"
            : node.HasInput(1) && constantOf(node.Inputs[1]) is null ? "input 1 (shape) must be a constant (fold shape arithmetic at load)"
            : null;
        return problem is null;
    }

    public override TensorShape[] InferShapes(OpContext context) =>
        [OutputSize.Reshape(context.Shape(0, "data"), context.RequireConstant(1, "shape").Int64s)];
}
