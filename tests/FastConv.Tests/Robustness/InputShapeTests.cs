using FastConv.Graphs;
using FastConv.Networks;
using FastConv.Onnx;
using FastConv.Sessions;
using FastConv.Tests.Support;
using Onnx;
using Spectre.Console.Testing;

namespace FastConv.Tests.Robustness;

/// <summary>
/// Input shapes given at load: a builtin takes exactly its one input, by name, with its full dimensions (the batch
/// is the only free one); an ONNX input whose file states a dimension of 0 is an error, never silently 1.
/// </summary>
[Category("Hostile")]
[Description("InvalidShapeException naming the input and the shape it must have")]
public sealed class InputShapeTests
{
    public static IEnumerable<TestCaseData> BadBuiltinShapes()
    {
        TestCaseData Case(string what, string model, string name, int[] dims) =>
            new TestCaseData(model, name, dims).SetName($"builtin input refused: {what}");

        yield return Case("a scalar () into mnist", "mnist", "input", []);
        yield return Case("rank 1 into lenet5", "lenet5", "input", [1024]);
        yield return Case("rank 3 (no batch) into mnist", "mnist", "input", [1, 28, 28]);
        yield return Case("rank 5 into resnet18", "resnet18", "input", [1, 1, 3, 224, 224]);
        yield return Case("batch 0 into mnist", "mnist", "input", [0, 1, 28, 28]);
        yield return Case("wrong channels into resnet18", "resnet18", "input", [1, 1, 224, 224]);
        yield return Case("wrong height into lenet5", "lenet5", "input", [1, 1, 28, 32]);
        yield return Case("wrong width into vgg16", "vgg16", "input", [2, 3, 224, 225]);
        yield return Case("a zero spatial dimension into mnist", "mnist", "input", [1, 1, 0, 28]);
        yield return Case("another input name", "lenet5", "pixels", [1, 1, 32, 32]);
    }

    [TestCaseSource(nameof(BadBuiltinShapes))]
    public void BuiltinInputShapesAreCheckedWhole(string model, string name, int[] dims)
    {
        var shapes = new Dictionary<string, TensorShape> { [name] = new TensorShape(dims) };
        var e = Assert.Throws<InvalidShapeException>(() => ModelLoader.Load("builtin:" + model, shapes));
        Assert.That(e!.Message, Does.Contain("builtin:" + model).And.Contain("'input'"));
    }

    [Test]
    [Description("shapes for two inputs of a one-input builtin: refused naming the extra one")]
    public void ABuiltinGivenTwoInputsIsRefused()
    {
        var shapes = new Dictionary<string, TensorShape> { ["input"] = TensorShape.Of(1, 1, 28, 28), ["extra"] = TensorShape.Of(1) };
        var e = Assert.Throws<InvalidShapeException>(() => ModelLoader.Load("builtin:mnist", shapes));
        Assert.That(e!.Message, Does.Contain("'extra' is not an input"));
    }

    [Test]
    [Description("the right shape with another batch: accepted, the batch taken from it")]
    public void TheBatchComesFromAWholeMatchingShape()
    {
        Graph g = ModelLoader.Load("builtin:lenet5", new Dictionary<string, TensorShape> { ["input"] = TensorShape.Of(3, 1, 32, 32) });
        Assert.That(g.Inputs[0].Shape, Is.EqualTo(TensorShape.Of(3, 1, 32, 32)));
    }

    [TestCase(0)]
    [TestCase(2)]
    public void AScalarNpyIntoABuiltinIsOneLineFromTheCli(int unnamed)
    {
        using var files = new HostileFiles("fastconv-shape-");
        string path = files.Path("scalar.npy");
        NpyFile.Write(path, Tensor.Wrap(new float[] { 1f }, TensorShape.Of()));
        string arg = unnamed == 0 ? path : $"input={path}";
        var output = new StringWriter();
        int rc = FastConv.Cli.Cli.Run(["run", "builtin:mnist", "--input", arg, "--backend", "reference"], new TestConsole(), output);
        Assert.That(rc, Is.Not.Zero);
        Assert.That(output.ToString().Trim(), Does.StartWith("fastconv: ").And.Contain("[N,1,28,28]").And.Not.Contain("IndexOutOfRange"));
    }

    public static IEnumerable<TestCaseData> ZeroDims()
    {
        yield return new TestCaseData(0).SetName("onnx input refused: the file states batch dimension 0");
        yield return new TestCaseData(2).SetName("onnx input refused: the file states height 0");
    }

    [TestCaseSource(nameof(ZeroDims))]
    public void AStatedZeroDimensionIsAnError(int axis)
    {
        var b = new OnnxModelBuilder();
        string x = b.Input("x", 1, 2, 4, 4);
        b.Graph.Input[0].Type.TensorType.Shape.Dim[axis] = new TensorShapeProto.Types.Dimension { DimValue = 0 };
        b.Output(b.Relu(x));
        var e = Assert.Throws<InvalidShapeException>(() => OnnxModel.Load(b.ToBytes()));
        Assert.That(e!.Message, Does.Contain($"dimension {axis} is 0"));
        // Given at load, the shape is the caller's to choose.
        var shape = new int[] { 1, 2, 4, 4 };
        Graph g = OnnxModel.Load(b.ToBytes(), new Dictionary<string, TensorShape> { ["x"] = new TensorShape(shape) });
        Assert.That(g.Inputs[0].Shape, Is.EqualTo(new TensorShape(shape)));
    }

    [Test]
    [Description("a given input shape with a 0: refused, not run as an empty batch")]
    public void AGivenZeroDimensionIsAnError()
    {
        var b = new OnnxModelBuilder();
        b.Output(b.Relu(b.Input("x", -1, 2, 4, 4)));
        Assert.Throws<InvalidShapeException>(() => OnnxModel.Load(b.ToBytes(), new Dictionary<string, TensorShape> { ["x"] = TensorShape.Of(0, 2, 4, 4) }));
        Assert.Throws<InvalidShapeException>(() => Builtins.Create("mnist", batch: 0));
    }
}
