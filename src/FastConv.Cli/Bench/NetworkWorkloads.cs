using FastConv.Backends;
using FastConv.Graphs;
using FastConv.Onnx;
using FastConv.Sessions;

namespace FastConv.Cli.Bench;

/// <summary>A workload that cannot run in this build or on this machine; the runner reports it as skipped with the reason.</summary>
public sealed class WorkloadUnavailableException(string message) : FastConvException(message);

/// <summary>
/// Whole networks as bench workloads: <c>builtin:NAME</c> or an .onnx file, run through a FastConv
/// <see cref="FastConvSession"/> (optimizer, planner, arena) with pre-allocated outputs, against ONNX Runtime running the
/// same graph with the same weights: the .onnx file itself, or the built-in network's graph written as ONNX.
/// </summary>
internal static class NetworkWorkloads
{
    public static BenchWorkload Create(string name, IReadOnlyDictionary<string, TensorShape>? shapes = null)
    {
        if (!name.StartsWith(ModelLoader.BuiltinPrefix, StringComparison.Ordinal) && !File.Exists(name))
        {
            throw new InvalidBenchArgumentException($"no model file '{name}'; give a path to an .onnx file or builtin:NAME ({string.Join(", ", Networks.Builtins.Names.Select(n => ModelLoader.BuiltinPrefix + n))})");
        }
        return new NetworkWorkload(name, shapes);
    }

    private sealed class NetworkWorkload(string model, IReadOnlyDictionary<string, TensorShape>? shapes) : BenchWorkload
    {
        public override string Set => "network";
        public override string Name => model.StartsWith(ModelLoader.BuiltinPrefix, StringComparison.Ordinal) ? model : Path.GetFileName(model);
        public override string Kind => "network";

        public override BenchLayer? Layer(int batch) => null;

        public override BenchProblem Create(int batch)
        {
            Graph graph = ModelLoader.Load(model, shapes);
            if (graph.Inputs.Count != 1)
            {
                throw new WorkloadUnavailableException($"{model}: the bench runs models with one input; this one has {graph.Inputs.Count}");
            }
            GraphValue input = graph.Inputs[0];
            if (input.Shape[0] != batch)
            {
                // Builtins are built for the batch; an ONNX file's dynamic batch is fixed by the input shape given.
                int[] dims = input.Shape.Dims.ToArray();
                dims[0] = batch;
                graph = ModelLoader.Load(model, new Dictionary<string, TensorShape> { [input.Name] = new TensorShape(dims) });
            }
            return new NetworkProblem(model, graph);
        }
    }

    /// <summary>A network problem: the graph, one input U(−1,1) from a seed of the model's name.</summary>
    private sealed class NetworkProblem : BenchProblem
    {
        private readonly string _model;
        private readonly Graph _graph;
        private readonly GraphInfo _info;
        private readonly GraphValue _input;
        private readonly string _output;
        private readonly TensorShape _outputShape;
        private readonly AlignedBuffer _x;

        public NetworkProblem(string model, Graph graph)
        {
            _model = model;
            _graph = graph;
            _info = GraphInfo.Analyze(graph);
            _input = graph.Inputs[0];
            if (graph.Outputs.Count != 1)
            {
                throw new WorkloadUnavailableException($"{model}: the bench compares models with one output; this one has {graph.Outputs.Count}");
            }
            _output = graph.Outputs[0];
            _outputShape = _info.Shapes[_output];
            _x = new AlignedBuffer(_input.Shape).FillUniform(AlignedBuffer.StableSeed(model, _input.Shape[0]), -1f, 1f);
        }

        public override string Shape => $"{_input.Name}{_input.Shape} -> {_output}{_outputShape}; {_info.Nodes.Count} nodes, {_info.TotalParameters:N0} parameters";

        public override double Flops => _info.TotalFlops;

        /// <summary>Input, output and every weight once: what one inference must move at least.</summary>
        public override double Bytes => 4.0 * (_input.Shape.ElementCount + _outputShape.ElementCount + _info.TotalParameters);

        /// <summary>
        /// A network chains tens of layers, each adding its rounding (and Winograd's larger one) to what it received:
        /// the bound grows with the graph's depth and accumulation lengths (<see cref="OutputCheck.NetworkTolerance"/>),
        /// and holds the difference's norm as well as every element.
        /// </summary>
        public override float Tolerance(bool exact) => OutputCheck.NetworkTolerance(_info, exact);

        public override bool Normwise => true;

        public override IBenchSubject Plan(IBackend backend, string label, int threads, bool exact)
        {
            var session = new FastConvSession(_graph, new Sessions.FastConvSessionOptions { Backend = backend.Name, Threads = threads, Exact = exact });
            var y = new AlignedBuffer(_outputShape);
            string[] inNames = [_input.Name], outNames = [_output];
            Tensor[] ins = [_x.Tensor], outs = [y.Tensor];
            string algorithms = string.Join(",", session.NodePlans.Where(p => p.Algorithm.Length > 0).GroupBy(p => p.Algorithm)
                .OrderByDescending(g => g.Count()).Take(3).Select(g => $"{g.Key}×{g.Count()}"));
            return new BufferSubject(label, $"session: {algorithms}", BenchDevices.Of(session.BackendName), y,
                () => session.Run(inNames, ins, outNames, outs), session);
        }

        public override IBenchSubject Ort(int threads)
        {
            byte[] model = _model.StartsWith(ModelLoader.BuiltinPrefix, StringComparison.Ordinal)
                ? OnnxExport.ToBytes(_graph)
                : File.ReadAllBytes(_model);
            var y = new AlignedBuffer(_outputShape);
            OrtOneNode ort = OrtOneNode.FromModel(model, threads, _input.Name, _x, _output, y);
            return new BufferSubject("ort", null, "cpu", y, ort.Run, ort);
        }
    }
}
