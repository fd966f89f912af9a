using FastConv.Ops;

namespace FastConv.Tests.Core;

/// <summary>The output-size formulas, worked out by hand.</summary>
public sealed class OutputSizeTests
{
    // P = floor((H + padTop + padBottom − dil·(R−1) − 1) / stride) + 1
    [TestCase(224, 3, 1, 1, 1, 1, 224)]   // VGG 3x3 same
    [TestCase(224, 7, 2, 3, 3, 1, 112)]   // ResNet stem: (224+6-7)/2+1 = 112
    [TestCase(56, 3, 2, 1, 1, 1, 28)]     // (56+2-3)/2+1 = 28
    [TestCase(5, 3, 1, 0, 0, 2, 1)]       // dilated extent 5: (5-5)/1+1 = 1
    [TestCase(7, 3, 3, 0, 2, 1, 3)]       // asymmetric: (7+2-3)/3+1 = 3
    [TestCase(1, 5, 1, 4, 0, 1, 1)]       // padding larger than the input: (1+4-5)/1+1 = 1
    public void Conv(int h, int r, int stride, int padBegin, int padEnd, int dil, int expected)
        => Assert.That(OutputSize.Conv(h, r, stride, padBegin, padEnd, dil), Is.EqualTo(expected));

    [TestCase(112, 3, 2, 1, 1, false, 56)]  // ResNet max-pool: (112+2-3)/2+1 = 56
    [TestCase(6, 3, 2, 0, 0, false, 2)]     // (6-3)/2+1 = 2
    [TestCase(6, 3, 2, 0, 0, true, 3)]      // ceil((6-3)/2)+1 = 3; last window starts at 4 < 6
    [TestCase(5, 2, 2, 1, 1, true, 3)]      // ceil((5+2-2)/2)+1 = 4, but window 3 would start at 6 ≥ 5+1: dropped
    [TestCase(4, 2, 2, 0, 0, true, 2)]      // exact division: ceil = floor
    public void Pool(int h, int r, int stride, int padBegin, int padEnd, bool ceil, int expected)
        => Assert.That(OutputSize.Pool(h, r, stride, padBegin, padEnd, 1, ceil), Is.EqualTo(expected));

    // (H−1)·stride − pads + dil·(R−1) + outputPadding + 1
    [TestCase(3, 3, 2, 0, 0, 1, 0, 7)]
    [TestCase(3, 3, 2, 1, 1, 1, 1, 6)]
    [TestCase(4, 4, 2, 1, 1, 1, 0, 8)]  // the classic 2x upsampling deconv
    public void ConvTranspose(int h, int r, int stride, int padBegin, int padEnd, int dil, int outPad, int expected)
        => Assert.That(OutputSize.ConvTranspose(h, r, stride, padBegin, padEnd, dil, outPad), Is.EqualTo(expected));

    [Test]
    public void ShapeSetsMatchTheirPublishedOutputs()
    {
        Assert.Multiple(() =>
        {
            Assert.That(ShapeSets.ResNet50.Single(l => l.Name == "stem").WithBatch(1).P, Is.EqualTo(112));
            Assert.That(ShapeSets.ResNet50.Single(l => l.Name == "l4_3x3_s2").WithBatch(1).P, Is.EqualTo(7));
            Assert.That(ShapeSets.Vgg16, Has.Count.EqualTo(13));
            Assert.That(ShapeSets.ResNet50, Has.Count.EqualTo(24));
            Assert.That(ShapeSets.MobileNet.Where(l => l.Name.StartsWith("dw", StringComparison.Ordinal)).All(l => l.Params.Groups == l.C && l.C == l.K));
        });
        foreach (var layer in ShapeSets.Vgg16.Concat(ShapeSets.ResNet50).Concat(ShapeSets.MobileNet))
        {
            Assert.DoesNotThrow(() => layer.WithBatch(2).Validate(), layer.ToString());
        }
    }

    [Test]
    public void EdgesCoverTheEdgesAndAreValid()
    {
        var edges = ShapeSets.Edges(300, seed: 7).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(edges.Select(e => e.R).Distinct().Count(), Is.EqualTo(7), "R in 1..7");
            Assert.That(edges.Any(e => e.R != e.S), "R != S");
            Assert.That(edges.Select(e => e.Params.StrideH).Distinct().Order(), Is.EqualTo(new[] { 1, 2, 3 }));
            Assert.That(edges.Any(e => e.Params.StrideH != e.Params.StrideW), "strideH != strideW");
            Assert.That(edges.Any(e => e.Params.DilationH == 2));
            Assert.That(edges.Any(e => e.Params.Padding.Top != e.Params.Padding.Bottom), "asymmetric padding");
            Assert.That(edges.Any(e => e.Params.Padding.Top > e.R), "padding larger than the kernel");
            Assert.That(edges.Any(e => e.Groups == 2));
            Assert.That(edges.Any(e => e.Groups > 2 && e.Groups == e.C && e.C == e.K), "depthwise");
            Assert.That(edges.Any(e => e.N == 1) && edges.Any(e => e.N == 3));
            Assert.That(edges.Any(e => e.H % 2 == 1) && edges.Any(e => e.H % 2 == 0));
        });
        foreach (var e in edges)
        {
            Assert.DoesNotThrow(() => e.Validate(), e.ToString());
        }
    }

    [Test]
    public void OnnxPadsAreCheckedForCountAndRange()
    {
        Assert.That(Padding2d.FromOnnx([1, 2, 3, 4]), Is.EqualTo(new Padding2d(1, 2, 3, 4)));
        var ex = Assert.Throws<InvalidHyperparameterException>(() => Padding2d.FromOnnx([1, 2]));
        Assert.That(ex!.Message, Does.Contain("[1,2]"));
        Assert.Throws<InvalidHyperparameterException>(() => Padding2d.FromOnnx([0, 0, 0, 1L << 40]));
    }
}
