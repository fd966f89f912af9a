using FastConv.Backends;
using FastConv.Graphs.Ops;
using FastConv.Ops;

namespace FastConv.Cpu;

/// <summary>
/// The <c>reference</c> backend: the scalar oracle behind the backend interface. Plans only validate and
/// keep copies of the constants; Execute calls <see cref="Reference"/>. Never fast, always right. It runs every op
/// FastConv knows, so it implements every planner interface.
/// </summary>
public sealed partial class ReferenceBackend : IBackend, IConvTranspose2dPlanner, IBinaryPlanner, IBatchNormalizationPlanner, IPReluPlanner,
    IGeluPlanner, ISqrtPlanner, IMatMulPlanner, IConcatPlanner, ITransposePlanner, IPadPlanner, IResizePlanner, IReduceMeanPlanner,
    IReorderPlanner
{
    public string Name => BackendNames.Reference;

    public IConv2dPlan PlanConv2d(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue)
    {
        shape.Validate(weights.Shape, bias?.Shape);
        epilogue.Validate(shape.K, shape.ToString());
        return new ConvPlan(shape, Copy(weights), bias is null ? null : Copy(bias), epilogue);
    }

    public IUnaryPlan PlanPool2d(Pool2dShape shape, bool max)
    {
        string op = max ? "MaxPool2d" : "AvgPool2d";
        shape.Validate(op);
        return new UnaryPlan(op, shape.OutputShape, max ? (x, y) => Reference.MaxPool2d(x, shape.Params, y) : (x, y) => Reference.AvgPool2d(x, shape.Params, y));
    }

    public IUnaryPlan PlanGlobalPool(TensorShape input, bool max)
    {
        string op = max ? "GlobalMaxPool" : "GlobalAveragePool";
        input.RequireRank(4, "input", op);
        return new UnaryPlan(op, TensorShape.Of(input[0], input[1], 1, 1), max ? Reference.GlobalMaxPool : Reference.GlobalAveragePool);
    }

    public IUnaryPlan PlanActivation(Activation activation, TensorShape shape)
        => new UnaryPlan(activation.ToString(), shape, (x, y) => Reference.Activation(x, activation, y));

    public IUnaryPlan PlanSoftmax(TensorShape shape, int axis)
    {
        shape.NormalizeAxis(axis, "Softmax");
        return new UnaryPlan("Softmax", shape, (x, y) => Reference.Softmax(x, axis, y));
    }

    public IUnaryPlan PlanGemm(TensorShape aShape, Tensor b, Tensor? c, GemmParams p)
    {
        TensorShape outShape = p.OutputShape(aShape, b.Shape);
        Tensor bc = Copy(b);
        Tensor? cc = c is null ? null : Copy(c);
        return new UnaryPlan("Gemm", outShape, (a, y) => Reference.Gemm(a, bc, cc, p, y));
    }

    public IUnaryPlan PlanConvTranspose2d(ConvTranspose2dShape shape, Tensor weights, Tensor? bias)
    {
        shape.Validate(weights.Shape, bias?.Shape);
        Tensor w = Copy(weights);
        Tensor? b = bias is null ? null : Copy(bias);
        return new UnaryPlan("ConvTranspose2d", shape.OutputShape, (x, y) => Reference.ConvTranspose2d(x, w, b, shape.Params, y));
    }

    public IBinaryPlan PlanBinary(BinaryOpKind op, TensorShape a, TensorShape b, Activation activation = default)
    {
        TensorShape outShape = Broadcast.BroadcastShape(a, b, op.ToString());
        Action<Tensor, Tensor, Tensor> run = op switch
        {
            BinaryOpKind.Add => Reference.Add,
            BinaryOpKind.Sub => Reference.Sub,
            BinaryOpKind.Mul => Reference.Mul,
            BinaryOpKind.Div => Reference.Div,
            BinaryOpKind.Pow => Reference.Pow,
            _ => throw new InvalidHyperparameterException($"Binary: unknown op {op}."),
        };
        return activation.Kind == ActivationKind.None
            ? new BinaryPlan(op.ToString(), outShape, run)
            : new BinaryPlan($"{op}+{activation}", outShape, (x, z, y) =>
            {
                run(x, z, y);
                Reference.Activation(y, activation, y);
            });
    }

    public IUnaryPlan PlanBatchNormalization(TensorShape x, Tensor scale, Tensor bias, Tensor mean, Tensor var, float epsilon)
    {
        Tensor g = Copy(scale), b = Copy(bias), m = Copy(mean), v = Copy(var);
        return new UnaryPlan("BatchNormalization", x, (xi, y) => Reference.BatchNormalization(xi, g, b, m, v, epsilon, y));
    }

    public IUnaryPlan PlanPRelu(TensorShape x, Tensor slope)
    {
        Broadcast.RequireUnidirectional(slope.Shape, x, "slope", "PRelu");
        Tensor s = Copy(slope);
        return new UnaryPlan("PRelu", x, (xi, y) => Reference.PRelu(xi, s, y));
    }

    public IUnaryPlan PlanGelu(TensorShape x, GeluParams p) => new UnaryPlan("Gelu", x, (xi, y) => Reference.Gelu(xi, p, y));

    public IUnaryPlan PlanSqrt(TensorShape x) => new UnaryPlan("Sqrt", x, Reference.Sqrt);

    public IBinaryPlan PlanMatMul(TensorShape a, TensorShape b) => new BinaryPlan("MatMul", Reference.MatMulOutputShape(a, b), Reference.MatMul);

    public INaryPlan PlanConcat(IReadOnlyList<TensorShape> inputs, int axis)
    {
        TensorShape outShape = Reference.ConcatOutputShape(inputs, axis);
        return new ConcatPlan(outShape, axis);
    }

    public IUnaryPlan PlanTranspose(TensorShape x, IReadOnlyList<int> perm)
    {
        int[] p = [.. perm];
        return new UnaryPlan("Transpose", Reference.TransposeOutputShape(x, p), (xi, y) => Reference.Transpose(xi, p, y));
    }

    public IUnaryPlan PlanPad(TensorShape x, PadParams p) => new UnaryPlan("Pad", Reference.PadOutputShape(x, p), (xi, y) => Reference.Pad(xi, p, y));

    public IUnaryPlan PlanResize(TensorShape x, ResizeParams p) => new UnaryPlan("Resize", Reference.ResizeOutputShape(x, p), (xi, y) => Reference.Resize(xi, p, y));

    public IUnaryPlan PlanReduceMean(TensorShape x, IReadOnlyList<int> axes, bool keepDims)
    {
        int[] a = [.. axes];
        return new UnaryPlan("ReduceMean", ReduceMeanOp.OutputShape(x, a, keepDims), (xi, y) => Reference.ReduceMean(xi, a, keepDims, y));
    }

    public IUnaryPlan PlanReorder(TensorShape shape, TensorLayout from, TensorLayout to)
    {
        ArgumentNullException.ThrowIfNull(shape);
        shape.RequireRank(4, "value", "Reorder");
        return new UnaryPlan("Reorder", to.PhysicalShape(shape), (x, y) => Reference.Reorder(x, shape, from, to, y));
    }

    public void Dispose()
    {
    }

    private static Tensor Copy(Tensor t) => Tensor.FromArray(t.ToArray(), t.Shape.Dims);

    private sealed class ConvPlan(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue) : IConv2dPlan
    {
        public Conv2dShape Shape => shape;
        public string Algorithm => "reference";
        public long WorkspaceBytes => 0;
        public TensorShape OutputShape => shape.OutputShape;

        public void Execute(Tensor x, Tensor y, Tensor? residual = null)
        {
            Reference.RequireShape(x, shape.InputShape, "input", "Conv2d", shape);
            Reference.Conv2dFused(x, weights, bias, shape.Params, epilogue, residual, y);
        }

        public void Dispose()
        {
        }
    }

    private sealed class BinaryPlan(string algorithm, TensorShape outputShape, Action<Tensor, Tensor, Tensor> run) : IBinaryPlan
    {
        public string Algorithm => "reference " + algorithm;
        public long WorkspaceBytes => 0;
        public TensorShape OutputShape => outputShape;

        public void Execute(Tensor a, Tensor b, Tensor y) => run(a, b, y);

        public void Dispose()
        {
        }
    }

    private sealed class ConcatPlan(TensorShape outputShape, int axis) : INaryPlan
    {
        public string Algorithm => "reference Concat";
        public long WorkspaceBytes => 0;
        public TensorShape OutputShape => outputShape;

        public void Execute(ReadOnlySpan<Tensor> inputs, Tensor y) => Reference.Concat(inputs.ToArray(), axis, y);

        public void Dispose()
        {
        }
    }

    private sealed class UnaryPlan(string algorithm, TensorShape outputShape, Action<Tensor, Tensor> run) : IUnaryPlan
    {
        public string Algorithm => "reference " + algorithm;
        public long WorkspaceBytes => 0;
        public TensorShape OutputShape => outputShape;

        public void Execute(Tensor x, Tensor y) => run(x, y);

        public void Dispose()
        {
        }
    }
}
