using System.Text.Json;
using FastConv.Backends;
using FastConv.Cli.Bench;
using FastConv.Cli.Commands;
using Json.Schema;

namespace FastConv.Tests.Emu;

/// <summary>
/// <c>fastconv bench --graphs</c> and <c>run --graphs</c> on cuda-emu: the captured session and the same session step by
/// step timed in the same rounds, the difference reported in the table and the JSON (which still validates), with the
/// note that emulated figures say nothing about a GPU. Compiled and emulated, not run on a GPU.
/// </summary>
public sealed class GraphBenchTests
{
    private static BenchOptions Options(string backend) => new()
    {
        Workloads = ["builtin:mnist"],
        Backends = [backend],
        Peers = [],
        Threads = [1],
        Batches = [1],
        Quick = true,
        Graphs = true,
        Warmup = TimeSpan.FromMilliseconds(1),
        CaseBudget = TimeSpan.FromMilliseconds(1),
        MinRounds = 3,
        PeakDuration = TimeSpan.FromMilliseconds(10),
    };

    [Test]
    public void BenchTimesGraphsBesideTheSameSessionWithoutThem()
    {
        BenchReport report = new BenchRunner(Options(BackendNames.CudaEmu)).Run(BenchWorkloads.Parse(["builtin:mnist"]));
        BenchCase c = report.Cases.Single();
        BenchPeerResult stepwise = c.Peers.Single();
        Assert.Multiple(() =>
        {
            Assert.That(c.Status, Is.EqualTo(BenchStatus.Ok), c.Reason);
            Assert.That(c.Fastconv!.Subject, Is.EqualTo("fastconv:cuda-emu+graphs"));
            Assert.That((stepwise.Peer, stepwise.Check), Is.EqualTo((BenchRunner.NoGraphsPeer, "agree")));
            Assert.That(c.GraphSavedMs, Is.EqualTo(stepwise.Timing!.MedianMs - c.Fastconv.MedianMs).Within(1e-9));
            Assert.That(c.Graphs, Does.StartWith("1 graph(s) (").And.Contain("captured 1x"));
            Assert.That(report.Settings.Graphs, Is.True);
            Assert.That(report.Notes, Has.One.StartsWith("cuda-emu:"));
            Assert.That(BenchTable.GraphLines(report).First(), Does.StartWith("CUDA Graphs, network/builtin:mnist N=1 on cuda-emu: without "));
        });
        string json = report.ToJson();
        Assert.That(json, Does.Contain("\"graph_saved_ms\"").And.Contain("\"graphs\": true"));
        // A registry of its own: the schema's $id is registered once per registry, and the CLI tests load it too.
        JsonSchema schema = JsonSchema.FromText(File.ReadAllText(Path.Combine(RepoRoot(), "docs", "bench", "bench.schema.json")),
            new BuildOptions { SchemaRegistry = new SchemaRegistry() });
        Assert.That(schema.Evaluate(JsonDocument.Parse(json).RootElement).IsValid, Is.True, json);
        Assert.That(BenchReport.FromJson(json).Cases.Single().GraphSavedMs, Is.EqualTo(c.GraphSavedMs));
    }

    [Test]
    public void OnTheCpuGraphsChangeNothing()
    {
        BenchReport report = new BenchRunner(Options(BackendNames.Cpu) with { Peers = ["reference"] }).Run(BenchWorkloads.Parse(["builtin:mnist"]));
        BenchCase c = report.Cases.Single();
        Assert.That((c.Graphs, c.GraphSavedMs, c.Fastconv!.Subject), Is.EqualTo(((string?)null, (double?)null, "fastconv:cpu")));
        Assert.That(c.Peers.Select(p => p.Peer), Is.EqualTo(new[] { "reference" }));
        Assert.That(BenchTable.GraphLines(report), Is.Empty);
    }

    [Test]
    public void RunReportsWhatCaptureDid()
    {
        var output = new StringWriter();
        Assert.That(RunCommand.Execute("builtin:mnist", [], BackendNames.CudaEmu, 1, null, 2, output, graphs: true), Is.Zero);
        Assert.That(output.ToString(), Does.Contain("CUDA Graphs: 1 graph(s) (").And.Contain("captured 1x, replayed 2x"));
    }

    private static string RepoRoot()
    {
        for (DirectoryInfo? d = new(TestContext.CurrentContext.TestDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "FastConv.sln")))
            {
                return d.FullName;
            }
        }
        throw new DirectoryNotFoundException("FastConv.sln not found above the test directory");
    }
}
