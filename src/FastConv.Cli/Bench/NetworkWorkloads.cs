namespace FastConv.Cli.Bench;

/// <summary>A workload that cannot run in this build or on this machine; the runner reports it as skipped with the reason.</summary>
public sealed class WorkloadUnavailableException(string message) : FastConvException(message);

/// <summary>
/// Whole networks (<c>builtin:NAME</c> or an .onnx file) as bench workloads. Networks, sessions and ONNX import
/// come from issue 5; until they are part of this build every network workload is reported as skipped, with why.
/// </summary>
internal static class NetworkWorkloads
{
    public static BenchWorkload Create(string name) => new PendingNetworkWorkload(name);

    private sealed class PendingNetworkWorkload(string name) : BenchWorkload
    {
        public override string Set => "network";
        public override string Name => name;
        public override string Kind => "network";

        public override BenchLayer? Layer(int batch) => null;

        public override BenchProblem Create(int batch)
            => throw new WorkloadUnavailableException(
                $"network workloads ({name}) are not available yet: networks, sessions and ONNX import (issue 5) are not part of this build");
    }
}
