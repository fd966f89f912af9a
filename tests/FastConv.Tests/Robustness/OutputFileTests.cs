using FastConv.IO;
using FastConv.Sessions;
using Spectre.Console.Testing;

namespace FastConv.Tests.Robustness;

/// <summary>
/// <c>fastconv run --out DIR</c> writes <c>DIR/NAME.npy</c> as a new file: a symbolic link planted under an output's
/// name (pointing at a file the attacker wants overwritten) is refused and its target left as it was; so is anything
/// else that is not a regular file. A regular file of that name is replaced.
/// </summary>
[Category("Hostile")]
[Description("one-line CommandLineException naming the output; the link's target is untouched")]
public sealed class OutputFileTests
{
    private static (int Rc, string Output) Run(string outDir)
    {
        var output = new StringWriter();
        int rc = FastConv.Cli.Cli.Run(["run", "builtin:lenet5", "--backend", "reference", "--out", outDir], new TestConsole(), output);
        return (rc, output.ToString());
    }

    public static IEnumerable<TestCaseData> Planted()
    {
        yield return new TestCaseData("link-to-victim").SetName("output refused: a link to another file named like the output");
        yield return new TestCaseData("dangling-link").SetName("output refused: a dangling link named like the output (would create its target)");
        yield return new TestCaseData("link-to-dir").SetName("output refused: a link to a folder named like the output");
        yield return new TestCaseData("directory").SetName("output refused: a directory named like the output");
        yield return new TestCaseData("fifo").SetName("output refused: a FIFO named like the output (no hang)");
    }

    [TestCaseSource(nameof(Planted))]
    public void APlantedNameIsRefused(string kind)
    {
        using var files = new HostileFiles("fastconv-out-");
        string victim = files.Write("victim.txt", "precious"u8.ToArray());
        string outDir = Directory.CreateDirectory(files.Path("out")).FullName;
        string output = Path.Join(outDir, "fc3.npy");
        var fifos = new List<string>();
        switch (kind)
        {
            case "link-to-victim":
                File.CreateSymbolicLink(output, victim);
                break;
            case "dangling-link":
                File.CreateSymbolicLink(output, files.Path("created-by-fastconv.txt"));
                break;
            case "link-to-dir":
                File.CreateSymbolicLink(output, files.Root);
                break;
            case "directory":
                Directory.CreateDirectory(output);
                break;
            case "fifo":
                fifos.Add(files.Fifo("out/fc3.npy"));
                break;
        }
        (int Rc, string Output) result = (0, "");
        Exception? e = HostileFiles.WithinDeadline(() => result = Run(outDir), TimeSpan.FromSeconds(30), [.. fifos]);
        Assert.That(e, Is.Null);
        Assert.That(result.Rc, Is.Not.Zero, result.Output);
        // Checked before the model runs: the error is one line, after the model's description.
        Assert.That(result.Output, Does.Not.Contain("first run"));
        Assert.That(result.Output.Trim().Split('\n')[^1], Does.StartWith("fastconv: ").And.Contain("fc3.npy"));
        Assert.That(File.ReadAllText(victim), Is.EqualTo("precious"), "the victim is untouched");
        Assert.That(File.Exists(files.Path("created-by-fastconv.txt")), Is.False, "no file created through a dangling link");
        Assert.That(SafeFile.KindOf(output, followLinks: false), Is.Not.EqualTo(FileKind.Regular), "what was planted is left as it was");
    }

    [Test]
    [Description("a regular file of the output's name (an earlier run's): replaced, and a hard link to it keeps its old bytes")]
    public void ARegularFileIsReplacedWithoutWritingThroughItsHardLinks()
    {
        using var files = new HostileFiles("fastconv-out-");
        string outDir = Directory.CreateDirectory(files.Path("out")).FullName;
        string output = Path.Join(outDir, "fc3.npy");
        File.WriteAllText(output, "old run");
        string hardLink = files.Path("other-name.txt");
        using (var ln = System.Diagnostics.Process.Start("ln", [output, hardLink])!)
        {
            ln.WaitForExit();
            Assume.That(ln.ExitCode, Is.Zero, "ln (hard link) failed");
        }
        var (rc, text) = Run(outDir);
        Assert.That(rc, Is.Zero, text);
        Assert.That(NpyFile.Read(output).Shape, Is.EqualTo(TensorShape.Of(1, 10)));
        Assert.That(File.ReadAllText(hardLink), Is.EqualTo("old run"), "the other name still holds the old bytes");
    }
}
