using FastConv.Graphs;
using FastConv.IO;
using FastConv.Onnx;
using FastConv.Sessions;
using FastConv.Tests.Support;
using Spectre.Console.Testing;

namespace FastConv.Tests.Robustness;

/// <summary>
/// Model files and .npy inputs: only regular files are read — a FIFO (which would block the reader forever), a
/// device such as <c>/dev/zero</c> (endless) or a directory is refused before it is opened — and only up to a
/// configurable size, checked before anything is allocated. Every refusal is a typed error naming the file and
/// the fix.
/// </summary>
[Category("Hostile")]
[Description("InvalidModelException (models) or NpyFormatException (.npy) naming the file; never a hang, never an unbounded read")]
[NonParallelizable] // sets FASTCONV_MAX_* for the process
public sealed class InputFileTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private static byte[] SmallModel()
    {
        var b = new OnnxModelBuilder();
        b.Output(b.Relu(b.Input("x", 1, 4)));
        return b.ToBytes();
    }

    private static byte[] Npy(Tensor t)
    {
        var ms = new MemoryStream();
        NpyFile.Write(ms, t);
        return ms.ToArray();
    }

    /// <summary>Where a hostile path leads: (label, make the path, FIFOs to release if the read blocks).</summary>
    public static IEnumerable<TestCaseData> SpecialFiles()
    {
        foreach (string reader in new[] { "model", "npy" })
        {
            yield return new TestCaseData(reader, "fifo").SetName($"{reader} file refused: a FIFO (no hang)");
            yield return new TestCaseData(reader, "link-to-fifo").SetName($"{reader} file refused: a link to a FIFO (no hang)");
            yield return new TestCaseData(reader, "/dev/zero").SetName($"{reader} file refused: /dev/zero (endless device)");
            yield return new TestCaseData(reader, "link-to-/dev/zero").SetName($"{reader} file refused: a link to /dev/zero");
            yield return new TestCaseData(reader, "/dev/null").SetName($"{reader} file refused: /dev/null (device)");
            yield return new TestCaseData(reader, "directory").SetName($"{reader} file refused: a directory");
            yield return new TestCaseData(reader, "missing").SetName($"{reader} file refused: a missing file");
            yield return new TestCaseData(reader, "dangling-link").SetName($"{reader} file refused: a dangling link");
            yield return new TestCaseData(reader, "link-loop").SetName($"{reader} file refused: a link loop");
            yield return new TestCaseData(reader, "empty").SetName($"{reader} file refused: an empty file");
        }
    }

    [TestCaseSource(nameof(SpecialFiles))]
    public void SpecialFilesAreRefusedWithATypedError(string reader, string kind)
    {
        using var files = new HostileFiles("fastconv-input-");
        var fifos = new List<string>();
        string path = kind switch
        {
            "fifo" => Track(files.Fifo("in.fifo"), fifos),
            "link-to-fifo" => files.Link("in.link", Track(files.Fifo("in.fifo"), fifos)),
            "/dev/zero" or "/dev/null" => kind,
            "link-to-/dev/zero" => files.Link("zero.onnx", "/dev/zero"),
            "directory" => Directory.CreateDirectory(files.Path("dir.onnx")).FullName,
            "missing" => files.Path("missing.onnx"),
            "dangling-link" => files.Link("gone.onnx", files.Path("nowhere")),
            "link-loop" => files.Link("loop.onnx", "loop.onnx"),
            "empty" => files.Write("empty.onnx", []),
            _ => throw new ArgumentException(kind),
        };
        Exception? e = HostileFiles.WithinDeadline(() => Load(reader, path), Deadline, [.. fifos]);
        Assert.That(e, Is.InstanceOf(reader == "model" ? typeof(InvalidModelException) : typeof(NpyFormatException)), $"{e?.GetType().Name}: {e?.Message}");
        Assert.That(e!.Message, Does.Contain(Path.GetFileName(path)), "the error names the file");
    }

    private static string Track(string fifo, List<string> fifos)
    {
        fifos.Add(fifo);
        return fifo;
    }

    private static void Load(string reader, string path)
    {
        if (reader == "model")
        {
            OnnxModel.Load(path);
        }
        else
        {
            NpyFile.Read(path);
        }
    }

    [Test]
    [Description("a model larger than the maxBytes given: refused before it is read, naming the cap")]
    public void AModelOverTheGivenCapIsRefused()
    {
        using var files = new HostileFiles("fastconv-input-");
        byte[] model = SmallModel();
        string path = files.Write("m.onnx", model);
        Assert.That(OnnxModel.Load(path, maxBytes: model.Length).Outputs, Has.Count.EqualTo(1), "exactly at the cap loads");
        var e = Assert.Throws<InvalidModelException>(() => OnnxModel.Load(path, maxBytes: model.Length - 1));
        Assert.That(e!.Message, Does.Contain(path).And.Contain("more than the limit").And.Contain("maxBytes"));
    }

    [TestCase("64", true)]
    [TestCase("1K", false)]
    [Description("FASTCONV_MAX_MODEL_BYTES below the file: InvalidModelException naming the variable; above: loads")]
    public void TheModelCapComesFromTheEnvironment(string cap, bool refused)
    {
        using var files = new HostileFiles("fastconv-input-");
        string path = files.Write("m.onnx", SmallModel());
        using var env = new EnvironmentVariable(FileLimits.MaxModelBytesVariable, cap);
        if (refused)
        {
            var e = Assert.Throws<InvalidModelException>(() => ModelLoader.Load(path));
            Assert.That(e!.Message, Does.Contain(FileLimits.MaxModelBytesVariable).And.Contain("64 bytes"));
        }
        else
        {
            Assert.That(ModelLoader.Load(path).Outputs, Has.Count.EqualTo(1));
        }
    }

    [TestCase(FileLimits.MaxModelBytesVariable, "lots")]
    [TestCase(FileLimits.MaxModelBytesVariable, "-5")]
    [TestCase(FileLimits.MaxModelBytesVariable, "0")]
    [TestCase(FileLimits.MaxInputBytesVariable, "2X")]
    [TestCase(FileLimits.MaxInputBytesVariable, "99999999999G")]
    public void ABadCapSettingIsATypedErrorNamingTheVariable(string variable, string value)
    {
        using var files = new HostileFiles("fastconv-input-");
        string model = files.Write("m.onnx", SmallModel());
        string npy = files.Write("x.npy", Npy(Tensor.Allocate(1, 4)));
        using var env = new EnvironmentVariable(variable, value);
        var e = Assert.Throws<InvalidSettingException>(() => Load(variable == FileLimits.MaxModelBytesVariable ? "model" : "npy", variable == FileLimits.MaxModelBytesVariable ? model : npy));
        Assert.That(e!.Setting, Is.EqualTo(variable));
        Assert.That(e.Message, Does.Contain(variable).And.Contain(value));
    }

    [Test]
    [Description("an .npy larger than the cap: refused before its data is allocated")]
    public void AnNpyOverTheCapIsRefused()
    {
        using var files = new HostileFiles("fastconv-input-");
        byte[] bytes = Npy(Tensor.Allocate(4, 256));
        string path = files.Write("x.npy", bytes);
        Assert.That(NpyFile.Read(path, maxBytes: bytes.Length).Shape, Is.EqualTo(TensorShape.Of(4, 256)));
        var e = Assert.Throws<NpyFormatException>(() => NpyFile.Read(path, maxBytes: bytes.Length - 1));
        Assert.That(e!.Message, Does.Contain(path).And.Contain("more than the limit"));
        using var env = new EnvironmentVariable(FileLimits.MaxInputBytesVariable, "1K");
        e = Assert.Throws<NpyFormatException>(() => NpyFile.Read(path));
        Assert.That(e!.Message, Does.Contain(FileLimits.MaxInputBytesVariable));
    }

    [Test]
    [Description("a version-2 header claiming 4 GiB: refused from the 12-byte prefix, nothing allocated")]
    public void AnNpyHeaderClaimingGigabytesIsRefused()
    {
        using var files = new HostileFiles("fastconv-input-");
        byte[] bytes = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 2, 0, 0xFF, 0xFF, 0xFF, 0xFF, (byte)'{'];
        string path = files.Write("x.npy", bytes);
        var e = Assert.Throws<NpyFormatException>(() => NpyFile.Read(path));
        Assert.That(e!.Message, Does.Contain("header claims"));
        Assert.Throws<NpyFormatException>(() => NpyFile.Read(bytes));
    }

    [TestCase(-1)]
    [TestCase(+4)]
    public void AnNpyWhoseDataDoesNotMatchItsShapeIsRefused(int extra)
    {
        using var files = new HostileFiles("fastconv-input-");
        byte[] good = Npy(Tensor.Allocate(2, 3));
        byte[] bad = extra < 0 ? good[..^1] : [.. good, .. new byte[extra]];
        string path = files.Write("x.npy", bad);
        var e = Assert.Throws<NpyFormatException>(() => NpyFile.Read(path));
        Assert.That(e!.Message, Does.Contain(path).And.Contain("needs 24 data bytes"));
    }

    [TestCase("model")]
    [TestCase("input")]
    public void TheCliReportsASpecialFileInOneLine(string which)
    {
        string[] args = which == "model" ? ["run", "/dev/zero"] : ["run", "builtin:lenet5", "--input", "input=/dev/zero"];
        var output = new StringWriter();
        int rc = FastConv.Cli.Cli.Run(args, new TestConsole(), output);
        Assert.That(rc, Is.Not.Zero);
        Assert.That(output.ToString().Trim(), Does.StartWith("fastconv: ").And.Contain("/dev/zero").And.Contain("character device"));
    }
}

/// <summary>Sets an environment variable for a scope and restores the old value.</summary>
internal sealed class EnvironmentVariable : IDisposable
{
    private readonly string _name;
    private readonly string? _old;

    public EnvironmentVariable(string name, string? value)
    {
        _name = name;
        _old = Environment.GetEnvironmentVariable(name);
        Environment.SetEnvironmentVariable(name, value);
    }

    public void Dispose() => Environment.SetEnvironmentVariable(_name, _old);
}
