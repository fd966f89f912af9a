using FastConv.Cpu;
using FastConv.Ops;
using static FastConv.Tests.Validation.ValidationAssert;

namespace FastConv.Tests.Validation;

/// <summary>Invalid ConvTranspose2d problems: typed exceptions whose messages name the whole shape.</summary>
[Category("Hostile")]
[Description("InvalidHyperparameterException or InvalidShapeException naming the value and the whole shape")]
public sealed class ConvTranspose2dValidationTests
{
    private static readonly int[] X = [1, 4, 3, 3];
    private static readonly int[] Wt = [4, 3, 2, 2]; // C=4 → K=3 (groups 1)

    private static void Run(int[] x, int[] w, ConvTranspose2dParams p, int[]? bias = null, int[]? y = null)
    {
        var yt = y is not null ? Tensor.Allocate(y) : Tensor.Allocate(1, 1, 1, 1);
        Reference.ConvTranspose2d(Tensor.Allocate(x), Tensor.Allocate(w), bias is null ? null : Tensor.Allocate(bias), p, yt);
    }

    [Test]
    [Category("Control")]
    public void ValidProblemRuns()
        => Assert.DoesNotThrow(() => Run(X, Wt, ConvTranspose2dParams.Create(stride: 2, outputPadding: 1), [3], [1, 3, 7, 7]));

    [Test]
    public void ZeroStride()
        => Throws<InvalidHyperparameterException>(() => Run(X, Wt, ConvTranspose2dParams.Create(stride: 0)), "stride", "N=1", "C=4", "K=3", "R=2");

    [Test]
    public void NegativeStride()
        => Throws<InvalidHyperparameterException>(() => Run(X, Wt, ConvTranspose2dParams.Create() with { StrideH = -1 }), "stride", "(-1,1)", "C=4");

    [Test]
    public void ZeroDilation()
        => Throws<InvalidHyperparameterException>(() => Run(X, Wt, ConvTranspose2dParams.Create(dilation: 0)), "dilation", "C=4", "K=3");

    [Test]
    public void NegativeDilation()
        => Throws<InvalidHyperparameterException>(() => Run(X, Wt, ConvTranspose2dParams.Create() with { DilationW = -3 }), "dilation", "(1,-3)", "C=4");

    [Test]
    public void NegativePadding()
        => Throws<InvalidHyperparameterException>(() => Run(X, Wt, ConvTranspose2dParams.Create(pad: -1)), "padding", "C=4", "K=3");

    [Test]
    public void NegativeOutputPadding()
        => Throws<InvalidHyperparameterException>(() => Run(X, Wt, ConvTranspose2dParams.Create(stride: 2) with { OutputPaddingW = -1 }), "output padding", "(0,-1)", "C=4");

    [Test]
    public void OutputPaddingNotBelowStride()
        => Throws<InvalidHyperparameterException>(() => Run(X, Wt, ConvTranspose2dParams.Create(stride: 2, outputPadding: 2)), "output padding", "(2,2)", "stride", "C=4", "K=3");

    [Test]
    public void OutputPaddingBelowDilationButNotStrideIsRejectedLikeOnnxRuntime()
        => Throws<InvalidHyperparameterException>(() => Run(X, Wt, ConvTranspose2dParams.Create(dilation: 2, outputPadding: 1)), "output padding", "dilation=(2,2)");

    [Test]
    public void PaddingLeavesAnEmptyOutput()
        => Throws<InvalidHyperparameterException>(() => Run(X, Wt, ConvTranspose2dParams.Create(pad: 2)), "empty output", "H=3", "R=2", "C=4");

    [Test]
    public void ZeroGroups()
        => Throws<InvalidHyperparameterException>(() => Run(X, Wt, ConvTranspose2dParams.Create(groups: 0)), "groups=0", "C=4");

    [Test]
    public void InputChannelsNotDivisibleByGroups()
        => Throws<InvalidShapeException>(() => Run([1, 3, 3, 3], [3, 2, 2, 2], ConvTranspose2dParams.Create(groups: 2)), "C=3", "groups=2");

    [Test]
    public void WeightDoesNotMatchInputChannels()
        => Throws<InvalidShapeException>(() => Run(X, [5, 3, 2, 2], ConvTranspose2dParams.Create()), "[5,3,2,2]", "[C, K/groups, R, S]", "C=4");

    [Test]
    public void InputRank3()
        => Throws<InvalidShapeException>(() => Run([4, 3, 3], Wt, ConvTranspose2dParams.Create()), "rank 3", "[4,3,3]", "stride");

    [Test]
    public void WeightRank5()
        => Throws<InvalidShapeException>(() => Run(X, [4, 3, 2, 2, 1], ConvTranspose2dParams.Create()), "rank 5", "[4,3,2,2,1]", "stride");

    [Test]
    public void BiasOfWrongLength()
        => Throws<InvalidShapeException>(() => Run(X, Wt, ConvTranspose2dParams.Create(), [4], [1, 3, 4, 4]), "bias", "[4]", "K=3");

    [Test]
    public void OutputOfWrongShape()
        => Throws<InvalidShapeException>(() => Run(X, Wt, ConvTranspose2dParams.Create(), null, [1, 3, 3, 3]), "output", "[1,3,4,4]", "[1,3,3,3]", "N=1", "K=3");

    [Test]
    public void OutputChannelsNotDivisibleByGroupsIsRejectedByValidate()
        // From() derives K from the weight, so only a hand-made shape can have K % groups != 0.
        => Throws<InvalidShapeException>(
            () => new ConvTranspose2dShape(1, 2, 3, 3, 3, 1, 1, new ConvTranspose2dParams { Groups = 2 }).Validate(),
            "K=3", "groups=2", "C=2");

    [Test]
    public void HugeStrideIsRejectedNotWrappedAround()
        => Throws<InvalidHyperparameterException>(() => Run(X, Wt, new ConvTranspose2dParams { StrideH = 1 << 30 }), "larger than", "N=1", "C=4");
}
