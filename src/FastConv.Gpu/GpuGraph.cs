using FastConv.Compilation;

namespace FastConv.Gpu;

/// <summary>
/// A captured CUDA Graph and its executable snapshot (<c>CUgraph</c> + <c>CUgraphExec</c>): one <see cref="Launch"/>
/// queues every kernel, copy and memset it recorded. The node count is read once, from the graph. Disposing destroys
/// both and never throws.
/// </summary>
public sealed class GpuGraph : IDeviceGraph
{
    private readonly IGpuDriver _driver;
    private nint _graph, _exec;

    private GpuGraph(IGpuDriver driver, nint graph, nint exec, int nodes)
    {
        _driver = driver;
        _graph = graph;
        _exec = exec;
        Nodes = nodes;
    }

    /// <summary>Ends the capture on <paramref name="stream"/> and instantiates what it recorded.</summary>
    public static GpuGraph EndCapture(IGpuDriver driver, nint stream)
    {
        nint graph = driver.StreamEndCapture(stream);
        try
        {
            int nodes = driver.GraphNodeCount(graph);
            return new GpuGraph(driver, graph, driver.GraphInstantiate(graph), nodes);
        }
        catch
        {
            driver.GraphDestroy(graph);
            throw;
        }
    }

    public int Nodes { get; }

    public void Launch(nint stream)
    {
        ObjectDisposedException.ThrowIf(_exec == 0, this);
        _driver.GraphLaunch(_exec, stream);
    }

    public void Dispose()
    {
        nint exec = _exec, graph = _graph;
        _exec = _graph = 0;
        try
        {
            if (exec != 0)
            {
                _driver.GraphExecDestroy(exec);
            }
            if (graph != 0)
            {
                _driver.GraphDestroy(graph);
            }
        }
        catch (FastConvException)
        {
            // A dead context takes its graphs with it.
        }
    }
}
