namespace FastConv.Tests.Core;

public sealed class TensorShapeTests
{
    [Test]
    public void ElementCountAndStridesAreRowMajor()
    {
        var s = TensorShape.Of(2, 3, 4, 5);
        Assert.Multiple(() =>
        {
            Assert.That(s.ElementCount, Is.EqualTo(120));
            Assert.That(s.Strides(), Is.EqualTo(new[] { 60, 20, 5, 1 }));
            Assert.That(s.ToString(), Is.EqualTo("[2,3,4,5]"));
            Assert.That(TensorShape.Of().ElementCount, Is.EqualTo(1), "a scalar has one element");
            Assert.That(TensorShape.Of(3, 0).ElementCount, Is.Zero);
        });
    }

    [Test]
    public void EqualityIsByDimensions()
    {
        Assert.That(TensorShape.Of(1, 2) == TensorShape.Of(1, 2), Is.True);
        Assert.That(TensorShape.Of(1, 2) != TensorShape.Of(2, 1), Is.True);
        var a = TensorShape.Of(1, 2);
        var b = TensorShape.Of(1, 2);
        Assert.That(a.GetHashCode(), Is.EqualTo(b.GetHashCode()));
    }

    [Test]
    [Category("Hostile")]
    [Description("InvalidShapeException naming the shape")]
    public void NegativeDimensionThrowsNamingTheShape()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => TensorShape.Of(1, -3, 4));
        Assert.That(ex!.Message, Does.Contain("-3").And.Contain("[1,-3,4]"));
    }

    [Test]
    [Category("Hostile")]
    [Description("InvalidShapeException: more elements than one span holds")]
    public void TooManyElementsThrows()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => TensorShape.Of(65536, 65536));
        Assert.That(ex!.Message, Does.Contain("[65536,65536]"));
    }

    [TestCase(-1, 3)]
    [TestCase(-4, 0)]
    [TestCase(2, 2)]
    public void NormalizeAxisAcceptsNumPyRange(int axis, int expected)
        => Assert.That(TensorShape.Of(1, 2, 3, 4).NormalizeAxis(axis, "Test"), Is.EqualTo(expected));

    [TestCase(4)]
    [TestCase(-5)]
    [Category("Hostile")]
    [Description("InvalidHyperparameterException naming the axis")]
    public void NormalizeAxisOutOfRangeThrows(int axis)
    {
        var ex = Assert.Throws<InvalidHyperparameterException>(() => TensorShape.Of(1, 2, 3, 4).NormalizeAxis(axis, "Softmax"));
        Assert.That(ex!.Message, Does.Contain("Softmax").And.Contain("[1,2,3,4]").And.Contain(axis.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Test]
    [Category("Hostile")]
    [Description("InvalidShapeException naming the shape")]
    public void RequireRankNamesTheShape()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => TensorShape.Of(3, 4).RequireRank(4, "input", "Conv2d"));
        Assert.That(ex!.Message, Does.Contain("rank 4").And.Contain("[3,4]").And.Contain("Conv2d"));
    }
}

public sealed class TensorTests
{
    [Test]
    public void WrapUsesCallerMemoryWithoutCopy()
    {
        float[] data = new float[6];
        using var t = Tensor.Wrap(data, TensorShape.Of(2, 3));
        t.Span[4] = 7f;
        Assert.That(data[4], Is.EqualTo(7f));
    }

    [Test]
    [Category("Hostile")]
    [Description("InvalidShapeException: buffer and shape disagree")]
    public void WrapWithWrongLengthThrows()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => Tensor.Wrap(new float[5], TensorShape.Of(2, 3)));
        Assert.That(ex!.Message, Does.Contain("[2,3]").And.Contain('5'));
    }

    [Test]
    [Category("Hostile")]
    [Description("use after dispose: ObjectDisposedException, not pooled memory")]
    public void RentedTensorReturnsItsBufferOnDispose()
    {
        var t = Tensor.Rent(TensorShape.Of(4, 1000));
        Assert.That(t.Span.Length, Is.EqualTo(4000));
        t.Dispose();
        Assert.Throws<ObjectDisposedException>(() => _ = t.Span.Length, "a disposed tensor no longer exposes the pooled memory");
        Assert.DoesNotThrow(t.Dispose, "dispose is idempotent: the buffer is returned once");
    }

    [Test]
    public void IndexIsNchwRowMajor()
    {
        var t = Tensor.Allocate(2, 3, 4, 5);
        Assert.That(t.Index(1, 2, 3, 4), Is.EqualTo(119));
        Assert.That(t.Index(0, 1, 0, 0), Is.EqualTo(20));
    }

    [Test]
    [Category("Hostile")]
    [Description("InvalidShapeException: element counts differ")]
    public void ReshapeIsAViewAndChecksCount()
    {
        var t = Tensor.Allocate(2, 6);
        var v = t.Reshape(TensorShape.Of(3, 4));
        v.Span[11] = 1f;
        Assert.That(t.Span[11], Is.EqualTo(1f));
        Assert.Throws<InvalidShapeException>(() => t.Reshape(TensorShape.Of(5, 2)));
    }
}
