using FastConv.Backends;
using FastConv.Compilation;

namespace FastConv.Graphs.Ops;

/// <summary>What a reduction computes over its axes.</summary>
public enum ReduceKind
{
    /// <summary>ReduceSum: Σx.</summary>
    Sum,
    /// <summary>ReduceMean: Σx / count.</summary>
    Mean,
    /// <summary>ReduceMax: the largest x (NaN if any is NaN; −∞ over an empty set).</summary>
    Max,
    /// <summary>ReduceMin: the smallest x (NaN if any is NaN; +∞ over an empty set).</summary>
    Min,
}

/// <summary>A backend that runs ReduceSum, ReduceMax and ReduceMin (and ReduceMean through <see cref="IReduceMeanPlanner"/>).</summary>
public interface IReducePlanner
{
    /// <summary>Plans a reduction over <paramref name="axes"/> (normalized, sorted, distinct; empty copies x).</summary>
    IUnaryPlan PlanReduce(ReduceKind kind, TensorShape x, IReadOnlyList<int> axes, bool keepDims);
}

/// <summary>
/// ONNX <c>ReduceSum</c> (axes an input from opset 13), <c>ReduceMax</c> and <c>ReduceMin</c> (axes an input from
/// opset 18; the importer rewrites the older attribute forms into the input). The axes and the output shape follow
/// <see cref="ReduceMeanOp"/>'s rules, which ReduceMean keeps on its own planner interface.
/// </summary>
internal sealed class ReduceOp(string opType, ReduceKind kind) : OpDefinition<IReducePlanner>(opType)
{
    public ReduceKind Kind { get; } = kind;

    /// <summary>The first opset in which <c>axes</c> is an input rather than an attribute.</summary>
    private int AxesInputOpset => Kind == ReduceKind.Sum ? 13 : 18;

    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        problem = node.HasInput(1) && constantOf(node.Inputs[1]) is null ? "input 1 (axes) must be a constant" : null;
        return problem is null;
    }

    private int[] Axes(Node node, TensorShape x, GraphConstant? axesInput) => ReduceMeanOp.Axes(node, x, axesInput, AxesInputOpset);

    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape x = context.Shape(0, "data");
        int[] axes = Axes(context.Node, x, context.Constant(1));
        if (Kind is ReduceKind.Max or ReduceKind.Min && axes.Any(a => x[a] == 0))
        {
            // ONNX Runtime rejects an empty reduction for max/min; ±∞ would be an invented answer.
            throw new InvalidShapeException($"{OpType} over the empty axis of input {x} has no value.");
        }
        return [ReduceMeanOp.OutputShape(x, axes, context.Node.GetInt("keepdims", 1) != 0)];
    }

    public override long Flops(OpContext context, TensorShape[] outputs) => context.Shape(0, "data").ElementCount;

    protected override Step Plan(IReducePlanner planner, KernelBinding binding)
    {
        TensorShape x = binding.InputShape(0, "data");
        return binding.Unary(planner.PlanReduce(Kind, x, Axes(binding.Node, x, binding.Context.Constant(1)), binding.Node.GetInt("keepdims", 1) != 0));
    }
}
