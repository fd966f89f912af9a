using FastConv.Backends;

namespace FastConv.Compilation;

/// <summary>
/// A device backend that can record the work queued on a stream into a graph and replay it with one launch (CUDA
/// Graphs): a run of many small kernels then costs one launch on the host instead of one per kernel.
/// </summary>
public interface IGraphCaptureBackend
{
    /// <summary>Whether the backend's driver can capture (false: runs go step by step, as without the option).</summary>
    bool SupportsGraphs { get; }

    /// <summary>Starts recording <paramref name="stream"/>: work queued on it from this thread is recorded, not run, until <see cref="EndCapture"/>.</summary>
    void BeginCapture(nint stream);

    /// <summary>Ends the recording and returns it, instantiated and ready to launch; throws when the capture was invalidated.</summary>
    IDeviceGraph EndCapture(nint stream);
}

/// <summary>A captured, instantiated graph: its node count, and one call that queues all of it on a stream.</summary>
public interface IDeviceGraph : IDisposable
{
    /// <summary>Kernels, copies and memsets recorded.</summary>
    int Nodes { get; }

    void Launch(nint stream);
}

/// <summary>
/// What graph capture did for one plan (one set of input shapes), over all its execution contexts: how often a device
/// segment was captured and replayed, the nodes one run launches, and the host-side steps that split the run into
/// several graphs (or, when nothing is captured, why not).
/// </summary>
public sealed class GraphCaptureStats
{
    private int _captures, _replays, _nodes, _segments;

    /// <summary>Device segments captured into a graph (once per segment and context, again when a binding's address changes).</summary>
    public int Captures => Volatile.Read(ref _captures);

    /// <summary>Launches of an already captured graph (each run after the first, per segment).</summary>
    public int Replays => Volatile.Read(ref _replays);

    /// <summary>Graph nodes one run launches (all its device segments), as last captured.</summary>
    public int Nodes => Volatile.Read(ref _nodes);

    /// <summary>Graphs one run launches: the runs of device steps between host-side steps.</summary>
    public int Segments => Volatile.Read(ref _segments);

    /// <summary>The steps that run on the host between graphs (nodes that fell back to a host backend); empty when one graph covers the run.</summary>
    public IReadOnlyList<string> HostSteps { get; internal set; } = [];

    /// <summary>Why the plan is not captured at all (null when it is).</summary>
    public string? NotCaptured { get; internal set; }

    internal void Captured() => Interlocked.Increment(ref _captures);

    internal void Replayed() => Interlocked.Increment(ref _replays);

    internal void Shape(int nodes, int segments)
    {
        Volatile.Write(ref _nodes, nodes);
        Volatile.Write(ref _segments, segments);
    }

    /// <summary><c>3 graphs (61 nodes) captured 1×, replayed 9×; host steps: Sqrt 'sqrt'</c>.</summary>
    public override string ToString() => NotCaptured is { } why ? $"not captured: {why}"
        : $"{Segments} graph(s) ({Nodes} nodes) captured {Captures}x, replayed {Replays}x{(HostSteps.Count > 0 ? "; host steps: " + string.Join(", ", HostSteps) : "")}";
}

/// <summary>
/// Runs an execution plan's steps as captured graphs: the steps are cut into segments at every host-side step (a node
/// placed on a host backend, whose inputs must be on the host before it runs), each maximal run of device steps —
/// the copies up and down included, as memcpy nodes from and to the page-locked arena — is captured on its first run
/// and replayed afterwards, and the host steps run between them, after a wait for the stream. A segment is captured
/// again when an IO binding points its copies at other addresses than the ones captured: a replay never writes to a
/// stale address.
/// </summary>
internal sealed class CapturedRun : IDisposable
{
    private readonly Step[] _steps;
    private readonly IDeviceBackend _device;
    private readonly IGraphCaptureBackend _capture;
    private readonly nint _stream;
    private readonly GraphCaptureStats _stats;
    private readonly Segment[] _segments;

