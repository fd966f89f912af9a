using FastConv.Backends;
using FastConv.Graphs.Ops;

namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// Gather (ONNX <c>Gather</c>) along <paramref name="axis"/> with indices (normalized into [0, x[axis])) of shape
    /// <paramref name="indicesShape"/>: <c>y[a…, j…, b…] = x[a…, indices[j…], b…]</c>, y of shape
    /// <c>x[:axis] + indicesShape + x[axis+1:]</c>.
    /// </summary>
    public static void Gather(Tensor x, int axis, IReadOnlyList<int> indices, TensorShape indicesShape, Tensor y)
    {
        int a = x.Shape.NormalizeAxis(axis, "Gather");
        RequireShape(y, GatherOp.OutputShape(x.Shape, a, indicesShape), "output", "Gather", $"input {x.Shape}, axis {axis}, indices {indicesShape}");
        int q = indicesShape.Rank;
        var outIndex = new int[y.Rank];
        var inIndex = new int[x.Rank];
        var jIndex = new int[q];
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        for (int o = 0; o < ys.Length; o++)
        {
            LayoutIndex.Unravel(o, y.Shape, outIndex);
            for (int d = 0; d < a; d++)
            {
                inIndex[d] = outIndex[d];
            }
            for (int d = 0; d < q; d++)
            {
                jIndex[d] = outIndex[a + d];
            }
            int k = indices[q == 0 ? 0 : LayoutIndex.Ravel(jIndex, indicesShape)];
            if (k < 0 || k >= x.Shape[a])
            {
                throw new InvalidHyperparameterException($"Gather: index {k} is outside [0, {x.Shape[a]}) on axis {a} of input {x.Shape}.");
            }
            inIndex[a] = k;
            for (int d = a + 1; d < x.Rank; d++)
            {
                inIndex[d] = outIndex[d + q - 1];
            }
            ys[o] = xs[LayoutIndex.Ravel(inIndex, x.Shape)];
        }
    }
}

public sealed partial class ReferenceBackend : IGatherPlanner
{
    public IUnaryPlan PlanGather(TensorShape x, int axis, IReadOnlyList<int> indices, TensorShape indicesShape)
    {
        int[] k = [.. indices];
        return new UnaryPlan("Gather", GatherOp.OutputShape(x, axis, indicesShape), (xi, y) => Reference.Gather(xi, axis, k, indicesShape, y));
    }
}
