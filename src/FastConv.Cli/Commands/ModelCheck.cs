using System.Globalization;
using FastConv.Backends;
using FastConv.Cli.Bench;
using FastConv.Graphs;
using FastConv.Sessions;

namespace FastConv.Cli.Commands;

/// <summary>
/// <c>fastconv check --model MODEL</c>: the whole model on each backend against the same model on the
/// <c>reference</c> backend, on seeded uniform [−1, 1) inputs. Each output must agree within the network bound the
/// benchmarks use (<see cref="OutputCheck.NetworkTolerance"/>: from the graph's depth and accumulation lengths, held
/// element by element and as a norm), so a dropped residual or a shifted window fails while summation order does not.
/// One line per backend and output; exit codes as for the shape sets.
/// </summary>
internal static class ModelCheck
{
    public static int Run(string model, IReadOnlyDictionary<string, TensorShape>? shapes, IReadOnlyList<string> backendNames, int seed, string? dumpDir, TextWriter output)
    {
        Graph graph = ModelLoader.Load(model, shapes);
        if (graph.Inputs.FirstOrDefault(i => i.IsDynamic) is { } unbound)
        {
            throw new CommandLineException($"input '{unbound.Name}' {unbound.Declared} has dynamic dimensions: fix them with --shape {unbound.Name}=DIMS.");
        }
        var rng = new Random(seed);
        Tensor[] inputs = [.. graph.Inputs.Select(i =>
        {
            var data = new float[i.Shape.ElementCount];
            for (int k = 0; k < data.Length; k++)
            {
                data[k] = (float)(rng.NextDouble() * 2 - 1);
            }
            return Tensor.Wrap(data, i.Shape);
        })];
        string[] inNames = [.. graph.Inputs.Select(i => i.Name)];
        IReadOnlyDictionary<string, Tensor> expected;
        using (var oracle = new FastConvSession(graph, new FastConvSessionOptions { Backend = BackendNames.Reference }))
        {
            expected = oracle.Run(inNames.Zip(inputs).ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal));
        }
        GraphInfo info = GraphInfo.Analyze(graph);
        int total = 0, mismatches = 0;
        var unavailable = new List<string>();
        foreach (string name in backendNames)
        {
            IReadOnlyDictionary<string, Tensor> actual;
            string algorithms;
            bool exact = false;
            int tf32Layers = 0;
            try
            {
                using var session = new FastConvSession(graph, new FastConvSessionOptions { Backend = name });
                exact = session.Options.Exact;
                algorithms = OutputCheck.TopAlgorithms(session);
                tf32Layers = OutputCheck.Tf32Layers(session);
                actual = session.Run(inNames.Zip(inputs).ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal));
            }
            catch (BackendUnavailableException e)
            {
                output.WriteLine($"skip {name}: {e.Reason}");
                unavailable.Add($"{name}: {e.Reason}");
                continue;
            }
            catch (FastConvException e)
            {
                total++;
                mismatches++;
                output.WriteLine($"MISMATCH {name,-9} {model}  error: {e.Message}");
                continue;
            }
            float tolerance = OutputCheck.NetworkTolerance(info, exact, tf32Layers);
            foreach (var (outName, want) in expected)
            {
                total++;
                Tensor got = actual[outName];
                Agreement a = OutputCheck.Compare(got.Span, want.Span, tolerance, name, BackendNames.Reference, normwise: true);
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{(a.Agrees ? "ok      " : "MISMATCH")} {name,-9} {model} output '{outName}' {want.Shape}  max|diff| {a.MaxAbsDiff:G3}, bound {a.Bound:G3}  [{algorithms}]"));
                if (!a.Agrees)
                {
                    mismatches++;
                    output.WriteLine($"         {a.Detail}");
                    if (dumpDir is not null)
                    {
                        string dir = Path.Combine(dumpDir, $"{total:D4}-{name}-{NpyFile.SanitizeName(outName)}");
                        Directory.CreateDirectory(dir);
                        for (int i = 0; i < inputs.Length; i++)
                        {
                            NpyFile.Write(Path.Combine(dir, $"input-{NpyFile.SanitizeName(inNames[i])}.npy"), inputs[i]);
                        }
                        NpyFile.Write(Path.Combine(dir, "reference.npy"), want);
                        NpyFile.Write(Path.Combine(dir, "output.npy"), got);
                    }
                }
            }
        }
        output.WriteLine($"{total} cases, {mismatches} mismatches");
        foreach (string u in unavailable)
        {
            output.WriteLine($"error: not checked, backend unavailable: {u}");
        }
        if (total == 0)
        {
            output.WriteLine($"error: nothing ran (model {model}, backends {string.Join(", ", backendNames)}): no case was checked");
        }
        return mismatches > 0 ? 1 : unavailable.Count > 0 || total == 0 ? 2 : 0;
    }
}
