using FastConv.Backends;
using FastConv.Compilation;
using FastConv.Ops;

namespace FastConv.Graphs.Ops;

/// <summary>A backend that runs ConvTranspose (2-D).</summary>
public interface IConvTranspose2dPlanner
{
    /// <summary>Plans a transposed convolution: weights C×(K/groups)×R×S and bias [K] are read now.</summary>
    IUnaryPlan PlanConvTranspose2d(ConvTranspose2dShape shape, Tensor weights, Tensor? bias);
}

/// <summary>ONNX <c>ConvTranspose</c> (2-D, explicit or SAME pads; <c>output_shape</c> is not handled).</summary>
internal sealed class ConvTransposeOp() : OpDefinition<IConvTranspose2dPlanner>("ConvTranspose")
{
    /// <summary>ConvTranspose's hyperparameters (weights C×K/g×R×S).</summary>
    public static ConvTranspose2dParams Params(Node node, TensorShape x, TensorShape w)
    {
        AttributeReader.Require4(node, x, "input X");
        AttributeReader.Require4(node, w, "weight W");
        int r = w[2], s = w[3];
        AttributeReader.CheckKernelShape(node, r, s);
        (int sh, int sw) = AttributeReader.Pair(node, "strides", 1);
        (int dh, int dw) = AttributeReader.Pair(node, "dilations", 1);
        (int oph, int opw) = AttributeReader.Pair(node, "output_padding", 0);
        string autoPad = node.GetString("auto_pad", "NOTSET");
        Padding2d pad;
        if (autoPad is "SAME_UPPER" or "SAME_LOWER")
        {
            // ONNX: output = input·stride; total padding = stride·(in−1) + output_padding + (R−1)·dil + 1 − out.
            int th = Math.Max(0, sh * (x[2] - 1) + oph + (r - 1) * dh + 1 - x[2] * sh);
            int tw = Math.Max(0, sw * (x[3] - 1) + opw + (s - 1) * dw + 1 - x[3] * sw);
            pad = autoPad == "SAME_UPPER"
                ? new Padding2d(th / 2, tw / 2, th - th / 2, tw - tw / 2)
                : new Padding2d(th - th / 2, tw - tw / 2, th / 2, tw / 2);
        }
        else
        {
            pad = AttributeReader.ExplicitPads(node);
        }
        return new ConvTranspose2dParams
        {
            StrideH = sh, StrideW = sw, DilationH = dh, DilationW = dw, Padding = pad, Groups = AttributeReader.Int(node, "group", 1),
            OutputPaddingH = oph, OutputPaddingW = opw,
        };
    }

    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        problem = node.GetInts("kernel_shape") is { Length: not 2 } k ? $"attribute 'kernel_shape' has {k.Length} values; only 2-D is supported"
            : node.GetInts("output_shape") is { Length: > 0 } ? "attribute 'output_shape' is not supported (export explicit pads instead)"
            : node.HasInput(1) && constantOf(node.Inputs[1]) is null ? "input 1 (W) must be a constant"
            : node.HasInput(2) && constantOf(node.Inputs[2]) is null ? "input 2 (B) must be a constant"
            : null;
        return problem is null;
    }

    public override TensorShape[] InferShapes(OpContext context) => [Shape(context).OutputShape];

    public override long Parameters(OpContext context) => Flop.Params(context.Constant(1)) + Flop.Params(context.Constant(2));

    public override long Flops(OpContext context, TensorShape[] outputs)
    {
        TensorShape x = context.Shape(0, "X"), w = context.Shape(1, "W");
        return 2L * x.ElementCount * w[1] * w[2] * w[3];
    }

    protected override Step Plan(IConvTranspose2dPlanner planner, KernelBinding binding) =>
        binding.Unary(planner.PlanConvTranspose2d(Shape(binding.Context), binding.Constant(1, "W"), binding.OptionalConstant(2)));

    private static ConvTranspose2dShape Shape(OpContext context)
    {
        TensorShape x = context.Shape(0, "X"), w = context.Shape(1, "W");
        return ConvTranspose2dShape.From(x, w, Params(context.Node, x, w), context.Has(2) ? context.Shape(2, "B") : null);
    }
}
