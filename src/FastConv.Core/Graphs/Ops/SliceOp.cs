using FastConv.Backends;
using FastConv.Compilation;

namespace FastConv.Graphs.Ops;

/// <summary>A backend that runs Slice (and Split, as one slice per output).</summary>
public interface ISlicePlanner
{
    /// <summary>
    /// Plans <c>y[i₀, …, i_{r−1}] = x[starts[0] + i₀·steps[0], …]</c> for every index of <paramref name="output"/> (same
    /// rank as <paramref name="x"/>): one start and one non-zero step per axis; every index read lies inside x.
    /// </summary>
    IUnaryPlan PlanSlice(TensorShape x, IReadOnlyList<int> starts, IReadOnlyList<int> steps, TensorShape output);
}

/// <summary>
/// ONNX <c>Slice</c> (opset 10+; the importer rewrites opset 1's attributes into inputs) with constant starts, ends,
/// axes and steps. Per sliced axis of extent d (negative values count from the end; then clamped): a positive step
/// takes <c>start ∈ [0, d]</c>, <c>end ∈ [0, d]</c>; a negative step <c>start ∈ [0, d − 1]</c>, <c>end ∈ [−1, d − 1]</c>;
/// the output extent is <c>max(0, ⌈(end − start)/step⌉)</c>. An end of INT_MAX means the end in the step's direction.
/// </summary>
internal sealed class SliceOp() : OpDefinition<ISlicePlanner>("Slice")
{
    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        int i = AttributeReader.FirstNonConstant(node, constantOf, 1, 4);
        problem = i > 0 ? $"input {i} ({Names[i]}) must be a constant" : null;
        return problem is null;
    }

    private static readonly string[] Names = ["data", "starts", "ends", "axes", "steps"];

    /// <summary>The per-axis start and step (every axis of x) and the output shape.</summary>
    public static (int[] Starts, int[] Steps, TensorShape Output) Params(OpContext context)
    {
        TensorShape x = context.Shape(0, "data");
        long[] starts = context.RequireConstant(1, "starts").Int64s, ends = context.RequireConstant(2, "ends").Int64s;
        long[] axes = context.Constant(3)?.Int64s ?? [.. Enumerable.Range(0, starts.Length).Select(a => (long)a)];
        long[] steps = context.Constant(4)?.Int64s ?? [.. starts.Select(_ => 1L)];
        if (ends.Length != starts.Length || axes.Length != starts.Length || steps.Length != starts.Length)
        {
            throw new InvalidModelException($"starts [{string.Join(",", starts)}], ends [{string.Join(",", ends)}], axes [{string.Join(",", axes)}] and steps [{string.Join(",", steps)}] must have the same length.");
        }
        int r = x.Rank;
        var start = new int[r];
        var step = new int[r];
        var dims = x.Dims.ToArray();
        Array.Fill(step, 1);
        var seen = new bool[r];
        for (int k = 0; k < axes.Length; k++)
        {
            long a = axes[k] < 0 ? axes[k] + r : axes[k];
            if (a < 0 || a >= r || seen[a])
            {
                throw new InvalidHyperparameterException($"Slice: axes [{string.Join(",", axes)}] must be distinct and within the rank of input {x}.");
            }
            seen[a] = true;
            long d = x[(int)a], s = starts[k], e = ends[k], st = steps[k];
            if (st == 0 || st < int.MinValue || st > int.MaxValue)
            {
                throw new InvalidHyperparameterException($"Slice: step {st} on axis {axes[k]} must be a non-zero 32-bit value; input {x}.");
            }
            s = s < 0 ? s + d : s;
            // INT_MAX (32 or 64 bit) as an end means "to the end in the step's direction" (numpy's None), as the spec
            // recommends for unknown extents and ONNX Runtime implements, also for negative steps.
            bool toEnd = e is int.MaxValue or long.MaxValue;
            e = toEnd ? (st > 0 ? d : -1) : e < 0 ? e + d : e;
            long count;
            if (st > 0)
            {
                s = Math.Clamp(s, 0, d);
                e = Math.Clamp(e, 0, d);
                count = e > s ? (e - s + st - 1) / st : 0;
            }
            else
            {
                s = Math.Clamp(s, 0, d - 1);
                e = Math.Clamp(e, -1, d - 1);
                count = s > e ? (s - e - st - 1) / -st : 0;
            }
            start[a] = count == 0 ? 0 : (int)s;
            step[a] = (int)st;
            dims[a] = (int)count;
        }
        return (start, step, new TensorShape(dims));
    }

    public override TensorShape[] InferShapes(OpContext context) => [Params(context).Output];

    protected override Step Plan(ISlicePlanner planner, KernelBinding binding)
    {
        var (starts, steps, output) = Params(binding.Context);
        return binding.Unary(planner.PlanSlice(binding.InputShape(0, "data"), starts, steps, output));
    }
}
