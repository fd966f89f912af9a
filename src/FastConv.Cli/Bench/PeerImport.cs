using System.Text.Json;

namespace FastConv.Cli.Bench;

/// <summary>
/// A peer's figures from another process or machine — bench/gpu/torch_bench.py writes one on the GPU machine
/// (PyTorch, cudnn.benchmark, CUDA events) — in the shape <c>--peer-json</c> merges into the report.
/// </summary>
internal sealed record PeerFile(string Peer, string Device, string DeviceName, string Versions, IReadOnlyList<PeerFileResult> Results);

/// <summary>One timed layer in a <see cref="PeerFile"/>; <c>workload</c> is "set/name" as in the report.</summary>
internal sealed record PeerFileResult(string Workload, int Batch, double MedianMs, double P10Ms, double P90Ms, double MinMs, int Samples, double Flops, double Bytes, string Shape);

/// <summary>Merges <see cref="PeerFile"/>s into a report.</summary>
internal static class PeerImport
{
    public static PeerFile Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new InvalidBenchArgumentException($"--peer-json: no file '{path}' (write one with bench/gpu/torch_bench.py --json FILE)");
        }
        try
        {
            PeerFile? file = JsonSerializer.Deserialize(File.ReadAllText(path), BenchJsonContext.Default.PeerFile);
            return file is { Peer.Length: > 0, Results: not null }
                ? file
                : throw new InvalidBenchArgumentException($"--peer-json: '{path}' has no 'peer' or no 'results' (expected the JSON torch_bench.py writes)");
        }
        catch (JsonException e)
        {
            throw new InvalidBenchArgumentException($"--peer-json: '{path}' is not valid peer JSON: {e.Message}");
        }
    }

    /// <summary>
    /// Adds the file's figures as a peer of every case with the same workload and batch. Their outputs could not
    /// be compared with FastConv's (another process), which the check says; the time ratio is given only when the
    /// case ran on the same kind of device. Figures with no matching case become cases of their own (status imported).
    /// </summary>
    public static BenchReport Merge(BenchReport report, PeerFile file, string fileName)
    {
        var cases = new List<BenchCase>(report.Cases);
        int matched = 0;
        foreach (PeerFileResult r in file.Results)
        {
            bool any = false;
            for (int i = 0; i < cases.Count; i++)
            {
                BenchCase c = cases[i];
                if (c.Workload != r.Workload || c.Batch != r.Batch || c.Status == BenchStatus.Imported)
                {
                    continue;
                }
                any = true;
                BenchTiming t = Timing(file, r, c.Flops, c.Bytes);
                bool sameDevice = c.Device == file.Device;
                double? ratio = sameDevice && c.Fastconv is { } f ? f.MedianMs / t.MedianMs : null;
                string detail = sameDevice
                    ? "timed in another process; outputs not compared"
                    : $"timed in another process on {file.Device} ({file.DeviceName}); outputs not compared; no ratio across devices";
                cases[i] = c with { Peers = [.. c.Peers, new BenchPeerResult(file.Peer, fileName, file.Device, "not-compared", null, null, detail, t, ratio)] };
            }
            if (!any)
            {
                string[] parts = r.Workload.Split('/', 2);
                BenchTiming t = Timing(file, r, r.Flops, r.Bytes);
                cases.Add(new BenchCase(r.Workload, parts[0], parts.Length > 1 ? parts[1] : parts[0], parts[0] is "pool" or "relu" ? parts[0] : "conv",
                    "-", file.Device, 0, r.Batch, r.Shape, r.Flops, r.Bytes, r.Bytes > 0 ? r.Flops / r.Bytes : 0, BenchStatus.Imported,
                    $"only {file.Peer} timed this ({fileName}); FastConv did not run it in this report",
                    null, [new BenchPeerResult(file.Peer, fileName, file.Device, "not-compared", null, null, "timed in another process", t, null)]));
            }
            else
            {
                matched++;
            }
        }
        return report with
        {
            Cases = cases,
            Imported = [.. report.Imported, new BenchImport(fileName, file.Peer, $"{file.Device}: {file.DeviceName}", file.Versions, file.Results.Count)],
            Notes = [.. report.Notes, $"{file.Peer} figures from {fileName} ({file.DeviceName}; {file.Versions}): {matched} of {file.Results.Count} matched a FastConv case."],
        };
    }

    private static BenchTiming Timing(PeerFile file, PeerFileResult r, double flops, double bytes)
    {
        double s = r.MedianMs * 1e-3;
        return new BenchTiming(file.Peer, null, r.Samples, 1, r.MedianMs, r.P10Ms, r.P90Ms, r.MinMs, flops / s / 1e9, bytes / s / 1e9, null, 1000.0 / r.MedianMs);
    }
}
