using System.Text.Json;
using FastConv.Cli.Commands;
using Spectre.Console.Testing;

namespace FastConv.Tests.Cli;

/// <summary>List options split on commas and accept repeats, the same way in every verb.</summary>
public sealed class OptionListsTests
{
    [Test]
    public void CommasAndRepeatsGiveEveryItemOnceInOrder()
    {
        Assert.Multiple(() =>
        {
            Assert.That(OptionLists.Split(["cuda,cudnn,cublas"]), Is.EqualTo(new[] { "cuda", "cudnn", "cublas" }));
            Assert.That(OptionLists.Split(["cuda", "cudnn, cublas", "cuda"]), Is.EqualTo(new[] { "cuda", "cudnn", "cublas" }));
            Assert.That(OptionLists.Split([" cpu ,, reference,"]), Is.EqualTo(new[] { "cpu", "reference" }));
            Assert.That(OptionLists.Split([","]), Is.Empty);
            Assert.That(OptionLists.Split(null), Is.Empty);
        });
    }

    [Test]
    public void BenchBatchTakesCommasAndRepeats()
    {
        string path = Path.Combine(TestContext.CurrentContext.WorkDirectory, "option-lists-layers.json");
        var console = new TestConsole();
        int rc = FastConv.Cli.Cli.Run(["bench", "resnet50/l1_3x3", "--batch", "1", "--batch", "2,4", "--layers-json", path], console);
        Assert.That(rc, Is.Zero, console.Output);
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
        JsonElement layers = doc.RootElement.GetProperty("layers");
        Assert.That(layers.GetArrayLength(), Is.EqualTo(3), "one layer per batch size 1, 2, 4");
        Assert.That(layers.EnumerateArray().Select(l => l.GetProperty("n").GetInt32()), Is.EqualTo(new[] { 1, 2, 4 }));
    }
}
