using FastConv.Backends;
using FastConv.Ops;

namespace FastConv.Cpu;

/// <summary>
/// The <c>reference</c> backend: the scalar oracle behind the backend interface. Plans only validate and
/// keep copies of the constants; Execute calls <see cref="Reference"/>. Never fast, always right.
/// </summary>
public sealed class ReferenceBackend : IBackend
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
        TensorShape outShape = Reference.GemmOutputShape(aShape, b.Shape, p);
        Tensor bc = Copy(b);
        Tensor? cc = c is null ? null : Copy(c);
        return new UnaryPlan("Gemm", outShape, (a, y) => Reference.Gemm(a, bc, cc, p, y));
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
