using FastConv.Graphs;
using FastConv.Networks;
using FastConv.Onnx;
using FastConv.Sessions;
using FastConv.Tests.Support;

namespace FastConv.Tests.Onnx;

/// <summary>Built-in networks written as ONNX, read back, run on the cpu backend: same answer as the graph built in code, and as ONNX Runtime on the same file.</summary>
public class OnnxExportTests
{
    [TestCase("lenet5")]
    [TestCase("mnist")]
    [TestCase("resnet18")]
    public void Builtin_round_trips_through_onnx_and_agrees_with_onnx_runtime(string name)
    {
        Graph built = Builtins.Create(name);
        byte[] model = OnnxExport.ToBytes(built);
        Graph imported = OnnxModel.Load(model);
        Assert.That(imported.Inputs.Select(i => i.Shape), Is.EqualTo(built.Inputs.Select(i => i.Shape)));

        var input = built.Inputs[0];
        var x = OnnxNetworkTests.TestInput([.. input.Shape], seed: 5);
        var feeds = new Dictionary<string, Tensor> { [input.Name] = x };
        using var fromCode = new FastConvSession(Builtins.Create(name), new FastConvSessionOptions { Backend = "cpu", Threads = 1 });
        using var fromOnnx = new FastConvSession(imported, new FastConvSessionOptions { Backend = "cpu", Threads = 1 });
        var a = fromCode.Run(feeds);
        var b = fromOnnx.Run(feeds);
        var ort = OnnxModelBuilder.RunOrt(model, feeds);
        foreach (var (output, want) in ort)
        {
            Assert.That(b[output].ToArray(), Is.EqualTo(a[output].ToArray()), $"{name}: the imported graph computes exactly what the built one does");
            OnnxNetworkTests.AssertClose(b[output].Span, want.Span, $"{name} '{output}' vs ONNX Runtime");
        }
    }
}
