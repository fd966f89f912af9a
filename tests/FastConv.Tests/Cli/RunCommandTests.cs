using System.Text;
using System.Text.Json;
using FastConv.Backends;
using FastConv.Networks;
using FastConv.Sessions;
using FastConv.Tests.Support;
using Spectre.Console.Testing;

namespace FastConv.Tests.Cli;

/// <summary><c>fastconv run</c> and <c>fastconv summary</c>: outputs as .npy, inputs from .npy or seeded random data, one-line errors.</summary>
public sealed class RunCommandTests
{
    private string _dir = "";

    [SetUp]
    public void CreateFolder() => _dir = Directory.CreateTempSubdirectory("fastconv-run-").FullName;

    [TearDown]
    public void DeleteFolder() => Directory.Delete(_dir, recursive: true);

    private static (int Rc, string Output) Cli(params string[] args)
    {
        var output = new StringWriter();
        int rc = FastConv.Cli.Cli.Run(args, new TestConsole(), output);
        return (rc, output.ToString());
    }

    [Test]
    public void RunWritesEachOutputAsNpyWithTheSeededRandomInput()
    {
        var (rc, text) = Cli("run", "builtin:lenet5", "--backend", "cpu", "--threads", "1", "--out", _dir);
        Assert.That(rc, Is.Zero, text);
        Assert.That(text, Does.Contain("output 'fc3' [1,10]").And.Contain("ms").And.Contain("random"));
        Tensor written = NpyFile.Read(Path.Combine(_dir, "fc3.npy"));
        // The same run through the API: input uniform [-1, 1) from Random(RunCommand.RandomSeed).
        using var session = Builtins.Build("lenet5").CreateSession(BackendNames.Cpu);
        var rng = new Random(FastConv.Cli.Commands.RunCommand.RandomSeed);
        float[] x = [.. Enumerable.Range(0, 32 * 32).Select(_ => rng.NextSingle() * 2 - 1)];
        var y = new float[10];
        session.Run(x, y);
        Assert.That(written.Shape, Is.EqualTo(TensorShape.Of(1, 10)));
        Assert.That(written.ToArray(), Is.EqualTo(y));
    }

