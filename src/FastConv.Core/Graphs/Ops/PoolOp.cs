using FastConv.Backends;
using FastConv.Compilation;
using FastConv.Ops;

namespace FastConv.Graphs.Ops;

/// <summary>ONNX <c>MaxPool</c> and <c>AveragePool</c> (2-D). Every backend runs them (<see cref="IBackend.PlanPool2d"/>).</summary>
internal sealed class PoolOp(string opType) : OpDefinition<IBackend>(opType)
{
    /// <summary>MaxPool / AveragePool hyperparameters; kernel_shape is required.</summary>
    public static Pool2dParams Params(Node node, TensorShape x)
    {
        AttributeReader.Require4(node, x, "input X");
        long[] kernel = node.GetInts("kernel_shape")
            ?? throw new InvalidModelException($"{node.Describe()}: attribute 'kernel_shape' is required.");
        if (kernel.Length != 2)
        {
            throw new InvalidModelException($"{node.Describe()}: kernel_shape [{string.Join(",", kernel)}] must have 2 values (2-D pooling).");
        }
        int r = AttributeReader.Checked(node, "kernel_shape", kernel[0]), s = AttributeReader.Checked(node, "kernel_shape", kernel[1]);
        (int sh, int sw) = AttributeReader.Pair(node, "strides", 1);
        (int dh, int dw) = AttributeReader.Pair(node, "dilations", 1);
        return new Pool2dParams
        {
            KernelH = r, KernelW = s, StrideH = sh, StrideW = sw, DilationH = dh, DilationW = dw,
            Padding = AttributeReader.Pads(node, x[2], x[3], r, s, sh, sw, dh, dw),
            CeilMode = AttributeReader.Int(node, "ceil_mode", 0) != 0,
            CountIncludePad = AttributeReader.Int(node, "count_include_pad", 0) != 0,
        };
    }

    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        problem = node.GetInts("kernel_shape") is not { Length: 2 } ? "attribute 'kernel_shape' must have 2 values (2-D pooling)"
            : node.GetInt("storage_order", 0) != 0 ? "attribute 'storage_order' = 1 is not supported"
            : node.Outputs.Length > 1 && node.Outputs[1].Length > 0 ? "output 1 (Indices) is not supported"
            : null;
        return problem is null;
    }

    public override TensorShape[] InferShapes(OpContext context) => [Shape(context).OutputShape];

    public override long Flops(OpContext context, TensorShape[] outputs)
    {
        long[] k = context.Node.GetInts("kernel_shape") ?? [1, 1];
        return outputs[0].ElementCount * k.Aggregate(1L, (a, b) => a * b);
    }

    protected override Step Plan(IBackend backend, KernelBinding binding) =>
        binding.Unary(binding.BlockedPlanner() is { } blocked
            ? blocked.PlanPool2d(Shape(binding.Context), OpType == "MaxPool", binding.Layout(0))
            : backend.PlanPool2d(Shape(binding.Context), OpType == "MaxPool"));

    private Pool2dShape Shape(OpContext context)
    {
        TensorShape x = context.Shape(0, "X");
        return Pool2dShape.From(x, Params(context.Node, x), OpType);
    }
}

/// <summary>ONNX <c>GlobalAveragePool</c> and <c>GlobalMaxPool</c> on N×C×H×W. Every backend runs them.</summary>
internal sealed class GlobalPoolOp(string opType) : OpDefinition<IBackend>(opType)
{
    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape x = context.Shape(0, "X");
        x.RequireRank(4, "input X", OpType);
        return [TensorShape.Of(x[0], x[1], 1, 1)];
    }

    public override long Flops(OpContext context, TensorShape[] outputs) => context.Shape(0, "X").ElementCount;

    protected override Step Plan(IBackend backend, KernelBinding binding) =>
        binding.Unary(binding.BlockedPlanner() is { } blocked
            ? blocked.PlanGlobalPool(binding.InputShape(0, "X"), OpType == "GlobalMaxPool", binding.Layout(0))
            : backend.PlanGlobalPool(binding.InputShape(0, "X"), OpType == "GlobalMaxPool"));
}
