using System.Reflection;
using FastConv.Backends;
using FastConv.Graphs;
using FastConv.Onnx;
using FastConv.Sessions;
using FastConv.Tests.Support;

namespace FastConv.Tests.Onnx;

/// <summary>
/// A real trained model: ResNet-18 as exported from CNTK, shipped (MIT) in the NuGet package
/// Microsoft.ML.DnnImageFeaturizer.ResNet18 0.24.0 (tools/DnnImageModels/ResNet18Onnx/ResNet18.onnx), which the test
/// project restores for its path only. Loaded by the importer, run through sessions on reference and cpu, and compared
/// with ONNX Runtime; on cpu no node may fall back to the reference.
/// </summary>
/// <remarks>
/// Bound: <c>|y − y_ort| ≤ 1e-4·max|y_ort| + 1e-6</c>, as <see cref="OnnxNetworkTests"/> derives for ≤ 12 layers of
/// fp32 sums of length ≤ 4608 (3·3·512) with trained weights keeping the activations' scale: 17 conv layers in sequence
/// at ~√n·u relative each is ~5e-6 of the output's magnitude, Winograd F(4×4,3×3) on cpu ~1.6e-6 relative per layer;
/// 1e-4 leaves a wide margin and is orders below a wrong layer (errors of the order of the values).
/// </remarks>
public sealed class ResNet18ModelTests
{
    private static string ModelPath()
    {
        string? path = typeof(ResNet18ModelTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().SingleOrDefault(a => a.Key == "ResNet18Onnx")?.Value;
        if (path is null || !File.Exists(path))
        {
            Assert.Fail($"ResNet18.onnx not found at '{path}': the test project's PackageReference to Microsoft.ML.DnnImageFeaturizer.ResNet18 restores it.");
        }
        return path!;
    }

    [TestCase(BackendNames.Reference)]
    [TestCase(BackendNames.Cpu)]
    public void TrainedResNet18AgreesWithOnnxRuntime(string backend)
    {
        byte[] model = File.ReadAllBytes(ModelPath());
        Graph graph = OnnxModel.Load(model);
        GraphValue input = graph.Inputs.Single();
        Tensor x = OnnxNetworkTests.TestInput(input.Shape.Dims.ToArray(), seed: 18);
        var expected = OnnxModelBuilder.RunOrt(model, new Dictionary<string, Tensor> { [input.Name] = x });
        using var session = new FastConvSession(graph, new FastConvSessionOptions { Backend = backend, Threads = 2 });
        var actual = session.Run(new Dictionary<string, Tensor> { [input.Name] = x });
        if (backend == BackendNames.Cpu)
        {
            Assert.That(session.NodePlans.Where(p => p.Backend != BackendNames.Cpu).Select(p => $"{p.Op} '{p.Name}'"), Is.Empty, "nodes not on the cpu backend");
        }
        Assert.That(actual.Keys, Is.EquivalentTo(expected.Keys));
        foreach (var (name, want) in expected)
        {
            Assert.That(actual[name].Shape, Is.EqualTo(want.Shape), name);
            OnnxNetworkTests.AssertClose(actual[name].Span, want.Span, $"ResNet18.onnx on {backend}: output '{name}' {want.Shape}");
        }
    }
}
