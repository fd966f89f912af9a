using FastConv.Backends;
using FastConv.Compilation;
using FastConv.Ops;

namespace FastConv.Graphs.Ops;

/// <summary>
/// ONNX <c>Conv</c> (2-D) and FastConv's <c>FastConv.FusedConv</c>: the same convolution with its epilogue fused — an
/// optional residual as input 3 (added before the activation) and the activation in attributes (the fuse pass writes
/// them). Every backend runs it (<see cref="IBackend.PlanConv2d"/>).
/// </summary>
internal sealed class ConvOp(string opType) : OpDefinition<IBackend>(opType)
{
    /// <summary>Conv's hyperparameters for input <paramref name="x"/> and weights <paramref name="w"/> (K×C/g×R×S), auto_pad resolved.</summary>
    public static Conv2dParams Params(Node node, TensorShape x, TensorShape w)
    {
        AttributeReader.Require4(node, x, "input X");
        AttributeReader.Require4(node, w, "weight W");
        int r = w[2], s = w[3];
        AttributeReader.CheckKernelShape(node, r, s);
        (int sh, int sw) = AttributeReader.Pair(node, "strides", 1);
        (int dh, int dw) = AttributeReader.Pair(node, "dilations", 1);
        Padding2d pad = AttributeReader.Pads(node, x[2], x[3], r, s, sh, sw, dh, dw);
        return new Conv2dParams { StrideH = sh, StrideW = sw, DilationH = dh, DilationW = dw, Padding = pad, Groups = AttributeReader.Int(node, "group", 1) };
    }

    /// <summary>The activation of a fused conv node (attributes activation, activation_alpha, activation_beta).</summary>
    public static Activation FusedActivation(Node node)
    {
        string name = node.GetString("activation", "None");
        if (!Enum.TryParse(name, out ActivationKind kind) || !Enum.IsDefined(kind))
        {
            throw new InvalidModelException($"{node.Describe()}: unknown fused activation '{name}'.");
        }
        return new Activation(kind, node.GetFloat("activation_alpha", 0f), node.GetFloat("activation_beta", 0f));
    }

    /// <summary>Attributes that describe <paramref name="activation"/> on a fused node.</summary>
    public static IEnumerable<KeyValuePair<string, AttributeValue>> ActivationAttributes(Activation activation) =>
    [
        new("activation", AttributeValue.Of(activation.Kind.ToString())),
        new("activation_alpha", AttributeValue.Of(activation.Alpha)),
        new("activation_beta", AttributeValue.Of(activation.Beta)),
    ];

    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        problem = null;
        long[]? k = node.GetInts("kernel_shape");
        if (k is not null && k.Length != 2)
        {
            problem = $"attribute 'kernel_shape' has {k.Length} values; only 2-D convolutions are supported";
        }
        else if (node.GetString("auto_pad", "NOTSET") is not ("NOTSET" or "VALID" or "SAME_UPPER" or "SAME_LOWER") and string a)
        {
            problem = $"attribute 'auto_pad' = \"{a}\" is not supported";
        }
        else if (node.HasInput(1) && constantOf(node.Inputs[1]) is null)
        {
            problem = "input 1 (W) must be a constant (weights computed at run time are not supported)";
        }
        else if (node.HasInput(2) && constantOf(node.Inputs[2]) is null)
        {
            problem = "input 2 (B) must be a constant";
        }
        if (problem is null && OpType == FastConvOps.FusedConv)
        {
            FusedActivation(node);
        }
        return problem is null;
    }

    public override TensorShape[] InferShapes(OpContext context) => [Shape(context).OutputShape];

    public override long Parameters(OpContext context) => Flop.Params(context.Constant(1)) + Flop.Params(context.Constant(2));

    public override long Flops(OpContext context, TensorShape[] outputs)
    {
        TensorShape w = context.Shape(1, "W");
        return 2L * outputs[0].ElementCount * w[1] * w[2] * w[3];
    }

    protected override Step Plan(IBackend backend, KernelBinding binding)
    {
        Conv2dShape shape = Shape(binding.Context);
        int? residual = null;
        ConvEpilogue epilogue = ConvEpilogue.None;
        if (OpType == FastConvOps.FusedConv)
        {
            residual = binding.Context.Has(3) ? 3 : null;
            epilogue = new ConvEpilogue { AddResidual = residual is not null, Activation = FusedActivation(binding.Node) };
        }
        IConv2dPlan plan = binding.BlockedPlanner() is { } blocked
            ? blocked.PlanConv2d(shape, binding.Constant(1, "W"), binding.OptionalConstant(2), epilogue, binding.Layout(0))
            : backend.PlanConv2d(shape, binding.Constant(1, "W"), binding.OptionalConstant(2), epilogue);
        return binding.Conv(plan, residual);
    }

    private Conv2dShape Shape(OpContext context)
    {
        TensorShape x = context.Shape(0, "X"), w = context.Shape(1, "W");
        var s = Conv2dShape.From(x, w, Params(context.Node, x, w), context.Has(2) ? context.Shape(2, "B") : null);
        if (OpType == FastConvOps.FusedConv)
        {
            FusedActivation(context.Node);
            if (context.Has(3) && context.Shape(3, "residual") != s.OutputShape)
            {
                throw new InvalidShapeException($"residual {context.Shape(3, "residual")} must have the output's shape {s.OutputShape}; {s}.");
            }
        }
        return s;
    }
}
