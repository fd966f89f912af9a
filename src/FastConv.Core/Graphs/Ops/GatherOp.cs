using FastConv.Backends;
using FastConv.Compilation;

namespace FastConv.Graphs.Ops;

/// <summary>A backend that runs Gather of float data with constant indices.</summary>
public interface IGatherPlanner
{
    /// <summary>
    /// Plans <c>y[a…, j…, b…] = x[a…, indices[j…], b…]</c> along <paramref name="axis"/> (normalized);
    /// <paramref name="indices"/> (of shape <paramref name="indicesShape"/>) are normalized into [0, x[axis]).
    /// </summary>
    IUnaryPlan PlanGather(TensorShape x, int axis, IReadOnlyList<int> indices, TensorShape indicesShape);
}

/// <summary>
/// ONNX <c>Gather</c> with float data and constant int64 indices (negative ones count from the end). Output shape:
/// <c>x[:axis] + indices.shape + x[axis+1:]</c>. Gathers on shapes (int64 data) are folded at load.
/// </summary>
internal sealed class GatherOp() : OpDefinition<IGatherPlanner>("Gather")
{
    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        problem = node.HasInput(1) && constantOf(node.Inputs[1]) is null ? "input 1 (indices) must be a constant (indices computed at run time need int64 run-time values)" : null;
        return problem is null;
    }

    /// <summary>The normalized axis and indices.</summary>
    public static (int Axis, int[] Indices, TensorShape IndicesShape) Params(OpContext context)
    {
        TensorShape x = context.Shape(0, "data");
        int axis = x.NormalizeAxis(AttributeReader.Int(context.Node, "axis", 0), "Gather");
        GraphConstant c = context.RequireConstant(1, "indices");
        long[] raw = c.Int64s;
        var indices = new int[raw.Length];
        for (int i = 0; i < raw.Length; i++)
        {
            long v = raw[i] < 0 ? raw[i] + x[axis] : raw[i];
            if (v < 0 || v >= x[axis])
            {
                throw new InvalidHyperparameterException($"Gather: index {raw[i]} is outside [-{x[axis]}, {x[axis] - 1}] on axis {axis} of input {x}.");
            }
            indices[i] = (int)v;
        }
        return (axis, indices, c.Shape);
    }

    public static TensorShape OutputShape(TensorShape x, int axis, TensorShape indicesShape) =>
        new([.. x.Dims[..axis], .. indicesShape.Dims, .. x.Dims[(axis + 1)..]]);

    public override TensorShape[] InferShapes(OpContext context)
    {
        var (axis, _, indicesShape) = Params(context);
        return [OutputShape(context.Shape(0, "data"), axis, indicesShape)];
    }

    protected override Step Plan(IGatherPlanner planner, KernelBinding binding)
    {
        var (axis, indices, indicesShape) = Params(binding.Context);
        return binding.Unary(planner.PlanGather(binding.InputShape(0, "data"), axis, indices, indicesShape));
    }
}
