using FastConv.Backends;
using FastConv.Compilation;

namespace FastConv.Graphs.Ops;

/// <summary>A backend that runs ReduceMean.</summary>
public interface IReduceMeanPlanner
{
    /// <summary>Plans ReduceMean over <paramref name="axes"/> (normalized, sorted, distinct).</summary>
    IUnaryPlan PlanReduceMean(TensorShape x, IReadOnlyList<int> axes, bool keepDims);
}

/// <summary>ONNX <c>ReduceMean</c>: axes as an attribute before opset 18, a constant input after.</summary>
internal sealed class ReduceMeanOp() : OpDefinition<IReduceMeanPlanner>("ReduceMean")
{
    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        problem = node.HasInput(1) && constantOf(node.Inputs[1]) is null ? "input 1 (axes) must be a constant" : null;
        return problem is null;
    }

    /// <summary>The axes, normalized and sorted; empty means none (noop_with_empty_axes), all when not given.</summary>
    public static int[] Axes(Node node, TensorShape x, GraphConstant? axesInput) => Axes(node, x, axesInput, 18);

    /// <summary>As above for a reduction whose <c>axes</c> became an input in opset <paramref name="axesInputOpset"/>.</summary>
    public static int[] Axes(Node node, TensorShape x, GraphConstant? axesInput, int axesInputOpset)
    {
        long[]? axes = node.Opset > 0 && node.Opset < axesInputOpset ? node.GetInts("axes") : axesInput?.Int64s ?? node.GetInts("axes");
        if (axes is null || axes.Length == 0)
        {
            if (AttributeReader.Int(node, "noop_with_empty_axes", 0) != 0)
            {
                return [];
            }
            return [.. Enumerable.Range(0, x.Rank)];
        }
        var result = new SortedSet<int>();
        foreach (long a in axes)
        {
            long n = a < 0 ? a + x.Rank : a;
            if (n < 0 || n >= x.Rank || !result.Add((int)n))
            {
                throw new InvalidHyperparameterException($"{node.Describe()}: axes [{string.Join(",", axes)}] must be distinct and within the rank of input {x}.");
            }
        }
        return [.. result];
    }

    public static TensorShape OutputShape(TensorShape x, IReadOnlyList<int> axes, bool keepDims)
    {
        var dims = new List<int>();
        for (int d = 0; d < x.Rank; d++)
        {
            if (!axes.Contains(d))
            {
                dims.Add(x[d]);
            }
            else if (keepDims)
            {
                dims.Add(1);
            }
        }
        return new TensorShape([.. dims]);
    }

    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape x = context.Shape(0, "data");
        return [OutputShape(x, Axes(context.Node, x, context.Constant(1)), context.Node.GetInt("keepdims", 1) != 0)];
    }

    public override long Flops(OpContext context, TensorShape[] outputs) => context.Shape(0, "data").ElementCount;

    protected override Step Plan(IReduceMeanPlanner planner, KernelBinding binding)
    {
        TensorShape x = binding.InputShape(0, "data");
        return binding.Unary(planner.PlanReduceMean(x, Axes(binding.Node, x, binding.Context.Constant(1)), binding.Node.GetInt("keepdims", 1) != 0));
    }
}
