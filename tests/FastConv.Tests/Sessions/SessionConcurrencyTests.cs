using FastConv.Backends;
using FastConv.Networks;
using FastConv.Sessions;
using FastConv.Tests.Support;

namespace FastConv.Tests.Sessions;

/// <summary>
/// A session is thread-safe: many threads run it at once, each with its own inputs, and each gets exactly the
/// result a lone run gives (runs are serialized on the session's lock; the arena is never shared by two runs).
/// </summary>
[NonParallelizable]
public sealed class SessionConcurrencyTests
{
    [TestCase(BackendNames.Cpu, 2)]
    [TestCase(BackendNames.Reference, 1)]
    public void ConcurrentRunsGiveTheSerialResults(string backend, int threads)
    {
        const int Callers = 8, RunsEach = 12;
        Network net = TestNetworks.MiniResNet();
        using var session = net.CreateSession(new FastConvSessionOptions { Backend = backend, Threads = threads });
        var inputs = Enumerable.Range(0, Callers).Select(i => TestNetworks.RandomInputs(net.Graph, 100 + i)["image"]).ToArray();
        var expected = inputs.Select(x => session.Run(new Dictionary<string, Tensor> { ["image"] = x })["prob"]).ToArray();
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        using var start = new Barrier(Callers);
        var workers = Enumerable.Range(0, Callers).Select(c => new Thread(() =>
        {
            var output = Tensor.Allocate(session.Outputs[0].Shape);
            start.SignalAndWait();
            for (int r = 0; r < RunsEach; r++)
            {
                output.Span.Fill(float.NaN);
                // Alternate the two caller-owned overloads so both are under contention.
                if (r % 2 == 0)
                {
                    session.Run(["image"], [inputs[c]], ["prob"], [output]);
                }
                else
                {
                    session.Run(inputs[c].Span, output.Span);
                }
                if (!output.Span.SequenceEqual(expected[c].Span))
                {
                    failures.Add($"caller {c} run {r}: output differs from its serial result");
                }
            }
        })).ToList();
        workers.ForEach(t => t.Start());
        workers.ForEach(t => t.Join());
        Assert.That(failures, Is.Empty);
    }

    [Test]
    public void SessionsOnTheSharedPoolRunConcurrently()
    {
        // Two sessions share the process-wide worker pool; runs from both at once stay correct.
        Network net = TestNetworks.MiniResNet(batch: 2);
        using var a = net.CreateSession(new FastConvSessionOptions { Backend = BackendNames.Cpu, Threads = 2 });
        using var b = net.CreateSession(new FastConvSessionOptions { Backend = BackendNames.Cpu, Threads = 2 });
        Tensor x = TestNetworks.RandomInputs(net.Graph, 7)["image"];
        Tensor expected = a.Run(new Dictionary<string, Tensor> { ["image"] = x })["prob"];
        var results = new Tensor[8];
        Parallel.For(0, 8, i => results[i] = (i % 2 == 0 ? a : b).Run(new Dictionary<string, Tensor> { ["image"] = x })["prob"]);
        foreach (Tensor r in results)
        {
            Compare.Exact(expected, r, "concurrent runs of two sessions");
        }
    }
}
