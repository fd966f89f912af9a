using FastConv.Cpu;
using FastConv.Ops;
using static FastConv.Tests.Validation.ValidationAssert;

namespace FastConv.Tests.Validation;

/// <summary>Invalid Conv2d problems: each throws the typed exception with a message naming the whole shape.</summary>
[Category("Hostile")]
[Description("InvalidHyperparameterException or InvalidShapeException naming the value and the whole shape (N, C, H, W, K, R, S)")]
public sealed class Conv2dValidationTests
{
    private static readonly int[] X = [1, 3, 5, 5];
    private static readonly int[] Wt = [4, 3, 3, 3];

    /// <summary>Runs the reference on zero tensors; y defaults to the correct output shape when valid.</summary>
    private static void Run(int[] x, int[] w, Conv2dParams p, int[]? bias = null, int[]? y = null)
    {
        var yt = y is not null ? Tensor.Allocate(y) : Tensor.Allocate(1, 1, 1, 1);
        Reference.Conv2d(Tensor.Allocate(x), Tensor.Allocate(w), bias is null ? null : Tensor.Allocate(bias), p, yt);
    }

    [Test]
    [Category("Control")]
    public void ValidProblemRuns()
        => Assert.DoesNotThrow(() => Run(X, Wt, Conv2dParams.Create(pad: 1), [4], [1, 4, 5, 5]));

    [Test]
    public void ZeroStride()
        => Throws<InvalidHyperparameterException>(() => Run(X, Wt, Conv2dParams.Create(stride: 0)), "stride", "(0,0)", "N=1", "C=3", "H=5", "K=4", "R=3", "S=3");

    [Test]
    public void NegativeStride()
        => Throws<InvalidHyperparameterException>(() => Run(X, Wt, Conv2dParams.Create() with { StrideW = -2 }), "stride", "(1,-2)", "N=1", "C=3", "K=4");

    [Test]
    public void ZeroDilation()
        => Throws<InvalidHyperparameterException>(() => Run(X, Wt, Conv2dParams.Create(dilation: 0)), "dilation", "(0,0)", "C=3", "K=4", "R=3");

    [Test]
    public void NegativeDilation()
        => Throws<InvalidHyperparameterException>(() => Run(X, Wt, Conv2dParams.Create() with { DilationH = -1 }), "dilation", "(-1,1)", "C=3", "K=4");

    [Test]
    public void ZeroGroups()
        => Throws<InvalidHyperparameterException>(() => Run(X, Wt, Conv2dParams.Create(groups: 0)), "groups=0", "C=3", "K=4");

    [Test]
    public void NegativePadding()
        => Throws<InvalidHyperparameterException>(() => Run(X, Wt, Conv2dParams.Create() with { Padding = new Padding2d(0, -1, 0, 0) }), "padding", "l-1", "C=3", "K=4");

    [Test]
    public void KernelLargerThanPaddedInput()
        => Throws<InvalidHyperparameterException>(() => Run([1, 1, 3, 3], [1, 1, 5, 5], Conv2dParams.Create()), "5x5", "3x3", "H=3", "R=5", "S=5");

    [Test]
    public void DilatedKernelLargerThanPaddedInput()
        => Throws<InvalidHyperparameterException>(() => Run([1, 1, 4, 4], [1, 1, 3, 3], Conv2dParams.Create(dilation: 2)), "5x5", "4x4", "dilation=(2,2)");

    [Test]
    public void KernelFitsOnlyWithPadding()
        => Assert.DoesNotThrow(() => Run([1, 1, 3, 3], [1, 1, 5, 5], Conv2dParams.Create(pad: 1), y: [1, 1, 1, 1]));

    [Test]
    public void InputChannelsNotDivisibleByGroups()
        => Throws<InvalidShapeException>(() => Run([1, 3, 5, 5], [4, 1, 3, 3], Conv2dParams.Create(groups: 2)), "C=3", "K=4", "groups=2");

    [Test]
    public void OutputChannelsNotDivisibleByGroups()
        => Throws<InvalidShapeException>(() => Run([1, 4, 5, 5], [3, 2, 3, 3], Conv2dParams.Create(groups: 2)), "K=3", "C=4", "groups=2");

    [Test]
    public void WeightChannelsDoNotMatchInput()
        => Throws<InvalidShapeException>(() => Run(X, [4, 2, 3, 3], Conv2dParams.Create()), "[4,2,3,3]", "[K, C/groups, R, S]", "C=3", "K=4");

    [Test]
    public void WeightChannelsDoNotMatchGroups()
        => Throws<InvalidShapeException>(() => Run([1, 4, 5, 5], [4, 4, 3, 3], Conv2dParams.Create(groups: 2)), "[4,4,3,3]", "[4,2,3,3]", "groups=2");

    [Test]
    public void InputRank3()
        => Throws<InvalidShapeException>(() => Run([3, 5, 5], Wt, Conv2dParams.Create()), "rank 3", "[3,5,5]", "[4,3,3,3]", "stride");

    [Test]
    public void WeightRank5()
        => Throws<InvalidShapeException>(() => Run(X, [4, 3, 3, 3, 1], Conv2dParams.Create()), "rank 5", "[4,3,3,3,1]", "[1,3,5,5]", "stride");

    [Test]
    public void BiasOfWrongLength()
        => Throws<InvalidShapeException>(() => Run(X, Wt, Conv2dParams.Create(), [3], [1, 4, 3, 3]), "bias", "[3]", "K=4", "C=3");

    [Test]
    public void BiasOfWrongRank()
        => Throws<InvalidShapeException>(() => Run(X, Wt, Conv2dParams.Create(), [1, 4], [1, 4, 3, 3]), "bias", "[1,4]", "K=4");

    [Test]
    public void OutputOfWrongShape()
        => Throws<InvalidShapeException>(() => Run(X, Wt, Conv2dParams.Create(), null, [1, 4, 5, 5]), "output", "[1,4,3,3]", "[1,4,5,5]", "N=1", "K=4", "P=3");

    [Test]
    public void OutputShapeHelperValidatesToo()
        => Throws<InvalidHyperparameterException>(() => Reference.Conv2dOutputShape(TensorShape.Of(X), TensorShape.Of(Wt), Conv2dParams.Create(stride: -1)), "stride", "N=1");

    [Test]
    public void HugeDilationIsRejectedNotWrappedAround()
        // dil·(R−1)+1 overflows 32 bits; computed in 64 it is far larger than the padded input.
        => Throws<InvalidHyperparameterException>(() => Run(X, Wt, Conv2dParams.Create(dilation: int.MaxValue)), "dilated kernel", "4294967295", "C=3", "K=4");

    [Test]
    public void HugePaddingIsRejectedNotWrappedAround()
        => Throws<InvalidHyperparameterException>(() => Run(X, Wt, Conv2dParams.Create(pad: int.MaxValue)), "padded input", "N=1", "C=3");

    [Test]
    public void ToStringOfAnInvalidProblemDoesNotThrow()
        => Assert.That(new Conv2dShape(1, 3, 5, 5, 4, 3, 3, Conv2dParams.Create(stride: 0)).ToString(), Does.Contain("N=1"));
}
