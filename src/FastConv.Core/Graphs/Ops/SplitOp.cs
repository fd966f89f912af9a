using FastConv.Backends;
using FastConv.Compilation;

namespace FastConv.Graphs.Ops;

/// <summary>
/// ONNX <c>Split</c> (opset 13+ with an optional constant <c>split</c> input, 18+ with <c>num_outputs</c>; the importer
/// rewrites the older attribute into the input): the input cut along <c>axis</c> into consecutive parts, one per output.
/// Without <c>split</c>, equal parts of ⌈d/n⌉ (the last smaller, opset 18) — before opset 18 they must divide d evenly.
/// Each part is one Slice plan (<see cref="ISlicePlanner"/>), so every backend that slices splits.
/// </summary>
internal sealed class SplitOp() : OpDefinition<ISlicePlanner>("Split")
{
    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        problem = node.HasInput(1) && constantOf(node.Inputs[1]) is null ? "input 1 (split) must be a constant" : null;
        return problem is null;
    }

    /// <summary>The normalized axis and the extent of each part.</summary>
    public static (int Axis, int[] Sizes) Params(OpContext context)
    {
        Node node = context.Node;
        TensorShape x = context.Shape(0, "input");
        int axis = x.NormalizeAxis(AttributeReader.Int(node, "axis", 0), "Split");
        int d = x[axis];
        int n = node.Outputs.Length;
        long[]? split = context.Constant(1)?.Int64s ?? node.GetInts("split");
        if (split is { Length: > 0 })
        {
            if (split.Length != n || split.Any(s => s < 0) || split.Sum() != d)
            {
                throw new InvalidHyperparameterException($"Split: split [{string.Join(",", split)}] must have one non-negative size per output ({n}) adding up to {d}, axis {axis} of input {x}.");
            }
            return (axis, [.. split.Select(s => (int)s)]);
        }
        if (node.Attributes.ContainsKey("num_outputs"))
        {
            long k = node.GetInt("num_outputs", n);
            if (k != n || k < 1)
            {
                throw new InvalidHyperparameterException($"Split: num_outputs = {k} must equal the node's {n} outputs.");
            }
            int part = (d + n - 1) / n;
            int[] sizes = [.. Enumerable.Range(0, n).Select(i => Math.Max(0, Math.Min(part, d - i * part)))];
            if (sizes.Sum() != d || sizes[^1] == 0 && d > 0)
            {
                throw new InvalidHyperparameterException($"Split: {n} outputs of {part} cannot cover extent {d} on axis {axis} of input {x}.");
            }
            return (axis, sizes);
        }
        if (d % n != 0)
        {
            throw new InvalidHyperparameterException($"Split: extent {d} on axis {axis} of input {x} does not divide into {n} equal outputs; give 'split'.");
        }
        return (axis, [.. Enumerable.Repeat(d / n, n)]);
    }

    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape x = context.Shape(0, "input");
        var (axis, sizes) = Params(context);
        return [.. sizes.Select(s => Part(x, axis, s))];
    }

    private static TensorShape Part(TensorShape x, int axis, int size)
    {
        int[] dims = x.Dims.ToArray();
        dims[axis] = size;
        return new TensorShape(dims);
    }

    protected override Step Plan(ISlicePlanner planner, KernelBinding binding)
    {
        TensorShape x = binding.InputShape(0, "input");
        var (axis, sizes) = Params(binding.Context);
        var plans = new List<IUnaryPlan>();
        var outputs = new List<Tensor>();
        try
        {
            int offset = 0;
            for (int i = 0; i < sizes.Length; i++)
            {
                if (binding.Node.Outputs[i].Length > 0)
                {
                    int[] starts = new int[x.Rank], steps = [.. Enumerable.Repeat(1, x.Rank)];
                    starts[axis] = sizes[i] == 0 ? 0 : offset;
                    plans.Add(planner.PlanSlice(x, starts, steps, Part(x, axis, sizes[i])));
                    outputs.Add(binding.Output(i));
                }
                offset += sizes[i];
            }
        }
        catch
        {
            plans.ForEach(p => p.Dispose());
            throw;
        }
        return new SplitStep(binding.Node.Describe(), binding.Backend.Name, new SplitPlan([.. plans]), binding.Input(0), [.. outputs]);
    }

    /// <summary>The parts' slice plans as one plan (what a step reports and disposes).</summary>
    private sealed class SplitPlan(IUnaryPlan[] parts) : IPlan
    {
        public IUnaryPlan[] Parts => parts;
        public string Algorithm => parts.Length > 0 ? parts[0].Algorithm : "split";
        public long WorkspaceBytes => parts.Sum(p => p.WorkspaceBytes);
        public TensorShape OutputShape => parts.Length > 0 ? parts[0].OutputShape : TensorShape.Of(0);

        public void Dispose()
        {
            foreach (IUnaryPlan p in parts)
            {
                p.Dispose();
            }
        }
    }

    private sealed class SplitStep(string node, string backend, SplitPlan plan, Tensor x, Tensor[] ys) : Step(node, backend, plan)
    {
        public override void Execute()
        {
            IUnaryPlan[] parts = plan.Parts;
            for (int i = 0; i < parts.Length; i++)
            {
                parts[i].Execute(x, ys[i]);
            }
        }
    }
}