    [Test]
    public void RunJsonIsOneDocumentWithModelBackendTimingsInputsAndOutputs()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int rc = FastConv.Cli.Cli.Run(["run", "builtin:lenet5", "--backend", "cpu", "--threads", "1", "--runs", "3", "--out", _dir, "--json"],
            new TestConsole(), output, error);
        Assert.That(rc, Is.Zero, output + "\n" + error);
        using JsonDocument doc = JsonDocument.Parse(output.ToString()); // the whole of standard output is the document
        JsonElement root = doc.RootElement;
        JsonElement o = root.GetProperty("outputs")[0];
        Assert.Multiple(() =>
        {
            Assert.That(root.GetProperty("model").GetString(), Is.EqualTo("builtin:lenet5"));
            Assert.That(root.GetProperty("backend").GetString(), Is.EqualTo("cpu"));
            Assert.That(root.GetProperty("threads").GetInt32(), Is.EqualTo(1));
            Assert.That(root.GetProperty("parameters").GetInt64(), Is.GreaterThan(0));
            Assert.That(root.GetProperty("timings").GetProperty("plan_ms").GetDouble(), Is.GreaterThan(0));
            Assert.That(root.GetProperty("timings").GetProperty("first_run_ms").GetDouble(), Is.GreaterThan(0));
            Assert.That(root.GetProperty("timings").GetProperty("runs").GetInt32(), Is.EqualTo(3));
            Assert.That(root.GetProperty("timings").GetProperty("median_ms").GetDouble(), Is.GreaterThan(0));
            Assert.That(root.GetProperty("inputs")[0].GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()), Is.EqualTo(new[] { 1, 1, 32, 32 }));
            Assert.That(root.GetProperty("inputs")[0].GetProperty("source").GetString(), Does.StartWith("random"));
            Assert.That(o.GetProperty("name").GetString(), Is.EqualTo("fc3"));
            Assert.That(o.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()), Is.EqualTo(new[] { 1, 10 }));
            Assert.That(o.GetProperty("path").GetString(), Is.EqualTo(Path.Combine(_dir, "fc3.npy")));
            Assert.That(File.Exists(Path.Combine(_dir, "fc3.npy")), Is.True);
            Assert.That(root.GetProperty("profile").ValueKind, Is.EqualTo(JsonValueKind.Null));
        });
    }

    [Test]
    public void SlowLoadAndPlanShowProgressOnStandardErrorOnly()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        // A zero delay makes every step "slow": the progress lines must go to standard error and leave the JSON alone.
        int rc = FastConv.Cli.Commands.RunCommand.Execute("builtin:lenet5", [], "cpu", 1, null, 0, output, json: true,
            progress: new FastConv.Cli.SlowStep(error, interactive: false, TimeSpan.Zero));
        Assert.That(rc, Is.Zero);
        Assert.That(error.ToString(), Does.Contain("fastconv: loading builtin:lenet5").And.Contain("fastconv: planning builtin:lenet5 on cpu"));
        using JsonDocument doc = JsonDocument.Parse(output.ToString());
        Assert.That(doc.RootElement.GetProperty("backend").GetString(), Is.EqualTo("cpu"));

        // Quick steps under the default delay show nothing.
        var quiet = new StringWriter();
        rc = FastConv.Cli.Commands.RunCommand.Execute("builtin:lenet5", [], "cpu", 1, null, 0, new StringWriter(), json: true,
            progress: new FastConv.Cli.SlowStep(quiet, interactive: false, TimeSpan.FromMinutes(5)));
        Assert.That(rc, Is.Zero);
        Assert.That(quiet.ToString(), Is.Empty);
    }

    [Test]
    public void SlowStepShowsOnlyStepsPastItsDelay()
    {
        var error = new StringWriter();
        var step = new FastConv.Cli.SlowStep(error, interactive: false, TimeSpan.FromMilliseconds(50));
        Assert.That(step.Run("planning something slow", () => { Thread.Sleep(600); return 1; }), Is.EqualTo(1));
        Assert.That(error.ToString(), Is.EqualTo("fastconv: planning something slow…" + Environment.NewLine));
        var quiet = new StringWriter();
        Assert.That(new FastConv.Cli.SlowStep(quiet, interactive: false, TimeSpan.FromMinutes(5)).Run("quick", () => 2), Is.EqualTo(2));
        Assert.That(quiet.ToString(), Is.Empty);
        Assert.Throws<InvalidOperationException>(() => step.Run<int>("failing", () => throw new InvalidOperationException("boom")), "the work's exception comes through");
    }

    [Test]
    public void RunProfileJsonListsEveryNode()
    {
        var output = new StringWriter();
        int rc = FastConv.Cli.Cli.Run(["run", "builtin:mnist", "--backend", "cpu", "--threads", "1", "--profile", "--json"], new TestConsole(), output, new StringWriter());
        Assert.That(rc, Is.Zero, output.ToString());
        using JsonDocument doc = JsonDocument.Parse(output.ToString());
        JsonElement profile = doc.RootElement.GetProperty("profile");
        Assert.That(profile.GetArrayLength(), Is.EqualTo(doc.RootElement.GetProperty("nodes_optimized").GetInt32()));
        Assert.That(profile.EnumerateArray().All(n => n.GetProperty("median_ms").GetDouble() >= 0 && n.GetProperty("backend").GetString() == "cpu"), Is.True);
        Assert.That(doc.RootElement.GetProperty("transfers_per_run").GetProperty("host_to_device").GetInt64(), Is.Zero);
    }

    [Test]
    public void RunReadsNamedInputsAndTakesTheBatchFromThem()
    {
        Tensor input = TestData.Floats(new Random(3), TensorShape.Of(2, 1, 28, 28));
        string file = Path.Combine(_dir, "digits.npy");
        NpyFile.Write(file, input);
        var (rc, text) = Cli("run", "builtin:mnist", "--input", $"input={file}", "--backend", "reference", "--out", _dir);
        Assert.That(rc, Is.Zero, text);
        Tensor probs = NpyFile.Read(Path.Combine(_dir, "softmax.npy"));
        using var session = Builtins.Build("mnist", batch: 2).CreateSession(BackendNames.Reference);
        Compare.Exact(session.Run(new Dictionary<string, Tensor> { ["input"] = input })["softmax"], probs, "mnist via the CLI vs the API");
    }

    [Test]
    [Category("Hostile")]
    [Description("unknown builtin, missing model, int64 .npy, missing .npy, --threads 0, unknown backend: one line \"fastconv: ...\" and a non-zero exit")]
    public void ErrorsAreOneLineWithNonZeroExit()
    {
        string bad = Path.Combine(_dir, "int.npy");
        File.WriteAllBytes(bad, NpyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", new byte[16]));
        string[][] cases =
        [
            ["run", "builtin:nope"],
            ["run", Path.Combine(_dir, "missing.onnx")],
            ["run", "builtin:lenet5", "--input", $"input={bad}"],
            ["run", "builtin:lenet5", "--input", $"input={Path.Combine(_dir, "none.npy")}"],
            ["run", "builtin:lenet5", "--threads", "0"],
            ["run", "builtin:lenet5", "--backend", "warp-drive"],
            ["run", "builtin:lenet5", "--backend", "cpu,reference"],
            ["summary", "builtin:nope", "--json"],
        ];
        foreach (string[] args in cases)
        {
            var (rc, text) = Cli(args);
            Assert.That(rc, Is.Not.Zero, string.Join(" ", args));
            Assert.That(text.Trim(), Does.StartWith("fastconv: ").And.Not.Contain(" at FastConv"), string.Join(" ", args));
            Assert.That(text.Trim().Split('\n'), Has.Length.EqualTo(1), string.Join(" ", args));
        }
    }

    [Test]
    [Category("Hostile")]
    [Description("one-line error naming the input that does not exist")]
    public void UnknownInputNameIsAnError()
    {
        string file = Path.Combine(_dir, "x.npy");
        NpyFile.Write(file, Tensor.Allocate(1, 1, 32, 32));
        var (rc, text) = Cli("run", "builtin:lenet5", "--input", $"pixels={file}");
        Assert.That(rc, Is.Not.Zero);
        Assert.That(text, Does.Contain("'pixels' is not an input"));
    }

    [Test]
    public void SummaryJsonHasTotalsAndLayers()
    {
        var (rc, text) = Cli("summary", "builtin:lenet5", "--json");
        Assert.That(rc, Is.Zero, text);
        using var doc = JsonDocument.Parse(text);
        JsonElement root = doc.RootElement;
        Assert.That(root.GetProperty("total_params").GetInt64(), Is.EqualTo(61_706));
        JsonElement layers = root.GetProperty("layers");
        Assert.That(layers.GetArrayLength(), Is.EqualTo(12));
        Assert.That(layers.EnumerateArray().Sum(l => l.GetProperty("flops").GetInt64()), Is.EqualTo(root.GetProperty("total_flops").GetInt64()));
        Assert.That(layers[0].GetProperty("output_shape").EnumerateArray().Select(d => d.GetInt32()), Is.EqualTo(new[] { 1, 6, 28, 28 }));
    }

    [Test]
    public void SummaryTableRenders()
    {
        var console = new TestConsole { EmitAnsiSequences = false };
        console.Profile.Width = 160;
        Assert.That(FastConv.Cli.Cli.Run(["summary", "builtin:mnist"], console), Is.Zero);
        Assert.That(console.Output, Does.Contain("fc1 (Gemm)").And.Contain("3,212,288").And.Contain("Total params: 3,274,634"));
    }

    [Test]
    public void OutputNamesAreSanitized()
    {
        Assert.That(NpyFile.SanitizeName("layer1/conv:0 out.bn-2_x"), Is.EqualTo("layer1_conv_0_out.bn-2_x"));
        Assert.That(NpyFile.SanitizeName("ünï"), Is.EqualTo("_n_"));
    }

    [Test]
    [Category("Hostile")]
    [Description("truncated data, Fortran order, float64, not numpy: NpyFormatException")]
    public void NpyRoundTripsAndRejectsWhatItCannotRead()
    {
        Tensor t = TestData.Floats(new Random(1), TensorShape.Of(2, 3, 5));
        var ms = new MemoryStream();
        NpyFile.Write(ms, t);
        byte[] bytes = ms.ToArray();
        Assert.That((10 + BitConverter.ToUInt16(bytes, 8)) % 64, Is.Zero, "header padded to 64 bytes");
        Tensor back = NpyFile.Read(bytes);
        Assert.That(back.Shape, Is.EqualTo(t.Shape));
        Assert.That(back.ToArray(), Is.EqualTo(t.ToArray()));
        Assert.That(NpyFile.Read(NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", new byte[4])).Shape.Rank, Is.Zero);
        Assert.Throws<NpyFormatException>(() => NpyFile.Read(bytes.AsSpan(0, bytes.Length - 1)));
        Assert.Throws<NpyFormatException>(() => NpyFile.Read(NpyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", new byte[8])));
        Assert.Throws<NpyFormatException>(() => NpyFile.Read(NpyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", new byte[16])));
        Assert.Throws<NpyFormatException>(() => NpyFile.Read("not numpy at all"u8));
    }

    private static byte[] NpyBytes(string header, byte[] data)
    {
        header += "\n";
        var ms = new MemoryStream();
        ms.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        ms.Write(BitConverter.GetBytes((ushort)header.Length));
        ms.Write(Encoding.ASCII.GetBytes(header));
        ms.Write(data);
        return ms.ToArray();
    }
}
