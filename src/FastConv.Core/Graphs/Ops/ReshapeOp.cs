using FastConv.Backends;
using FastConv.Compilation;

namespace FastConv.Graphs.Ops;

/// <summary>
/// The ops that keep the elements and change only the shape: a plain copy in the backend's memory — on a device
/// backend a copy within device memory, so a reshape never sends a value back to the host.
/// </summary>
internal abstract class ShapeOnlyOp(string opType) : OpDefinition(opType)
{
    public override bool CanRun(IBackend backend, OpContext context) => CopiesIn(backend);

    public override Step Plan(KernelBinding binding)
    {
        ArgumentNullException.ThrowIfNull(binding);
        return binding.Copy();
    }

    /// <summary>Whether <paramref name="backend"/> can copy values in its own memory: any host backend, a device backend.</summary>
    public static bool CopiesIn(IBackend backend) => backend.Memory == MemorySpace.Host || backend is IDeviceBackend;
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
