using System.Text.Json;
using Spectre.Console.Testing;

namespace FastConv.Tests.Cli;

/// <summary><c>fastconv summary --plan</c>: the compiled graph (passes, per-node backend/algorithm/layout, copies, reorders, arenas); <c>--shape</c>.</summary>
public sealed class SummaryPlanTests
{
    private static (int Rc, string Output) Cli(params string[] args)
    {
        var output = new StringWriter();
        int rc = FastConv.Cli.Cli.Run(args, new TestConsole(), output);
        return (rc, output.ToString());
    }

    [Test]
    public void PlanJsonListsThePassesAndEveryNodesPlacement()
    {
        var (rc, text) = Cli("summary", "builtin:resnet18", "--plan", "--json", "--backend", "cpu", "--threads", "1");
        Assert.That(rc, Is.Zero, text);
        using var doc = JsonDocument.Parse(text);
        JsonElement root = doc.RootElement;
        Assert.That(root.GetProperty("passes").EnumerateArray().Select(p => p.GetProperty("name").GetString()),
            Is.EqualTo(new[] { "import", "infer", "fold", "fuse", "place", "layout", "memory", "plans" }));
        // Each pass says how long it took (the compile passes and the plans take measurable time; import of a builtin may not).
        Assert.That(root.GetProperty("passes").EnumerateArray().Select(p => p.GetProperty("ms").GetDouble()), Has.All.GreaterThanOrEqualTo(0));
        Assert.That(root.GetProperty("passes").EnumerateArray().Last().GetProperty("ms").GetDouble(), Is.GreaterThan(0));
        JsonElement nodes = root.GetProperty("nodes");
        Assert.That(nodes.GetArrayLength(), Is.EqualTo(root.GetProperty("passes").EnumerateArray().Last().GetProperty("nodes").GetInt32()));
        foreach (JsonElement n in nodes.EnumerateArray())
        {
            foreach (string field in (string[])["name", "op", "backend", "algorithm", "layout"])
            {
                Assert.That(n.GetProperty(field).GetString(), Is.Not.Empty, $"{field} of {n}");
            }
        }
        // BN folded and ReLU/residual fused: every conv of ResNet-18 is one fused node on cpu.
        Assert.That(nodes.EnumerateArray().Count(n => n.GetProperty("op").GetString() == "FastConv.FusedConv"), Is.EqualTo(17));
        Assert.That(nodes.EnumerateArray().Select(n => n.GetProperty("backend").GetString()).Distinct(), Is.EqualTo(new[] { "cpu" }));
        Assert.That(root.GetProperty("copies").GetInt32(), Is.Zero);
        Assert.That(root.GetProperty("reorders").GetInt32(), Is.Zero);
        Assert.That(root.GetProperty("arena_bytes").GetProperty("host").GetInt64(), Is.GreaterThan(64L * 112 * 112 * 4));
    }

    /// <summary>
    /// MobileNet-v1 on cpu runs in the blocked layout (no Winograd layers, so the Auto policy blocks it): every conv
    /// after the RGB stem and the global pool in NCHW16c (AVX-512) or NCHW8c (AVX2), one reorder after the stem and one
    /// before Flatten.
    /// </summary>
    [Test]
    public void PlanJsonShowsABlockedChainWithReordersOnlyAtItsEnds()
    {
        if (FastConv.Cpu.CpuFeatures.Current < FastConv.Cpu.SimdLevel.Avx2 || Environment.GetEnvironmentVariable("FASTCONV_NCHWC") is { Length: > 0 })
        {
            Assert.Ignore("the blocked layout needs AVX2 and FASTCONV_NCHWC unset (Auto).");
        }
        string blocked = FastConv.Cpu.CpuFeatures.Current >= FastConv.Cpu.SimdLevel.Avx512 ? "NCHW16c" : "NCHW8c";
        var (rc, text) = Cli("summary", "builtin:mobilenetv1", "--plan", "--json", "--backend", "cpu", "--threads", "1");
        Assert.That(rc, Is.Zero, text);
        using var doc = JsonDocument.Parse(text);
        JsonElement root = doc.RootElement;
        Assert.That(root.GetProperty("reorders").GetInt32(), Is.EqualTo(2));
        JsonElement[] nodes = [.. root.GetProperty("nodes").EnumerateArray()];
        string[] ops = [.. nodes.Select(n => n.GetProperty("op").GetString()!)];
        Assert.That(nodes.Skip(1).Where(n => n.GetProperty("op").GetString() is "FastConv.FusedConv" or "GlobalAveragePool").Select(n => n.GetProperty("layout").GetString()),
            Is.All.EqualTo(blocked));
        // The chain's ends: the RGB stem runs NCHW and its output is reordered; the only other reorder follows the global pool.
        Assert.That(nodes[0].GetProperty("layout").GetString(), Is.EqualTo("NCHW"));
        Assert.That(ops[1], Is.EqualTo("FastConv.Reorder"));
        int last = Array.LastIndexOf(ops, "FastConv.Reorder");
        Assert.That(ops[last - 1], Is.EqualTo("GlobalAveragePool"));
        Assert.That(nodes[last].GetProperty("layout").GetString(), Is.EqualTo("NCHW"));
    }

    [Test]
    public void ShapeFixesTheBatchOfABuiltinForSummaryAndRun()
    {
        var (rc, text) = Cli("summary", "builtin:mnist", "--json", "--shape", "input=3x1x28x28");
        Assert.That(rc, Is.Zero, text);
        using var doc = JsonDocument.Parse(text);
        Assert.That(doc.RootElement.GetProperty("layers")[0].GetProperty("output_shape")[0].GetInt32(), Is.EqualTo(3));
        (rc, text) = Cli("run", "builtin:mnist", "--backend", "cpu", "--shape", "input=2x1x28x28");
        Assert.That(rc, Is.Zero, text);
        Assert.That(text, Does.Contain("output 'softmax' [2,10]"));
    }

    [TestCase("input=1x0x28x28", "not a whole number >= 1")]
    [TestCase("1x1x28x28", "NAME=DIMS")]
    [TestCase("input=2x1x28x28,input=3x1x28x28", "given twice")]
    public void BadShapesAreOneLineErrors(string shape, string message)
    {
        var (rc, text) = Cli("summary", "builtin:mnist", "--shape", shape);
        Assert.That(rc, Is.Not.Zero);
        Assert.That(text, Does.StartWith("fastconv: ").And.Contain(message));
    }
}
