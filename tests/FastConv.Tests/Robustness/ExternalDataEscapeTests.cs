using FastConv.Onnx;
using FastConv.Tests.Support;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FastConv.Tests.Robustness;

/// <summary>
/// External data must come from regular files inside the model's folder, with every symbolic link in the path
/// followed before that is checked: a planted link (<c>leak.bin -&gt; /etc/passwd</c>, a linked sub-folder, a link
/// followed by <c>..</c>) is refused, and so are FIFOs, directories and link loops. Links that stay inside work.
/// </summary>
[Category("Hostile")]
[Description("InvalidModelException naming the location; no byte outside the model's folder is read; never a hang")]
public sealed class ExternalDataEscapeTests
{
    private static readonly float[] Inside = [1f, 2f, 3f, 4f];
    private static readonly float[] Outside = [666f, 667f, 668f, 669f];

    private static byte[] Bytes(float[] v)
    {
        var b = new byte[16];
        Buffer.BlockCopy(v, 0, b, 0, 16);
        return b;
    }

    private static byte[] Model(string location)
    {
        var b = new OnnxModelBuilder();
        string x = b.Input("x", 1, 4);
        var t = new TensorProto { Name = "w", DataType = (int)DataType.Float, DataLocation = TensorProto.Types.DataLocation.External };
        t.Dims.Add(4);
        t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        b.Graph.Initializer.Add(t);
        b.Output(b.Op("Add", [x, "w"]));
        return b.ToBytes();
    }

    /// <summary>A model folder with weights.bin inside and secret.bin in a sibling folder; <paramref name="plant"/> adds the trap.</summary>
    private static (HostileFiles Files, string ModelPath, List<string> Fifos) Setup(string location, Action<HostileFiles, List<string>> plant)
    {
        var files = new HostileFiles("fastconv-extdata-");
        files.Write("model/weights.bin", Bytes(Inside));
        files.Write("outside/secret.bin", Bytes(Outside));
        files.Write("outside/deep/x", []);
        var fifos = new List<string>();
        plant(files, fifos);
        string modelPath = files.Write("model/model.onnx", Model(location));
        return (files, modelPath, fifos);
    }

    public static IEnumerable<TestCaseData> Escapes()
    {
        TestCaseData Case(string name, string location, Action<HostileFiles, List<string>> plant) =>
            new TestCaseData(location, plant).SetName($"external data refused: {name}");

        yield return Case("leak.bin -> absolute path outside the folder", "leak.bin", (f, _) => f.Link("model/leak.bin", f.Path("outside/secret.bin")));
        yield return Case("leak.bin -> ../outside/secret.bin (relative link)", "leak.bin", (f, _) => f.Link("model/leak.bin", "../outside/secret.bin"));
        yield return Case("sub-folder linked outside (sub/secret.bin)", "sub/secret.bin", (f, _) => f.Link("model/sub", f.Path("outside")));
        yield return Case("chain of links a.bin -> b.bin -> outside", "a.bin", (f, _) =>
        {
            f.Link("model/b.bin", f.Path("outside/secret.bin"));
            f.Link("model/a.bin", "b.bin");
        });
        yield return Case("link then .. (lexically inside, really outside)", "deep/../secret.bin", (f, _) => f.Link("model/deep", f.Path("outside/deep")));
        yield return Case("leak.bin -> /etc/passwd", "leak.bin", (f, _) => f.Link("model/leak.bin", "/etc/passwd"));
        yield return Case("leak.bin -> /dev/zero", "leak.bin", (f, _) => f.Link("model/leak.bin", "/dev/zero"));
        yield return Case("link loop loop.bin -> loop.bin", "loop.bin", (f, _) => f.Link("model/loop.bin", "loop.bin"));
        yield return Case("two-link loop a <-> b", "a.bin", (f, _) =>
        {
            f.Link("model/a.bin", "b.bin");
            f.Link("model/b.bin", "a.bin");
        });
        yield return Case("dangling link", "gone.bin", (f, _) => f.Link("model/gone.bin", f.Path("outside/nothing.bin")));
        yield return Case("FIFO inside the folder (no hang)", "pipe.bin", (f, fifos) => fifos.Add(f.Fifo("model/pipe.bin")));
        yield return Case("link to a FIFO inside the folder (no hang)", "alias.bin", (f, fifos) =>
        {
            fifos.Add(f.Fifo("model/pipe.bin"));
            f.Link("model/alias.bin", "pipe.bin");
        });
        yield return Case("a directory named like the data", "dir.bin", (f, _) => Directory.CreateDirectory(f.Path("model/dir.bin")));
        yield return Case("a link to the model's own folder", "self", (f, _) => f.Link("model/self", "."));
        yield return Case("absolute location", "/etc/passwd", (_, _) => { });
        yield return Case("../ location", "../outside/secret.bin", (_, _) => { });
        yield return Case("NUL in the location", "weights.bin\0.txt", (_, _) => { });
    }

    [TestCaseSource(nameof(Escapes))]
    public void Refused(string location, Action<HostileFiles, List<string>> plant)
    {
        var (files, modelPath, fifos) = Setup(location, plant);
        using (files)
        {
            Exception? e = HostileFiles.WithinDeadline(() => OnnxModel.Load(modelPath), TimeSpan.FromSeconds(10), [.. fifos]);
            Assert.That(e, Is.InstanceOf<InvalidModelException>(), $"got {e?.GetType().Name ?? "a loaded model"}: {e?.Message}");
            Assert.That(e!.Message, Does.Contain("external data"));
        }
    }

    public static IEnumerable<TestCaseData> Allowed()
    {
        yield return new TestCaseData("alias.bin", (Action<HostileFiles>)(f => f.Link("model/alias.bin", "weights.bin"))).SetName("external data allowed: a link to a file inside the folder");
        yield return new TestCaseData("data/w.bin", (Action<HostileFiles>)(f => f.Write("model/data/w.bin", Bytes(Inside)))).SetName("external data allowed: a real sub-folder");
        yield return new TestCaseData("linked/weights.bin", (Action<HostileFiles>)(f => f.Link("model/linked", "."))).SetName("external data allowed: a linked sub-folder that stays inside");
        yield return new TestCaseData("./x/../weights.bin", (Action<HostileFiles>)(f => Directory.CreateDirectory(f.Path("model/x")))).SetName("external data allowed: . and .. that stay inside");
    }

    [TestCaseSource(nameof(Allowed))]
    [Description("loads the data: a link or .. that stays inside the folder is not an escape")]
    public void LinksThatStayInsideWork(string location, Action<HostileFiles> plant)
    {
        var (files, modelPath, _) = Setup(location, (f, _) => plant(f));
        using (files)
        {
            Assert.That(OnnxModel.Load(modelPath).Constants["w"].Floats, Is.EqualTo(Inside));
        }
    }

    [Test]
    [Description("the model's folder reached through a link: the folder is resolved too, so its files are still inside")]
    public void AModelFolderReachedThroughALinkStillReadsItsData()
    {
        var (files, _, _) = Setup("weights.bin", (_, _) => { });
        using (files)
        {
            string linked = files.Link("via", files.Path("model"));
            Assert.That(OnnxModel.Load(Path.Join(linked, "model.onnx")).Constants["w"].Floats, Is.EqualTo(Inside));
        }
    }
}
