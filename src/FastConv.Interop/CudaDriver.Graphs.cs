using System.Runtime.InteropServices;

namespace FastConv.Interop;

/// <summary>
/// <c>CUstreamCaptureMode</c>: which API calls made while a stream is capturing invalidate the capture. FastConv uses
/// <see cref="ThreadLocal"/>: only the capturing thread's own unsafe calls (a synchronous copy, <c>cuMemAlloc</c>, a
/// synchronize) count, so the execution contexts of one session may capture on their own streams at once.
/// </summary>
public enum CudaStreamCaptureMode
{
    Global = 0,
    ThreadLocal = 1,
    Relaxed = 2,
}

/// <summary><c>CUstreamCaptureStatus</c>.</summary>
public enum CudaStreamCaptureStatus
{
    None = 0,
    Active = 1,
    /// <summary>Capture began and something broke it (an unsafe call); <c>cuStreamEndCapture</c> will fail.</summary>
    Invalidated = 2,
}

// CUDA Graphs by stream capture: a stream records what is queued on it instead of running it, cuStreamEndCapture
// returns the recorded graph, cuGraphInstantiateWithFlags makes it launchable, and cuGraphLaunch replays all of it
// with one call. Signatures from cuda.h (CUDA 12); cuStreamBeginCapture is #defined to its _v2 there, and
// cuGraphInstantiate to cuGraphInstantiateWithFlags (CUDA 11.4+), which are the symbols bound here.
public static partial class CudaDriver
{
    [LibraryImport(NativeLibraries.CudaImport, EntryPoint = "cuStreamBeginCapture_v2")]
    private static partial CuResult cuStreamBeginCapture(nint stream, CudaStreamCaptureMode mode);

    [LibraryImport(NativeLibraries.CudaImport)]
    private static partial CuResult cuStreamEndCapture(nint stream, out nint graph);

    [LibraryImport(NativeLibraries.CudaImport)]
    private static partial CuResult cuStreamIsCapturing(nint stream, out CudaStreamCaptureStatus status);

    [LibraryImport(NativeLibraries.CudaImport)]
    private static partial CuResult cuGraphInstantiateWithFlags(out nint graphExec, nint graph, ulong flags);

    [LibraryImport(NativeLibraries.CudaImport)]
    private static partial CuResult cuGraphLaunch(nint graphExec, nint stream);

    [LibraryImport(NativeLibraries.CudaImport)]
    internal static partial CuResult cuGraphExecDestroy(nint graphExec);

    [LibraryImport(NativeLibraries.CudaImport)]
    internal static partial CuResult cuGraphDestroy(nint graph);

    [LibraryImport(NativeLibraries.CudaImport)]
    private static unsafe partial CuResult cuGraphGetNodes(nint graph, nint* nodes, nuint* count);

    /// <summary>Starts recording <paramref name="stream"/> (not the legacy stream 0) into a graph.</summary>
    public static void StreamBeginCapture(nint stream, CudaStreamCaptureMode mode) => ThrowIfFailed(cuStreamBeginCapture(stream, mode));

    /// <summary>
    /// Ends the capture and returns the graph, released through its handle. An invalidated capture fails here
    /// (CUDA_ERROR_STREAM_CAPTURE_INVALIDATED) and leaves the stream out of capture mode, usable again.
    /// </summary>
    public static CudaGraphHandle StreamEndCapture(nint stream, CudaContextHandle context)
    {
        ThrowIfFailed(cuStreamEndCapture(stream, out nint graph));
        return new CudaGraphHandle(graph, context);
    }

    public static CudaStreamCaptureStatus StreamIsCapturing(nint stream)
    {
        ThrowIfFailed(cuStreamIsCapturing(stream, out CudaStreamCaptureStatus status));
        return status;
    }

    /// <summary>An executable graph of <paramref name="graph"/> (a snapshot: the graph may be destroyed afterwards).</summary>
    public static CudaGraphExecHandle GraphInstantiate(CudaGraphHandle graph, CudaContextHandle context)
    {
        ThrowIfFailed(cuGraphInstantiateWithFlags(out nint exec, graph.DangerousGetHandle(), 0));
        return new CudaGraphExecHandle(exec, context);
    }

    /// <summary>Queues every node of the executable graph on <paramref name="stream"/>, in the captured order, with one call.</summary>
    public static void GraphLaunch(nint graphExec, nint stream) => ThrowIfFailed(cuGraphLaunch(graphExec, stream));

    /// <summary>How many nodes (kernels, copies, memsets) the graph holds.</summary>
    public static unsafe int GraphNodeCount(CudaGraphHandle graph)
    {
        nuint count = 0;
        ThrowIfFailed(cuGraphGetNodes(graph.DangerousGetHandle(), null, &count));
        return checked((int)count);
    }
}

/// <summary>A CUgraph (what a capture recorded).</summary>
public sealed class CudaGraphHandle : CudaContextBoundHandle
{
    internal CudaGraphHandle(nint graph, CudaContextHandle context) : base(graph, context) { }
    private protected override CuResult Destroy(nint value) => CudaDriver.cuGraphDestroy(value);
}

/// <summary>A CUgraphExec (an instantiated, launchable graph).</summary>
public sealed class CudaGraphExecHandle : CudaContextBoundHandle
{
    internal CudaGraphExecHandle(nint exec, CudaContextHandle context) : base(exec, context) { }
    private protected override CuResult Destroy(nint value) => CudaDriver.cuGraphExecDestroy(value);
}
