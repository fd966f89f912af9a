using FastConv.Backends;
using FastConv.Compilation;
using FastConv.Ops;

namespace FastConv.Graphs.Ops;

/// <summary>A backend that runs Pad.</summary>
public interface IPadPlanner
{
    IUnaryPlan PlanPad(TensorShape x, PadParams p);
}

/// <summary>ONNX <c>Pad</c>: constant, reflect and edge modes; pads as attributes before opset 11, constant inputs after.</summary>
internal sealed class PadOp() : OpDefinition<IPadPlanner>("Pad")
{
    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        string mode = node.GetString("mode", "constant");
        problem = mode is not ("constant" or "reflect" or "edge") ? $"attribute 'mode' = \"{mode}\" is not supported (constant, reflect, edge)"
            : AttributeReader.FirstNonConstant(node, constantOf, 1, 3) is int i and > 0 ? $"input {i} must be a constant"
            : null;
        return problem is null;
    }

    /// <summary>Pad's parameters: attributes before opset 11, constant inputs (pads, constant_value, axes) after.</summary>
    public static PadParams Params(OpContext context)
    {
        Node node = context.Node;
        TensorShape x = context.Shape(0, "data");
        GraphConstant? pads = context.Constant(1), value = context.Constant(2), axes = context.Constant(3);
        string modeName = node.GetString("mode", "constant");
        PadMode mode = modeName switch
        {
            "constant" => PadMode.Constant,
            "reflect" => PadMode.Reflect,
            "edge" => PadMode.Edge,
            _ => throw new UnsupportedModelException([$"{node.Describe()} (opset {node.Opset}): attribute 'mode' = \"{modeName}\" is not supported (constant, reflect, edge)."]),
        };
        long[] raw;
        float fill;
        if (node.Opset is > 0 and < 11)
        {
            raw = node.GetInts("pads") ?? throw new InvalidModelException($"{node.Describe()}: attribute 'pads' is required before opset 11.");
            fill = node.GetFloat("value", 0f);
        }
        else
        {
            raw = pads?.Int64s ?? throw new InvalidModelException($"{node.Describe()}: input 1 (pads) is required and must be a constant.");
            fill = AttributeReader.Scalar(node, value, "constant_value") ?? 0f;
        }
        int rank = x.Rank;
        long[] full;
        if (axes is not null)
        {
            long[] ax = axes.Int64s;
            if (raw.Length != 2 * ax.Length)
            {
                throw new InvalidModelException($"{node.Describe()}: {raw.Length} pads for {ax.Length} axes; need 2 per axis.");
            }
            full = new long[2 * rank];
            for (int i = 0; i < ax.Length; i++)
            {
                int a = (int)(ax[i] < 0 ? ax[i] + rank : ax[i]);
                if (a < 0 || a >= rank)
                {
                    throw new InvalidModelException($"{node.Describe()}: axis {ax[i]} is outside the rank {rank} of input {x}.");
                }
                full[a] = raw[i];
                full[rank + a] = raw[ax.Length + i];
            }
        }
        else
        {
            full = raw;
        }
        if (full.Length != 2 * rank)
        {
            throw new InvalidModelException($"{node.Describe()}: {full.Length} pads for input {x} of rank {rank}; need {2 * rank}.");
        }
        return PadParams.Create(mode, [.. full.Select(v => AttributeReader.Checked(node, "pads", v, allowNegative: true))], fill);
    }

    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape x = context.Shape(0, "data");
        PadParams p = Params(context);
        var dims = new int[x.Rank];
        for (int d = 0; d < x.Rank; d++)
        {
            long size = (long)x[d] + p.Begin(d) + p.End(d);
            if (size < 0 || size > int.MaxValue)
            {
                throw new InvalidHyperparameterException($"pads on axis {d} give extent {size}; input {x}, {p}.");
            }
            if (p.Mode == PadMode.Reflect && (p.Begin(d) >= x[d] && p.Begin(d) > 0 || p.End(d) >= x[d] && p.End(d) > 0))
            {
                throw new InvalidHyperparameterException($"reflect pads on axis {d} must be smaller than the extent {x[d]}; input {x}, {p}.");
            }
            dims[d] = (int)size;
        }
        return [new TensorShape(dims)];
    }

    protected override Step Plan(IPadPlanner planner, KernelBinding binding) =>
        binding.Unary(planner.PlanPad(binding.InputShape(0, "data"), Params(binding.Context)));
}
