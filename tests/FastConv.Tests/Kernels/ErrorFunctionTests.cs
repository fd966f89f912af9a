using FastConv.Cpu.Kernels;

namespace FastConv.Tests.Kernels;

/// <summary>
/// The double erf/erfc of the reference (<see cref="ErrorFunction"/>) against tabulated values (17 significant digits,
/// as Cody's fits and tables of the error function give them), within the bounds its documentation states; the
/// identities and special values exactly.
/// </summary>
public sealed class ErrorFunctionTests
{
    private static IEnumerable<TestCaseData> Erf()
    {
        yield return new TestCaseData(0.1, 0.1124629160182849);
        yield return new TestCaseData(0.5, 0.5204998778130465);
        yield return new TestCaseData(1.0, 0.8427007929497149);
        yield return new TestCaseData(1.5, 0.9661051464753108);
        yield return new TestCaseData(2.0, 0.9953222650189527);
        yield return new TestCaseData(2.4, 0.9993114861033550);
        yield return new TestCaseData(3.0, 0.9999779095030014);
        yield return new TestCaseData(5.0, 0.9999999999984626);
        yield return new TestCaseData(1e-10, 1.1283791670955126e-10);
    }

    [TestCaseSource(nameof(Erf))]
    public void ErfMatchesTheTable(double x, double expected)
    {
        Assert.That(ErrorFunction.Erf(x), Is.EqualTo(expected).Within(1.2e-15 * expected));
        Assert.That(ErrorFunction.Erf(-x), Is.EqualTo(-ErrorFunction.Erf(x)), "erf is odd");
    }

    private static IEnumerable<TestCaseData> Erfc()
    {
        // Below 2.5 erfc is 1 − erf (relative error up to 2e-12 near 2.5); past it the continued fraction (2.3e-15).
        yield return new TestCaseData(0.5, 0.4795001221869535, 1e-15);
        yield return new TestCaseData(1.0, 0.15729920705028513, 1e-14);
        yield return new TestCaseData(2.0, 0.004677734981047266, 2e-12);
        yield return new TestCaseData(3.0, 2.209049699858544e-05, 2.3e-15);
        yield return new TestCaseData(4.0, 1.541725790028002e-08, 2.3e-15);
        yield return new TestCaseData(5.0, 1.537459794428035e-12, 2.3e-15);
        yield return new TestCaseData(6.0, 2.1519736712498913e-17, 2.3e-15);
        yield return new TestCaseData(10.0, 2.088487583762545e-45, 2.3e-15);
        yield return new TestCaseData(20.0, 5.395865611607901e-176, 2.3e-15);
    }

    [TestCaseSource(nameof(Erfc))]
    public void ErfcMatchesTheTable(double x, double expected, double relative)
    {
        Assert.That(ErrorFunction.Erfc(x), Is.EqualTo(expected).Within(relative * expected));
        Assert.That(ErrorFunction.Erfc(-x), Is.EqualTo(2.0 - ErrorFunction.Erfc(x)), "erfc(−x) = 2 − erfc(x)");
        Assert.That(ErrorFunction.Erf(x) + ErrorFunction.Erfc(x), Is.EqualTo(1.0).Within(4e-16));
    }

    [Test]
    public void SpecialValues()
    {
        Assert.Multiple(() =>
        {
            Assert.That(ErrorFunction.Erf(0.0), Is.Zero);
            Assert.That(ErrorFunction.Erfc(0.0), Is.EqualTo(1.0));
            Assert.That(ErrorFunction.Erf(double.PositiveInfinity), Is.EqualTo(1.0));
            Assert.That(ErrorFunction.Erf(double.NegativeInfinity), Is.EqualTo(-1.0));
            Assert.That(ErrorFunction.Erfc(double.PositiveInfinity), Is.Zero);
            Assert.That(ErrorFunction.Erfc(double.NegativeInfinity), Is.EqualTo(2.0));
            Assert.That(ErrorFunction.Erfc(27.5), Is.Zero, "below the smallest double");
            Assert.That(double.IsNaN(ErrorFunction.Erf(double.NaN)), Is.True);
            Assert.That(double.IsNaN(ErrorFunction.Erfc(double.NaN)), Is.True);
        });
    }

    [Test]
    public void BothSidesOfTheSwitchToTheContinuedFractionAgree()
    {
        // erf(2.5) = 0.999593047982555041, erfc(2.5) = 4.06952017444959e-4: the series just below the switch and the
        // continued fraction at it, each within its bound.
        double below = Math.BitDecrement(2.5);
        Assert.That(ErrorFunction.Erf(below), Is.EqualTo(0.999593047982555041).Within(1.2e-15));
        Assert.That(ErrorFunction.Erf(2.5), Is.EqualTo(0.999593047982555041).Within(1.2e-15));
        Assert.That(ErrorFunction.Erfc(below), Is.EqualTo(4.06952017444959e-4).Within(2e-12 * 4.07e-4));
        Assert.That(ErrorFunction.Erfc(2.5), Is.EqualTo(4.06952017444959e-4).Within(2.3e-15 * 4.07e-4));
    }
}
