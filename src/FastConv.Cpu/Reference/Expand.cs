using FastConv.Backends;
using FastConv.Graphs.Ops;

namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// Expand (ONNX <c>Expand</c>): x broadcast to y's shape (NumPy rules, x's axes aligned at the end, each equal or 1):
    /// <c>y[i] = x[i with every axis where x has extent 1 set to 0]</c>.
    /// </summary>
    public static void Expand(Tensor x, Tensor y)
    {
        Broadcast.RequireUnidirectional(x.Shape, y.Shape, "input", "Expand");
        int[] strides = Broadcast.Strides(x.Shape, y.Shape);
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        for (int o = 0; o < ys.Length; o++)
        {
            ys[o] = xs[Broadcast.Offset(o, y.Shape, strides)];
        }
    }

    /// <summary>Tile (ONNX <c>Tile</c>): <c>y[i₀, …] = x[i₀ mod d₀, …]</c>, y's extents <c>dₖ·repeats[k]</c>.</summary>
    public static void Tile(Tensor x, IReadOnlyList<int> repeats, Tensor y)
    {
        if (repeats.Count != x.Rank)
        {
            throw new InvalidHyperparameterException($"Tile: repeats {LayoutIndex.Format(repeats)} must have one value per axis of input {x.Shape}.");
        }
        RequireShape(y, new TensorShape([.. repeats.Select((r, k) => r * x.Shape[k])]), "output", "Tile", $"input {x.Shape}, repeats {LayoutIndex.Format(repeats)}");
        var outIndex = new int[x.Rank];
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        for (int o = 0; o < ys.Length; o++)
        {
            LayoutIndex.Unravel(o, y.Shape, outIndex);
            for (int d = 0; d < x.Rank; d++)
            {
                outIndex[d] %= x.Shape[d];
            }
            ys[o] = xs[LayoutIndex.Ravel(outIndex, x.Shape)];
        }
    }
}

public sealed partial class ReferenceBackend : IExpandPlanner
{
    public IUnaryPlan PlanExpand(TensorShape x, TensorShape output)
    {
        Broadcast.RequireUnidirectional(x, output, "input", "Expand");
        return new UnaryPlan("Expand", output, Reference.Expand);
    }
}