    private sealed class Segment(int start, int end, bool onDevice, TransferStep[] transfers)
    {
        public int Start { get; } = start;
        public int End { get; } = end;
        public bool OnDevice { get; } = onDevice;
        public TransferStep[] Transfers { get; } = transfers;
        public (ulong Address, bool OnDevice)[] Captured { get; set; } = [];
        public IDeviceGraph? Graph { get; set; }
    }

    public CapturedRun(Step[] steps, IDeviceBackend device, IGraphCaptureBackend capture, nint stream, GraphCaptureStats stats)
    {
        _steps = steps;
        _device = device;
        _capture = capture;
        _stream = stream;
        _stats = stats;
        var segments = new List<Segment>();
        for (int i = 0; i < steps.Length;)
        {
            bool onDevice = IsDeviceStep(steps[i]);
            int j = i;
            while (j < steps.Length && IsDeviceStep(steps[j]) == onDevice)
            {
                j++;
            }
            segments.Add(new Segment(i, j, onDevice, [.. steps[i..j].OfType<TransferStep>()]));
            i = j;
        }
        _segments = [.. segments];
        stats.HostSteps = [.. steps.Where(s => !IsDeviceStep(s)).Select(s => s.Node)];
    }

    /// <summary>Steps that only queue work on the plan's stream: what a graph can hold.</summary>
    internal static bool IsDeviceStep(Step s) => s is TransferStep or DeviceUnaryStep or DeviceConvStep or DeviceCopyStep;

    /// <summary>Runs every segment in order (cancellation checked between them); the caller waits for the stream at the end.</summary>
    public void Execute(CancellationToken cancellation)
    {
        int nodes = 0, graphs = 0;
        for (int k = 0; k < _segments.Length; k++)
        {
            cancellation.ThrowIfCancellationRequested();
            Segment seg = _segments[k];
            if (!seg.OnDevice)
            {
                for (int i = seg.Start; i < seg.End; i++)
                {
                    _steps[i].Execute();
                }
                continue;
            }
            if (seg.Graph is not null && BindingsMatch(seg))
            {
                _stats.Replayed();
            }
            else
            {
                seg.Graph?.Dispose();
                seg.Graph = null;
                seg.Graph = Record(seg);
                seg.Captured = [.. seg.Transfers.Select(t => (t.Override, t.OnDevice))];
                _stats.Captured();
            }
            seg.Graph.Launch(_stream);
            nodes += seg.Graph.Nodes;
            graphs++;
            if (k + 1 < _segments.Length)
            {
                // Host code runs next and reads what the segment copied down.
                _device.Synchronize(_stream);
            }
        }
        _stats.Shape(nodes, graphs);
    }

    private IDeviceGraph Record(Segment seg)
    {
        foreach (TransferStep t in seg.Transfers)
        {
            t.InCapture = true; // a copy down waits for its stream; a capturing stream must not be waited on
        }
        try
        {
            _capture.BeginCapture(_stream);
            try
            {
                for (int i = seg.Start; i < seg.End; i++)
                {
                    _steps[i].Execute();
                }
            }
            catch
            {
                // Leave the stream out of capture mode, usable again; the step's own error is the one to report.
                try
                {
                    _capture.EndCapture(_stream).Dispose();
                }
                catch (FastConvException)
                {
                }
                throw;
            }
            return _capture.EndCapture(_stream);
        }
        finally
        {
            foreach (TransferStep t in seg.Transfers)
            {
                t.InCapture = false;
            }
        }
    }

    private static bool BindingsMatch(Segment seg)
    {
        for (int i = 0; i < seg.Transfers.Length; i++)
        {
            if (seg.Transfers[i].Override != seg.Captured[i].Address || seg.Transfers[i].OnDevice != seg.Captured[i].OnDevice)
            {
                return false;
            }
        }
        return true;
    }

    public void Dispose()
    {
        foreach (Segment s in _segments)
        {
            s.Graph?.Dispose();
            s.Graph = null;
        }
    }
}
