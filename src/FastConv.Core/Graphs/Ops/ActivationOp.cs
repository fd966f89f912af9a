using FastConv.Backends;
using FastConv.Compilation;
using FastConv.Ops;

namespace FastConv.Graphs.Ops;

/// <summary>
/// The element-wise activations a conv epilogue can also apply (<see cref="ActivationKind"/>): ONNX <c>Relu</c>,
/// <c>LeakyRelu</c>, <c>Sigmoid</c>, <c>Tanh</c>, <c>HardSigmoid</c>, <c>HardSwish</c>, <c>Swish</c> (opset 24; SiLU, which
/// exporters write as <c>x·Sigmoid(x)</c>, recognized by the fuse pass) and <c>Clip</c> (constant bounds).
/// Every backend runs them (<see cref="IBackend.PlanActivation"/>); the fuse pass folds them into a preceding conv.
/// </summary>
internal sealed class ActivationOp(string opType) : OpDefinition<IBackend>(opType)
{
    public static IReadOnlyList<string> OpTypes { get; } = ["Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Swish", "Clip"];

    /// <summary>Clip's bounds: attributes min/max before opset 11, optional constant inputs 1 and 2 after.</summary>
    public static ClipParams Clip(Node node, GraphConstant? min, GraphConstant? max)
    {
        var p = new ClipParams();
        if (node.Opset is > 0 and < 11)
        {
            return p with { Min = node.GetFloat("min", p.Min), Max = node.GetFloat("max", p.Max) };
        }
        return p with { Min = AttributeReader.Scalar(node, min, "min") ?? p.Min, Max = AttributeReader.Scalar(node, max, "max") ?? p.Max };
    }

    /// <summary>The activation <paramref name="node"/> applies when it is one of these ops; null for any other node.</summary>
    public static Activation? Of(Node node, GraphConstant? min = null, GraphConstant? max = null)
    {
        switch (node.OpType)
        {
            case "Relu": return Activation.Relu;
            case "LeakyRelu": return Activation.LeakyRelu(node.GetFloat("alpha", 0.01f));
            case "Sigmoid": return Activation.Sigmoid;
            case "Tanh": return Activation.Tanh;
            case "HardSigmoid": return Activation.HardSigmoid(node.GetFloat("alpha", 0.2f), node.GetFloat("beta", 0.5f));
            case "HardSwish": return Activation.HardSwish;
            case "Swish": return Activation.Swish(node.GetFloat("alpha", 1f));
            case "Clip":
                ClipParams c = Clip(node, min, max);
                return Activation.Clip(c.Min, c.Max);
            default: return null;
        }
    }

    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        problem = null;
        foreach (string name in (string[])["alpha", "beta"])
        {
            if (node.Attributes.TryGetValue(name, out AttributeValue? v) && v.Kind is not (AttributeKind.Float or AttributeKind.Int))
            {
                problem = $"attribute '{name}' is {v.Kind}, expected {AttributeKind.Float}";
            }
        }
        if (OpType == "Clip" && AttributeReader.FirstNonConstant(node, constantOf, 1, 2) is int i and > 0)
        {
            problem = $"input {i} ({(i == 1 ? "min" : "max")}) must be a constant";
        }
        return problem is null;
    }

    public override TensorShape[] InferShapes(OpContext context)
    {
        Of(context.Node, context.Constant(1), context.Constant(2));
        return [context.Shape(0, "X")];
    }

    public override long Flops(OpContext context, TensorShape[] outputs) => Flop.Count(outputs[0]);

    public override bool IsLayoutAgnostic(OpContext context) => true;

    protected override Step Plan(IBackend backend, KernelBinding binding)
    {
        Activation a = Of(binding.Node, binding.Context.Constant(1), binding.Context.Constant(2))!.Value;
        return binding.Unary(backend.PlanActivation(a, binding.BufferShape(0)));
    }
}

/// <summary>A backend that runs an element-wise square root.</summary>
public interface ISqrtPlanner
{
    IUnaryPlan PlanSqrt(TensorShape x);
}

/// <summary>ONNX <c>Sqrt</c>.</summary>
internal sealed class SqrtOp() : OpDefinition<ISqrtPlanner>("Sqrt")
{
    public override TensorShape[] InferShapes(OpContext context) => [context.Shape(0, "X")];

