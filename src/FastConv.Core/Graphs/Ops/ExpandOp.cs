using FastConv.Backends;
using FastConv.Compilation;

namespace FastConv.Graphs.Ops;

/// <summary>A backend that runs Expand (and Tile, as an expand of a reshaped view).</summary>
public interface IExpandPlanner
{
    /// <summary>Plans the copy of <paramref name="x"/> broadcast (NumPy, unidirectionally) to <paramref name="output"/>.</summary>
    IUnaryPlan PlanExpand(TensorShape x, TensorShape output);
}

/// <summary>ONNX <c>Expand</c> with a constant shape: the output is <c>broadcast(x.shape, shape)</c> (bidirectional, as NumPy).</summary>
internal sealed class ExpandOp() : OpDefinition<IExpandPlanner>("Expand")
{
    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        problem = node.HasInput(1) && constantOf(node.Inputs[1]) is null ? "input 1 (shape) must be a constant (shapes computed at run time need run-time shapes)" : null;
        return problem is null;
    }

    public static TensorShape OutputShape(OpContext context)
    {
        TensorShape x = context.Shape(0, "input");
        long[] shape = context.RequireConstant(1, "shape").Int64s;
        if (shape.Any(d => d < 0 || d > int.MaxValue))
        {
            throw new InvalidHyperparameterException($"Expand: shape [{string.Join(",", shape)}] must hold dimensions >= 0; input {x}.");
        }
        return Broadcast.BroadcastShape(x, new TensorShape([.. shape.Select(d => (int)d)]), "Expand");
    }

    public override TensorShape[] InferShapes(OpContext context) => [OutputShape(context)];

    protected override Step Plan(IExpandPlanner planner, KernelBinding binding) =>
        binding.Unary(planner.PlanExpand(binding.InputShape(0, "input"), binding.OutputShapes[0]));
}

/// <summary>
/// ONNX <c>Tile</c> with constant repeats: <c>y[i] = x[i mod x.shape]</c>, output extent <c>d·r</c> per axis. Planned as
/// an expand: x seen as [1, d₀, 1, d₁, …] broadcast to [r₀, d₀, r₁, d₁, …] is, read row-major, exactly the tiled output.
/// </summary>
internal sealed class TileOp() : OpDefinition<IExpandPlanner>("Tile")
{
    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        problem = node.HasInput(1) && constantOf(node.Inputs[1]) is null ? "input 1 (repeats) must be a constant" : null;
        return problem is null;
    }

    public static int[] Repeats(OpContext context)
    {
        TensorShape x = context.Shape(0, "input");
        long[] r = context.RequireConstant(1, "repeats").Int64s;
        if (r.Length != x.Rank || r.Any(v => v < 0))
        {
            throw new InvalidHyperparameterException($"Tile: repeats [{string.Join(",", r)}] must hold one value >= 0 per axis of input {x}.");
        }
        long[] dims = [.. r.Select((v, i) => v * x[i])];
        if (dims.Any(d => d > int.MaxValue))
        {
            throw new InvalidShapeException($"Tile: repeats [{string.Join(",", r)}] of input {x} give a dimension above {int.MaxValue}.");
        }
        return [.. r.Select(v => (int)v)];
    }

    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape x = context.Shape(0, "input");
        int[] r = Repeats(context);
        return [new TensorShape([.. r.Select((v, i) => v * x[i])])];
    }

    protected override Step Plan(IExpandPlanner planner, KernelBinding binding)
    {
        TensorShape x = binding.InputShape(0, "input");
        int[] r = Repeats(binding.Context);
        var view = new TensorShape([.. Enumerable.Range(0, x.Rank).SelectMany(i => new[] { 1, x[i] })]);
        var outView = new TensorShape([.. Enumerable.Range(0, x.Rank).SelectMany(i => new[] { r[i], x[i] })]);
        return binding.Unary(planner.PlanExpand(view, outView), view, outView);
    }
}
