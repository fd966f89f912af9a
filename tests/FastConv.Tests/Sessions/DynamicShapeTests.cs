using FastConv.Backends;
using FastConv.Graphs;
using FastConv.Onnx;
using FastConv.Sessions;
using FastConv.Tests.Support;
using Spectre.Console.Testing;
using static FastConv.Tests.Support.OnnxModelBuilder;

namespace FastConv.Tests.Sessions;

/// <summary>
/// Run-time shapes: a model with dynamic dimensions keeps them symbolic until a run; each new set of input shapes is
/// inferred (shape sub-graphs folded anew), compiled and planned, and its plan kept (bounded); results match ONNX Runtime.
/// </summary>
public sealed class DynamicShapeTests
{
    /// <summary>Conv 3→4 (3×3, same padding) → ReLU → 2×2 max-pool → PyTorch's view(N, −1) (Shape → Gather → Concat → Reshape): [N, 4·⌊H/2⌋·⌊W/2⌋].</summary>
    private static byte[] DynamicModel()
    {
        var b = new OnnxModelBuilder(seed: 5);
        string x = b.Input("image", -1, 3, -1, -1);
        string y = b.MaxPool(b.Relu(b.Conv(x, 3, 4, 3, 3)), 2, 2);
        b.Output(b.TorchFlatten(y));
        return b.ToBytes();
    }

    private static Tensor Random(int seed, params int[] dims) => TestData.Floats(new Random(seed), new TensorShape(dims));

    [Test]
    public void MetadataNamesTheSymbols()
    {
        using var session = new FastConvSession(OnnxModel.Load(DynamicModel()), new FastConvSessionOptions { Backend = BackendNames.Cpu, Threads = 1 });
        ValueMetadata input = session.InputMetadata.Single();
        Assert.That(input.ToString(), Is.EqualTo("image: float32 [N,3,H,W]"));
        Assert.That(input.Dims, Is.EqualTo(new int?[] { null, 3, null, null }));
        Assert.That(session.PlannedShapes, Is.Zero, "nothing to plan before a run gives H and W");
        Assert.Throws<InvalidShapeException>(() => _ = session.NodePlans);
    }

    [TestCase(BackendNames.Reference)]
    [TestCase(BackendNames.Cpu)]
    public void EachNewShapeIsPlannedOnceAndMatchesOnnxRuntime(string backend)
    {
        byte[] model = DynamicModel();
        using var session = new FastConvSession(OnnxModel.Load(model), new FastConvSessionOptions { Backend = backend, Threads = 1, MaxShapePlans = 2 });
        (int[] Dims, int Seed)[] runs = [([1, 3, 8, 8], 1), ([2, 3, 10, 12], 2), ([1, 3, 8, 8], 3), ([3, 3, 6, 4], 4)];
        int[] planned = new int[runs.Length];
        for (int r = 0; r < runs.Length; r++)
        {
            Tensor x = Random(runs[r].Seed, runs[r].Dims);
            Tensor expected = RunOrt(model, new Dictionary<string, Tensor> { ["image"] = x }).Values.Single();
            Tensor actual = session.Run(new Dictionary<string, Tensor> { ["image"] = x }).Values.Single();
            Assert.That(actual.Shape, Is.EqualTo(expected.Shape), $"run {r} at {x.Shape}");
            Compare.Close(expected, actual, $"dynamic model at {x.Shape} on {backend}", 1e-5f, 1e-5f);
            planned[r] = session.PlannedShapes;
        }
        // The third run reuses the first shape's plan; the fourth shape evicts the least recently used (MaxShapePlans 2).
        Assert.That(planned, Is.EqualTo(new[] { 1, 2, 2, 2 }));
        Assert.That(session.Inputs[0].Shape, Is.EqualTo(TensorShape.Of(3, 3, 6, 4)));
    }

    [Test]
    public void RunsAtAPlannedShapeAllocateNothing()
    {
        using var session = new FastConvSession(OnnxModel.Load(DynamicModel()), new FastConvSessionOptions { Backend = BackendNames.Cpu, Threads = 1 });
        Tensor a = Random(1, 1, 3, 8, 8), b = Random(2, 2, 3, 6, 6);
        Tensor ya = Tensor.Allocate(1, 4 * 4 * 4), yb = Tensor.Allocate(2, 4 * 3 * 3);
        string[] inName = ["image"];
        string[] outName = [session.Outputs[0].Name];
        Tensor[] aIn = [a], bIn = [b], aOut = [ya], bOut = [yb];
        session.Run(inName, aIn, outName, aOut);
        session.Run(inName, bIn, outName, bOut);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 5; i++)
        {
            session.Run(inName, aIn, outName, aOut); // alternating shapes: both plans are kept
            session.Run(inName, bIn, outName, bOut);
        }
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }

    [Test]
    public void ShapesGivenUpFrontArePlannedAtConstruction()
    {
        using var session = new FastConvSession(OnnxModel.Load(DynamicModel()), new FastConvSessionOptions
        {
            Backend = BackendNames.Cpu, InputShapes = new Dictionary<string, TensorShape> { ["image"] = TensorShape.Of(2, 3, 6, 6) },
        });
        Assert.That(session.PlannedShapes, Is.EqualTo(1));
        Assert.That(session.Outputs[0].Shape, Is.EqualTo(TensorShape.Of(2, 4 * 3 * 3)));
    }

    [Test]
    public void ASymbolSharedByTwoInputsMustGetOneSize()
    {
        var b = new OnnxModelBuilder();
        string x = b.Input("x", 1, -1), y = b.Input("y", 1, -1); // both dimension 1 are "C"
        b.Output(b.Op("Add", [x, y]));
        Graph g = OnnxModel.Load(b.ToBytes());
        using var session = new FastConvSession(g, new FastConvSessionOptions { Backend = BackendNames.Cpu });
        var e = Assert.Throws<InvalidShapeException>(() => session.Run(new Dictionary<string, Tensor> { ["x"] = Tensor.Allocate(1, 3), ["y"] = Tensor.Allocate(1, 4) }));
        Assert.That(e!.Message, Does.Contain("'C'").And.Contain("'x'").And.Contain("'y'"));
        Assert.That(session.Run(new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray([1f, 2], 1, 2), ["y"] = Tensor.FromArray([3f, 4], 1, 2) }).Values.Single().ToArray(),
            Is.EqualTo(new[] { 4f, 6f }));
    }

    [Test]
    public void TheCliRunsAOneInputDynamicModelOnAnNpyFile()
    {
        string dir = Directory.CreateTempSubdirectory("fastconv-dyn-").FullName;
        try
        {
            string model = Path.Combine(dir, "dyn.onnx"), input = Path.Combine(dir, "x.npy");
            File.WriteAllBytes(model, DynamicModel());
            NpyFile.Write(input, Random(7, 2, 3, 10, 6));
            var output = new StringWriter();
            int rc = FastConv.Cli.Cli.Run(["run", model, "--input", input, "--backend", "cpu", "--out", dir], new TestConsole(), output);
            Assert.That(rc, Is.Zero, output.ToString());
            Tensor y = NpyFile.Read(Directory.GetFiles(dir, "*.npy").Single(f => !f.EndsWith("x.npy", StringComparison.Ordinal)));
            Assert.That(y.Shape, Is.EqualTo(TensorShape.Of(2, 4 * 5 * 3)));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