    public override long Flops(OpContext context, TensorShape[] outputs) => Flop.Count(outputs[0]);

    public override bool IsLayoutAgnostic(OpContext context) => true;

    protected override Step Plan(ISqrtPlanner planner, KernelBinding binding) => binding.Unary(planner.PlanSqrt(binding.BufferShape(0)));
}

/// <summary>A backend that runs Gelu.</summary>
public interface IGeluPlanner
{
    IUnaryPlan PlanGelu(TensorShape x, GeluParams p);
}

/// <summary>ONNX <c>Gelu</c> (opset 20; approximate none or tanh).</summary>
internal sealed class GeluOp() : OpDefinition<IGeluPlanner>("Gelu")
{
    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        string a = node.GetString("approximate", "none");
        problem = a is "none" or "tanh" ? null : $"attribute 'approximate' = \"{a}\" is not supported (none, tanh)";
        return problem is null;
    }

    public override TensorShape[] InferShapes(OpContext context) => [context.Shape(0, "X")];

    public override long Flops(OpContext context, TensorShape[] outputs) => Flop.Count(outputs[0]);

    public override bool IsLayoutAgnostic(OpContext context) => true;

    protected override Step Plan(IGeluPlanner planner, KernelBinding binding)
    {
        var p = new GeluParams { Approximate = binding.Node.GetString("approximate", "none") == "tanh" ? GeluApproximation.Tanh : GeluApproximation.None };
        return binding.Unary(planner.PlanGelu(binding.BufferShape(0), p));
    }
}

/// <summary>A backend that runs PRelu with a constant slope.</summary>
public interface IPReluPlanner
{
    /// <summary>Plans PRelu with a constant slope that broadcasts unidirectionally to <paramref name="x"/>.</summary>
    IUnaryPlan PlanPRelu(TensorShape x, Tensor slope);
}

/// <summary>ONNX <c>PRelu</c> with a constant slope.</summary>
internal sealed class PReluOp() : OpDefinition<IPReluPlanner>("PRelu")
{
    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        problem = node.HasInput(1) && constantOf(node.Inputs[1]) is null ? "input 1 (slope) must be a constant" : null;
        return problem is null;
    }

    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape x = context.Shape(0, "X");
        Broadcast.RequireUnidirectional(context.Shape(1, "slope"), x, "slope", "PRelu");
        return [x];
    }

    public override long Parameters(OpContext context) => Flop.Params(context.Constant(1));

    public override long Flops(OpContext context, TensorShape[] outputs) => Flop.Count(outputs[0]);

    protected override Step Plan(IPReluPlanner planner, KernelBinding binding) =>
        binding.Unary(planner.PlanPRelu(binding.InputShape(0, "X"), binding.Constant(1, "slope")));
}

/// <summary>
/// ONNX <c>Identity</c> and inference-mode <c>Dropout</c>: the fuse pass drops them; when one is kept (its output is also
/// its input's only name a caller sees), a plain copy.
/// </summary>
internal sealed class IdentityOp(string opType) : OpDefinition(opType)
{
    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        problem = null;
        if (OpType == "Dropout" && node.HasInput(2))
        {
            // training_mode: only inference (false) is supported.
            GraphConstant? t = constantOf(node.Inputs[2]);
            if (t is null || t.Floats.Any(v => v != 0f))
            {
                problem = "input 2 (training_mode) must be a constant false; training is not supported";
            }
        }
        if (OpType == "Dropout" && node.Opset is > 0 and < 7 && node.GetInt("is_test", 0) == 0)
        {
            problem = "attribute 'is_test' = 0 (training) is not supported";
        }
        return problem is null;
    }

    public override TensorShape[] InferShapes(OpContext context) => [context.Shape(0, "X")];

    public override bool CanRun(IBackend backend, OpContext context) => ShapeOnlyOp.CopiesIn(backend);

    public override Step Plan(KernelBinding binding)
    {
        ArgumentNullException.ThrowIfNull(binding);
        return binding.Copy();
    }

    public override bool IsLayoutAgnostic(OpContext context) => true;
}
