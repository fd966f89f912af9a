using FastConv.Graphs;
using FastConv.Networks;

namespace FastConv.Tests.Networks;

/// <summary>The built-in networks against published figures: PyTorch's parameters() counts and the layer shapes.</summary>
public sealed class BuiltinNetworkTests
{
    // torchvision.models.resnet18(): sum(p.numel() for p in m.parameters()) = 11,689,512; vgg16: 138,357,544.
    // LeNet-5 (conv 5x5-6, conv 5x5-16, FC 120/84/10): 61,706. TensorFlow's MNIST tutorial net: 3,274,634.
    [TestCase("resnet18", 11_689_512L)]
    [TestCase("vgg16", 138_357_544L)]
    [TestCase("lenet5", 61_706L)]
    [TestCase("mnist", 3_274_634L)]
    public void ParameterCountsMatchPyTorch(string name, long expected)
    {
        Network net = Builtins.Build(name);
        Assert.That(net.Parameters, Is.EqualTo(expected), net.Summary().ToString());
    }

    // Conv and FC multiply-adds, Σ K·C·R·S·P·Q + FC in·out: ResNet-18 1.814 GMACs (torchvision documents 1.81
    // "GFLOPS", counting MACs): conv1 118,013,952 + layer1 4·115,605,504 + layers 2-4 3·411,041,792 (each: one
    // strided 3x3 57,802,752, three 3x3 115,605,504, a 1x1 downsample 6,422,528) + fc 512,000; VGG-16 15.47 GMACs.
    // We count a multiply-add as 2 FLOPs, element-wise ops as 1 per output.
    [TestCase("resnet18", 1_814_073_344L)]
    [TestCase("vgg16", 15_470_264_320L)]
    public void ConvAndFcMultiplyAddsMatchPublishedFigures(string name, long macs)
    {
        Network net = Builtins.Build(name);
        long convFc = net.Info.Nodes.Where(n => n.Node.OpType is "Conv" or "Gemm").Sum(n => n.Flops);
        Assert.That(convFc, Is.EqualTo(2 * macs));
        Assert.That(net.Flops, Is.GreaterThan(convFc));
    }

    [Test]
    public void OutputShapesFollowTheLayout()
    {
        GraphInfo r = Builtins.Build("resnet18", batch: 2).Info;
        Assert.Multiple(() =>
        {
            Assert.That(r.Shapes["maxpool"], Is.EqualTo(TensorShape.Of(2, 64, 56, 56)));
            Assert.That(r.Shapes["layer2.0.relu2"], Is.EqualTo(TensorShape.Of(2, 128, 28, 28)));
            Assert.That(r.Shapes["layer4.1.relu2"], Is.EqualTo(TensorShape.Of(2, 512, 7, 7)));
            Assert.That(r.Shapes["fc"], Is.EqualTo(TensorShape.Of(2, 1000)));
        });
        Assert.That(Builtins.Build("lenet5").Info.Shapes["pool2"], Is.EqualTo(TensorShape.Of(1, 16, 5, 5)));
        Assert.That(Builtins.Build("mnist").Info.Shapes["pool2"], Is.EqualTo(TensorShape.Of(1, 64, 7, 7)));
        Assert.That(Builtins.Build("vgg16").Info.Shapes["features.30"], Is.EqualTo(TensorShape.Of(1, 512, 7, 7)));
    }

    [Test]
    public void WeightsAreSeededAndHeUniform()
    {
        Graph a = Builtins.Create("lenet5", seed: 3), b = Builtins.Create("lenet5", seed: 3), c = Builtins.Create("lenet5", seed: 4);
        float[] wa = a.Constants["conv2.weight"].Floats;
        Assert.That(wa, Is.EqualTo(b.Constants["conv2.weight"].Floats));
        Assert.That(wa, Is.Not.EqualTo(c.Constants["conv2.weight"].Floats));
        double bound = Math.Sqrt(6.0 / (6 * 5 * 5));
        Assert.That(wa.Max(), Is.LessThanOrEqualTo(bound).And.GreaterThan(0.9 * bound));
        Assert.That(wa.Min(), Is.GreaterThanOrEqualTo(-bound).And.LessThan(-0.9 * bound));
    }

    [Test]
    public void UnknownBuiltinIsTyped()
    {
        var e = Assert.Throws<ModelNotFoundException>(() => ModelLoader.Load("builtin:resnet1000"));
        Assert.That(e!.Message, Does.Contain("resnet18"));
    }
}
