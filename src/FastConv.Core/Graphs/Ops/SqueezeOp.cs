using FastConv.Compilation;

namespace FastConv.Graphs.Ops;

/// <summary>
/// ONNX <c>Squeeze</c> and <c>Unsqueeze</c> with constant axes (an input from opset 13; the importer rewrites the older
/// attribute into it): the elements unchanged, size-1 axes removed or inserted. The importer turns such nodes of an
/// ONNX file into a Reshape with the shape known at load; these definitions serve graphs built in code.
/// </summary>
internal sealed class SqueezeOp(string opType) : ShapeOnlyOp(opType)
{
    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        problem = node.HasInput(1) && constantOf(node.Inputs[1]) is null ? "input 1 (axes) must be a constant" : null;
        return problem is null;
    }

    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape x = context.Shape(0, "data");
        long[]? axes = context.Node.Opset is > 0 and < 13 ? context.Node.GetInts("axes")
            : context.Has(1) ? context.RequireConstant(1, "axes").Int64s : context.Node.GetInts("axes");
        return [OpType == "Squeeze" ? Squeeze(x, axes) : Unsqueeze(x, axes ?? throw new InvalidModelException("Unsqueeze needs axes."))];
    }

    /// <summary>x without the listed axes (each of extent 1), or without every axis of extent 1 when none are listed.</summary>
    public static TensorShape Squeeze(TensorShape x, long[]? axes)
    {
        var drop = new bool[x.Rank];
        if (axes is null || axes.Length == 0)
        {
            for (int k = 0; k < x.Rank; k++)
            {
                drop[k] = x[k] == 1;
            }
        }
        else
        {
            foreach (long a in axes)
            {
                long k = a < 0 ? a + x.Rank : a;
                if (k < 0 || k >= x.Rank || drop[k] || x[(int)k] != 1)
                {
                    throw new InvalidHyperparameterException($"Squeeze: axes [{string.Join(",", axes)}] must be distinct axes of extent 1 of input {x}.");
                }
                drop[k] = true;
            }
        }
        return new TensorShape([.. x.Where((_, k) => !drop[k])]);
    }

    /// <summary>x with an axis of extent 1 inserted at each listed position of the output.</summary>
    public static TensorShape Unsqueeze(TensorShape x, long[] axes)
    {
        int outRank = x.Rank + axes.Length;
        var isNew = new bool[outRank];
        foreach (long a in axes)
        {
            long k = a < 0 ? a + outRank : a;
            if (k < 0 || k >= outRank || isNew[k])
            {
                throw new InvalidHyperparameterException($"Unsqueeze: axes [{string.Join(",", axes)}] must be distinct and within the output rank {outRank}; input {x}.");
            }
            isNew[k] = true;
        }
        var dims = new int[outRank];
        for (int k = 0, j = 0; k < outRank; k++)
        {
            dims[k] = isNew[k] ? 1 : x[j++];
        }
        return new TensorShape(dims);
    }
}
