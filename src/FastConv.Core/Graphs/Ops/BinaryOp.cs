using FastConv.Backends;
using FastConv.Compilation;

namespace FastConv.Graphs.Ops;

/// <summary>The element-wise binary ops (ONNX Add, Sub, Mul, Div, Pow), with NumPy broadcasting.</summary>
public enum BinaryOpKind { Add, Sub, Mul, Div, Pow }

/// <summary>A backend that runs the element-wise binary ops.</summary>
public interface IBinaryPlanner
{
    /// <summary>
    /// Plans an element-wise binary op with NumPy broadcasting of <paramref name="a"/> and <paramref name="b"/>, and
    /// <paramref name="activation"/> applied to each result before it is stored (the fuse pass's Add + ReLU).
    /// </summary>
    IBinaryPlan PlanBinary(BinaryOpKind op, TensorShape a, TensorShape b, Activation activation = default);
}

/// <summary>
/// ONNX <c>Add</c>, <c>Sub</c>, <c>Mul</c>, <c>Div</c>, <c>Pow</c> with NumPy broadcasting; and FastConv's
/// <c>FastConv.FusedBinary</c>, one of them (attribute <c>op</c>) followed by an activation (the conv's activation
/// attributes), which the fuse pass makes of an element-wise op and the activation reading it.
/// </summary>
internal sealed class BinaryOp : OpDefinition<IBinaryPlanner>
{
    private readonly BinaryOpKind? _op;

    /// <summary>An ONNX binary op.</summary>
    public BinaryOp(BinaryOpKind op) : base(op.ToString()) => _op = op;

    /// <summary>The fused form, whose op is an attribute.</summary>
    public BinaryOp() : base(FastConvOps.FusedBinary)
    {
    }

    /// <summary>The binary op a <see cref="FastConvOps.FusedBinary"/> node applies.</summary>
    public static BinaryOpKind FusedOp(Node node) =>
        Enum.TryParse(node.GetString("op", ""), out BinaryOpKind k) && Enum.IsDefined(k) ? k
        : throw new InvalidModelException($"{node.Describe()}: attribute 'op' = \"{node.GetString("op", "")}\" is not one of {string.Join(", ", Enum.GetNames<BinaryOpKind>())}.");

    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        if (_op is null)
        {
            FusedOp(node);
            ConvOp.FusedActivation(node);
        }
        problem = null;
        return true;
    }

    public override TensorShape[] InferShapes(OpContext context) =>
        [Broadcast.BroadcastShape(context.Shape(0, "A"), context.Shape(1, "B"), OpType)];

    private BinaryOpKind Op(Node node) => _op ?? FusedOp(node);

    public override long Flops(OpContext context, TensorShape[] outputs) => Flop.Count(outputs[0]);

    /// <summary>Same-shaped run-time operands combine element by element whatever the layout; a broadcast does not.</summary>
    public override bool IsLayoutAgnostic(OpContext context) =>
        context.Constant(0) is null && context.Constant(1) is null && context.Shape(0, "A") == context.Shape(1, "B");

    protected override Step Plan(IBinaryPlanner planner, KernelBinding binding) =>
        binding.Binary(planner.PlanBinary(Op(binding.Node), binding.BufferShape(0), binding.BufferShape(1),
            _op is null ? ConvOp.FusedActivation(binding.Node) : Activation.None));
}
