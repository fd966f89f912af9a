using FastConv.Backends;
using FastConv.Compilation;

namespace FastConv.Graphs.Ops;

/// <summary>A backend that runs Concat.</summary>
public interface IConcatPlanner
{
    /// <summary>Plans Concat of the inputs along <paramref name="axis"/>.</summary>
    INaryPlan PlanConcat(IReadOnlyList<TensorShape> inputs, int axis);
}

/// <summary>ONNX <c>Concat</c> (omitted inputs are skipped).</summary>
internal sealed class ConcatOp() : OpDefinition<IConcatPlanner>("Concat")
{
    public override TensorShape[] InferShapes(OpContext context)
    {
        if (!context.Node.Attributes.ContainsKey("axis"))
        {
            throw new InvalidModelException("attribute 'axis' is required.");
        }
        int axis = AttributeReader.Int(context.Node, "axis", 0);
        var shapes = new List<TensorShape>();
        for (int i = 0; i < context.Node.Inputs.Length; i++)
        {
            if (context.Has(i))
            {
                shapes.Add(context.Shape(i, "input"));
            }
        }
        if (shapes.Count == 0)
        {
            throw new InvalidShapeException("needs at least one input.");
        }
        TensorShape first = shapes[0];
        int a = first.NormalizeAxis(axis, "Concat");
        var dims = first.Dims.ToArray();
        dims[a] = 0;
        long sum = 0;
        foreach (TensorShape s in shapes)
        {
            if (s.Rank != first.Rank || Enumerable.Range(0, s.Rank).Any(d => d != a && s[d] != first[d]))
            {
                throw new InvalidShapeException($"input shapes {string.Join(" ", shapes)} differ on an axis other than the concat axis {axis}.");
            }
            sum += s[a];
        }
        dims[a] = sum > int.MaxValue ? throw new InvalidShapeException($"concatenated extent {sum} is too large.") : (int)sum;
        return [new TensorShape(dims)];
    }

    protected override Step Plan(IConcatPlanner planner, KernelBinding binding)
    {
        int[] present = [.. Enumerable.Range(0, binding.Node.Inputs.Length).Where(binding.Node.HasInput)];
        TensorShape[] shapes = [.. present.Select(i => binding.InputShape(i))];
        int axis = AttributeReader.Int(binding.Node, "axis", 0);
        return binding.Nary(binding.BlockedPlanner() is { } blocked ? blocked.PlanConcat(shapes, axis, binding.Layout(0)) : planner.PlanConcat(shapes, axis), present);
    }
}
