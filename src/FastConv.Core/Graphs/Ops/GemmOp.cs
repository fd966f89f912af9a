using FastConv.Backends;
using FastConv.Compilation;
using FastConv.Ops;

namespace FastConv.Graphs.Ops;

/// <summary>ONNX <c>Gemm</c> with constant B (and C): a fully-connected layer. Every backend runs it (<see cref="IBackend.PlanGemm"/>).</summary>
internal sealed class GemmOp() : OpDefinition<IBackend>("Gemm")
{
    public static GemmParams Params(Node node) => new()
    {
        TransA = AttributeReader.Int(node, "transA", 0) != 0,
        TransB = AttributeReader.Int(node, "transB", 0) != 0,
        Alpha = node.GetFloat("alpha", 1f),
        Beta = node.GetFloat("beta", 1f),
    };

    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        problem = node.HasInput(1) && constantOf(node.Inputs[1]) is null ? "input 1 (B) must be a constant (a fully-connected layer's weights)"
            : node.HasInput(2) && constantOf(node.Inputs[2]) is null ? "input 2 (C) must be a constant"
            : null;
        return problem is null;
    }

    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape a = context.Shape(0, "A"), b = context.Shape(1, "B");
        TensorShape y = Params(context.Node).OutputShape(a, b);
        if (context.Has(2))
        {
            Broadcast.RequireUnidirectional(context.Shape(2, "C"), y, "C", "Gemm");
        }
        return [y];
    }

    public override long Parameters(OpContext context) => Flop.Params(context.Constant(1)) + Flop.Params(context.Constant(2));

    public override long Flops(OpContext context, TensorShape[] outputs)
    {
        TensorShape a = context.Shape(0, "A");
        int k = Params(context.Node).TransA ? a[0] : a[1];
        return 2L * outputs[0].ElementCount * k;
    }

    protected override Step Plan(IBackend backend, KernelBinding binding) =>
        binding.Unary(backend.PlanGemm(binding.InputShape(0, "A"), binding.Constant(1, "B"), binding.OptionalConstant(2), Params(binding.Node)));
}

/// <summary>A backend that runs MatMul of two run-time operands.</summary>
public interface IMatMulPlanner
{
    /// <summary>Plans MatMul of two run-time operands (NumPy semantics).</summary>
    IBinaryPlan PlanMatMul(TensorShape a, TensorShape b);
}

/// <summary>
/// ONNX <c>MatMul</c> (NumPy semantics). A constant 2-D right operand is a fully-connected layer: every backend runs
/// it as Gemm on A seen as [rows, K]; two run-time operands need <see cref="IMatMulPlanner"/>.
/// </summary>
internal sealed class MatMulOp() : OpDefinition("MatMul")
{
    public static TensorShape OutputShape(TensorShape a, TensorShape b)
    {
        if (a.Rank == 0 || b.Rank == 0)
        {
            throw new InvalidShapeException($"operands must have rank >= 1, got A {a} and B {b}.");
        }
        TensorShape a2 = a.Rank == 1 ? TensorShape.Of(1, a[0]) : a;
        TensorShape b2 = b.Rank == 1 ? TensorShape.Of(b[0], 1) : b;
        if (a2[^1] != b2[^2])
        {
            throw new InvalidShapeException($"inner dimensions differ: A {a} has K={a2[^1]}, B {b} has K={b2[^2]}.");
        }
        TensorShape batch = Broadcast.BroadcastShape(new TensorShape(a2.Dims[..^2]), new TensorShape(b2.Dims[..^2]), "MatMul");
        var dims = new List<int>(batch.Dims.ToArray());
        if (a.Rank != 1)
        {
            dims.Add(a2[^2]);
        }
        if (b.Rank != 1)
        {
            dims.Add(b2[^1]);
        }
        return new TensorShape([.. dims]);
    }

    public override TensorShape[] InferShapes(OpContext context) => [OutputShape(context.Shape(0, "A"), context.Shape(1, "B"))];

    public override long Parameters(OpContext context) => Flop.Params(context.Constant(1));

    public override long Flops(OpContext context, TensorShape[] outputs) => 2L * outputs[0].ElementCount * context.Shape(0, "A")[^1];

    public override bool CanRun(IBackend backend, OpContext context) => IsFullyConnected(context) || backend is IMatMulPlanner;

    public override Step Plan(KernelBinding binding)
    {
        ArgumentNullException.ThrowIfNull(binding);
        TensorShape a = binding.InputShape(0, "A");
        if (IsFullyConnected(binding.Context))
        {
            var a2 = TensorShape.Of(a.ElementCount / a[^1], a[^1]);
            IUnaryPlan p = binding.Backend.PlanGemm(a2, binding.Constant(1, "B"), null, GemmParams.Default);
            return binding.Unary(p, a2, p.OutputShape);
        }
        return binding.Backend is IMatMulPlanner planner
            ? binding.Binary(planner.PlanMatMul(a, binding.InputShape(1, "B")))
            : throw new UnsupportedModelException([$"{binding.Node.Describe()}: backend '{binding.Backend.Name}' does not run MatMul of two run-time operands."]);
    }

    private static bool IsFullyConnected(OpContext context) =>
        context.Constant(1) is not null && context.Shape(1, "B").Rank == 2 && context.Shape(0, "A").Rank >= 2 && context.Constant(0) is null;
}
