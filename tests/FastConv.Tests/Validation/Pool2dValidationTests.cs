using FastConv.Cpu;
using FastConv.Ops;
using static FastConv.Tests.Validation.ValidationAssert;

namespace FastConv.Tests.Validation;

/// <summary>Invalid MaxPool2d / AvgPool2d problems: typed exceptions whose messages name the whole shape.</summary>
[Category("Hostile")]
[Description("InvalidHyperparameterException or InvalidShapeException naming the value and the whole shape")]
public sealed class Pool2dValidationTests
{
    private static readonly int[] X = [2, 3, 5, 5];

    private static void Run(string op, int[] x, Pool2dParams p, int[]? y = null)
    {
        var xt = Tensor.Allocate(x);
        var yt = y is not null ? Tensor.Allocate(y) : Tensor.Allocate(1, 1, 1, 1);
        if (op == "MaxPool2d")
        {
            Reference.MaxPool2d(xt, p, yt);
        }
        else
        {
            Reference.AvgPool2d(xt, p, yt);
        }
    }

    private static readonly string[] Ops = ["MaxPool2d", "AvgPool2d"];

    [TestCaseSource(nameof(Ops))]
    [Category("Control")]
    public void ValidProblemRuns(string op)
        => Assert.DoesNotThrow(() => Run(op, X, Pool2dParams.Create(3, stride: 2, pad: 1, ceilMode: true), [2, 3, 3, 3]));

    [TestCaseSource(nameof(Ops))]
    public void ZeroKernel(string op)
        => Throws<InvalidHyperparameterException>(() => Run(op, X, Pool2dParams.Create(0)), op, "kernel", "N=2", "C=3", "H=5");

    [TestCaseSource(nameof(Ops))]
    public void ZeroStride(string op)
        => Throws<InvalidHyperparameterException>(() => Run(op, X, Pool2dParams.Create(2, stride: 0)), op, "stride", "(0,0)", "N=2", "C=3");

    [TestCaseSource(nameof(Ops))]
    public void NegativeStride(string op)
        => Throws<InvalidHyperparameterException>(() => Run(op, X, Pool2dParams.Create(2) with { StrideW = -1 }), op, "stride", "(1,-1)", "N=2");

    [TestCaseSource(nameof(Ops))]
    public void ZeroDilation(string op)
        => Throws<InvalidHyperparameterException>(() => Run(op, X, Pool2dParams.Create(2, dilation: 0)), op, "dilation", "N=2", "C=3");

    [TestCaseSource(nameof(Ops))]
    public void NegativeDilation(string op)
        => Throws<InvalidHyperparameterException>(() => Run(op, X, Pool2dParams.Create(2) with { DilationH = -2 }), op, "dilation", "(-2,1)");

    [TestCaseSource(nameof(Ops))]
    public void NegativePadding(string op)
        => Throws<InvalidHyperparameterException>(() => Run(op, X, Pool2dParams.Create(3) with { Padding = new Padding2d(0, 0, -1, 0) }), op, "padding", "b-1", "N=2");

    [TestCaseSource(nameof(Ops))]
    public void PadNotSmallerThanWindow(string op)
        => Throws<InvalidHyperparameterException>(() => Run(op, X, Pool2dParams.Create(2, pad: 2)), op, "pad", "kernel=(2,2)", "N=2", "C=3");

    [Test]
    public void DilatedMaxPoolPadMustStillBeSmallerThanTheKernel()
        // pad 2 < the dilated window (3) but not < the kernel (2): ONNX Runtime rejects it, and so do we.
        => Throws<InvalidHyperparameterException>(() => Run("MaxPool2d", X, Pool2dParams.Create(2, pad: 2, dilation: 2)), "MaxPool2d", "pad", "dilation=(2,2)", "N=2");

    [TestCaseSource(nameof(Ops))]
    public void WindowLargerThanPaddedInput(string op)
        => Throws<InvalidHyperparameterException>(() => Run(op, [1, 1, 3, 3], Pool2dParams.Create(5, pad: 0)), op, "5x5", "3x3", "H=3");

    [TestCaseSource(nameof(Ops))]
    public void InputRank3(string op)
        => Throws<InvalidShapeException>(() => Run(op, [3, 5, 5], Pool2dParams.Create(2)), op, "rank 3", "[3,5,5]", "kernel=(2,2)");

    [TestCaseSource(nameof(Ops))]
    public void InputRank5(string op)
        => Throws<InvalidShapeException>(() => Run(op, [1, 2, 3, 5, 5], Pool2dParams.Create(2)), op, "rank 5", "[1,2,3,5,5]");

    [TestCaseSource(nameof(Ops))]
    public void OutputOfWrongShape(string op)
        => Throws<InvalidShapeException>(() => Run(op, X, Pool2dParams.Create(2), [2, 3, 5, 5]), op, "output", "[2,3,4,4]", "[2,3,5,5]", "N=2", "P=4");

    [Test]
    public void AvgPoolRejectsDilation()
        => Throws<InvalidHyperparameterException>(() => Run("AvgPool2d", X, Pool2dParams.Create(2, dilation: 2), [2, 3, 3, 3]), "AvgPool2d", "dilation", "(2,2)", "N=2");

    [Test]
    public void OutputShapeHelperValidatesToo()
        => Throws<InvalidHyperparameterException>(() => Reference.Pool2dOutputShape(TensorShape.Of(X), Pool2dParams.Create(2, stride: 0), "MaxPool2d"), "MaxPool2d", "stride", "N=2");

    [Test]
    public void DilatedWindowOfOnlyPaddingIsRejected()
        // H = 1, kernel 2 with dilation 2, pad 1 on each side: the one window reads rows −1 and 1, both padding.
        => Throws<InvalidHyperparameterException>(
            () => Run("MaxPool2d", [1, 1, 1, 1], new Pool2dParams { KernelH = 2, KernelW = 1, DilationH = 2, Padding = new Padding2d(1, 0, 1, 0) }),
            "MaxPool2d", "only padding", "dilation=(2,1)", "H=1");

    [TestCaseSource(nameof(Ops))]
    public void HugeStrideInCeilModeIsNotWrappedAround(string op)
        // (H + pads − R + stride − 1) overflowed 32 bits and gave a 0x0 output; in 64 bits it is one window.
        => Assert.DoesNotThrow(() => Run(op, [1, 1, 5, 5], Pool2dParams.Create(2, stride: int.MaxValue, ceilMode: true), [1, 1, 1, 1]));

    [Test]
    public void HugeDilationIsRejectedNotWrappedAround()
        => Throws<InvalidHyperparameterException>(() => Run("MaxPool2d", X, Pool2dParams.Create(3, dilation: int.MaxValue)), "window", "larger than the padded input", "N=2");
}
