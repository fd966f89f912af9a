using FastConv.Gpu.Backends;

namespace FastConv.Tests.Gpu;

/// <summary>
/// The z operand of cuDNN's fused conv + bias + activation (<c>y = act(α1·conv(x) + α2·z + bias)</c>): without a
/// residual it used to be y itself with α2 = 0, over whatever a recycled block held — cuDNN reads z, and 0·NaN is NaN.
/// </summary>
public sealed class CudnnFusedZTests
{
    [Test]
    public void WithoutAResidualZIsTheOutputZeroedFirst()
    {
        FusedZ z = FusedZ.For(residual: 0, y: 0x7000, outputElements: 96);
        Assert.Multiple(() =>
        {
            Assert.That(z.Address, Is.EqualTo(0x7000UL), "a valid tensor of y's shape (y itself)");
            Assert.That(z.Alpha2, Is.Zero);
            Assert.That(z.ZeroFirst, Is.True, "zeroed on the stream before the call, so no NaN from a recycled block reaches α2·z");
            Assert.That(z.ZeroCount, Is.EqualTo(96));
        });
    }

    [Test]
    public void WithAResidualZIsTheResidualAddedOnce()
    {
        FusedZ z = FusedZ.For(residual: 0x9000, y: 0x7000, outputElements: 96);
        Assert.Multiple(() =>
        {
            Assert.That(z.Address, Is.EqualTo(0x9000UL));
            Assert.That(z.Alpha2, Is.EqualTo(1f));
            Assert.That(z.ZeroFirst, Is.False);
        });
    }
}
