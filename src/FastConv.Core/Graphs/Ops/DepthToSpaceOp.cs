using FastConv.Backends;
using FastConv.Compilation;

namespace FastConv.Graphs.Ops;

/// <summary>
/// ONNX <c>DepthToSpace</c> (opset 13; modes DCR, the default, and CRD): N×C×H×W to N×C/b²×H·b×W·b. It is a transpose
/// of a 6-D view, so it is planned as one (<see cref="ITransposePlanner"/>):
/// DCR reads x as [N, b, b, C/b², H, W] with perm [0, 3, 4, 1, 5, 2]; CRD as [N, C/b², b, b, H, W] with perm
/// [0, 1, 4, 2, 5, 3]; either way the result, read as [N, C/b², H, b, W, b], is the output.
/// </summary>
internal sealed class DepthToSpaceOp() : OpDefinition<ITransposePlanner>("DepthToSpace")
{
    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        string mode = node.GetString("mode", "DCR");
        problem = mode is "DCR" or "CRD" ? null : $"attribute 'mode' = \"{mode}\" is not supported (DCR, CRD)";
        return problem is null;
    }

    public static int BlockSize(Node node, TensorShape x, bool toSpace)
    {
        AttributeReader.Require4(node, x, "input");
        if (!node.Attributes.ContainsKey("blocksize"))
        {
            throw new InvalidModelException("attribute 'blocksize' is required.");
        }
        long b = node.GetInt("blocksize", 1);
        bool ok = b >= 1 && b <= 65536 && (toSpace ? x[1] % (b * b) == 0 : x[2] % b == 0 && x[3] % b == 0);
        if (!ok)
        {
            throw new InvalidHyperparameterException(toSpace
                ? $"DepthToSpace: blocksize {b} must be >= 1 with blocksize² dividing the {x[1]} channels of input {x}."
                : $"SpaceToDepth: blocksize {b} must be >= 1 and divide H and W of input {x}.");
        }
        return (int)b;
    }

    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape x = context.Shape(0, "input");
        int b = BlockSize(context.Node, x, toSpace: true);
        return [TensorShape.Of(x[0], x[1] / (b * b), x[2] * b, x[3] * b)];
    }

    protected override Step Plan(ITransposePlanner planner, KernelBinding binding)
    {
        TensorShape x = binding.InputShape(0, "input");
        int b = BlockSize(binding.Node, x, toSpace: true);
        int n = x[0], c = x[1] / (b * b), h = x[2], w = x[3];
        bool crd = binding.Node.GetString("mode", "DCR") == "CRD";
        TensorShape view = crd ? TensorShape.Of(n, c, b, b, h, w) : TensorShape.Of(n, b, b, c, h, w);
        int[] perm = crd ? [0, 1, 4, 2, 5, 3] : [0, 3, 4, 1, 5, 2];
        return binding.Unary(planner.PlanTranspose(view, perm), view, TensorShape.Of(n, c, h, b, w, b));
    }
}

/// <summary>
/// ONNX <c>SpaceToDepth</c>: N×C×H×W to N×C·b²×H/b×W/b, DepthToSpace DCR's inverse; planned as the transpose of x read
/// as [N, C, H/b, b, W/b, b] by perm [0, 3, 5, 1, 2, 4], whose result [N, b, b, C, H/b, W/b] is the output.
/// </summary>
internal sealed class SpaceToDepthOp() : OpDefinition<ITransposePlanner>("SpaceToDepth")
{
    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape x = context.Shape(0, "input");
        int b = DepthToSpaceOp.BlockSize(context.Node, x, toSpace: false);
        return [TensorShape.Of(x[0], x[1] * b * b, x[2] / b, x[3] / b)];
    }

    protected override Step Plan(ITransposePlanner planner, KernelBinding binding)
    {
        TensorShape x = binding.InputShape(0, "input");
        int b = DepthToSpaceOp.BlockSize(binding.Node, x, toSpace: false);
        int n = x[0], c = x[1], h = x[2] / b, w = x[3] / b;
        TensorShape view = TensorShape.Of(n, c, h, b, w, b);
        return binding.Unary(planner.PlanTranspose(view, [0, 3, 5, 1, 2, 4]), view, TensorShape.Of(n, b, b, c, h, w));
    }
}
