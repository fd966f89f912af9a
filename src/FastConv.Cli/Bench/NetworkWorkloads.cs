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

    /// <summary>One FastConv session shared by every caller; each caller has its own output buffer and argument arrays.</summary>
    private sealed class SharedSessionSubject : IConcurrentBenchSubject
    {
        private readonly FastConvSession _session;
        private readonly string[] _inNames;
        private readonly string[] _outNames;
        private readonly Tensor[] _inputs;
        private readonly AlignedBuffer[] _outputs;
        private readonly Tensor[][] _outputArgs;

        public SharedSessionSubject(string name, string algorithm, string device, FastConvSession session, string input, AlignedBuffer x,
            string output, TensorShape outputShape, int callers)
        {
            (Name, Algorithm, Device, _session) = (name, algorithm, device, session);
            _inNames = [input];
            _outNames = [output];
            _inputs = [x.Tensor];
            _outputs = [.. Enumerable.Range(0, callers).Select(_ => new AlignedBuffer(outputShape))];
            _outputArgs = [.. _outputs.Select(o => new[] { o.Tensor })];
        }

        public string Name { get; }
        public string? Algorithm { get; }
        public string Device { get; }
        public int Callers => _outputs.Length;

        public void Run(int caller) => _session.Run(_inNames, _inputs, _outNames, _outputArgs[caller]);

        public ReadOnlySpan<float> Output(int caller) => _outputs[caller].Span;

        public void Poison(int caller) => _outputs[caller].Poison();

        public void Dispose() => _session.Dispose();
    }

    /// <summary>One ONNX Runtime InferenceSession shared by every caller (ORT's Run is safe to call concurrently), one IO binding per caller.</summary>
    private sealed class OrtShared : IConcurrentBenchSubject
    {
        private readonly Microsoft.ML.OnnxRuntime.SessionOptions _options;
        private readonly Microsoft.ML.OnnxRuntime.InferenceSession _session;
        private readonly Microsoft.ML.OnnxRuntime.OrtValue _x;
        private readonly AlignedBuffer[] _outputs;
        private readonly List<IDisposable> _owned = [];
        private readonly Microsoft.ML.OnnxRuntime.OrtIoBinding[] _bindings;
        private readonly Microsoft.ML.OnnxRuntime.RunOptions[] _runOptions;

        public OrtShared(byte[] model, int threads, string input, AlignedBuffer x, string output, TensorShape outputShape, int callers)
        {
            _options = OrtOneNode.Options(threads);
            _session = new Microsoft.ML.OnnxRuntime.InferenceSession(model, _options);
            _x = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(Microsoft.ML.OnnxRuntime.OrtMemoryInfo.DefaultInstance, x.Memory, x.Dims);
            _outputs = [.. Enumerable.Range(0, callers).Select(_ => new AlignedBuffer(outputShape))];
            _bindings = new Microsoft.ML.OnnxRuntime.OrtIoBinding[callers];
            _runOptions = new Microsoft.ML.OnnxRuntime.RunOptions[callers];
            for (int k = 0; k < callers; k++)
            {
                var y = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(Microsoft.ML.OnnxRuntime.OrtMemoryInfo.DefaultInstance, _outputs[k].Memory, _outputs[k].Dims);
                _owned.Add(y);
                _bindings[k] = _session.CreateIoBinding();
                _bindings[k].BindInput(input, _x);
                _bindings[k].BindOutput(output, y);
                _runOptions[k] = new Microsoft.ML.OnnxRuntime.RunOptions();
            }
        }

        public string Name => "ort";
        public string? Algorithm => "shared InferenceSession";
        public string Device => "cpu";
        public int Callers => _outputs.Length;

        public void Run(int caller) => _session.RunWithBinding(_runOptions[caller], _bindings[caller]);

        public ReadOnlySpan<float> Output(int caller) => _outputs[caller].Span;

        public void Poison(int caller) => _outputs[caller].Poison();

        public void Dispose()
        {
            foreach (Microsoft.ML.OnnxRuntime.OrtIoBinding b in _bindings)
            {
                b.Dispose();
            }
            foreach (Microsoft.ML.OnnxRuntime.RunOptions r in _runOptions)
            {
                r.Dispose();
            }
            foreach (IDisposable d in _owned)
            {
                d.Dispose();
            }
            _x.Dispose();
            _session.Dispose();
            _options.Dispose();
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
        private int _tf32Layers;

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
        /// Layers the last planned session runs in TF32 (a GPU's fast precision) loosen it (the runner plans before it asks).
        /// </summary>
        public override float Tolerance(bool exact) => OutputCheck.NetworkTolerance(_info, exact, _tf32Layers);

        public override bool Normwise => true;

        public override IBenchSubject Plan(IBackend backend, string label, int threads, bool exact) => Plan(backend, label, threads, exact, graphs: false);

        public override bool CanCaptureGraphs => true;

        public override IBenchSubject PlanWithGraphs(IBackend backend, string label, int threads, bool exact) => Plan(backend, label, threads, exact, graphs: true);

        public override string? GraphSummary => _graphs?.ToString();

        private Compilation.GraphCaptureStats? _graphs;

        private IBenchSubject Plan(IBackend backend, string label, int threads, bool exact, bool graphs)
        {
            var session = new FastConvSession(_graph, new Sessions.FastConvSessionOptions { Backend = backend.Name, Threads = threads, Exact = exact, CaptureGraphs = graphs });
            if (graphs)
            {
                _graphs = session.Graphs;
            }
            var y = new AlignedBuffer(_outputShape);
            string[] inNames = [_input.Name], outNames = [_output];
            Tensor[] ins = [_x.Tensor], outs = [y.Tensor];
            string algorithms = OutputCheck.TopAlgorithms(session);
            _tf32Layers = OutputCheck.Tf32Layers(session);
            return new BufferSubject(label, $"session: {algorithms}", BenchDevices.Of(session.BackendName), y,
                () => session.Run(inNames, ins, outNames, outs), session);
        }

        public override IConcurrentBenchSubject PlanConcurrent(IBackend backend, string label, int threads, bool exact, int callers)
        {
            var session = new FastConvSession(_graph, new Sessions.FastConvSessionOptions { Backend = backend.Name, Threads = threads, Exact = exact });
            try
            {
                string algorithms = OutputCheck.TopAlgorithms(session);
                _tf32Layers = OutputCheck.Tf32Layers(session);
                return new SharedSessionSubject(label, $"shared session: {algorithms}", BenchDevices.Of(session.BackendName), session, _input.Name, _x, _output, _outputShape, callers);
            }
            catch
            {
                session.Dispose();
                throw;
            }
        }

        public override IConcurrentBenchSubject OrtConcurrent(int threads, int callers)
        {
            byte[] model = _model.StartsWith(ModelLoader.BuiltinPrefix, StringComparison.Ordinal)
                ? OnnxExport.ToBytes(_graph)
                : File.ReadAllBytes(_model);
            return new OrtShared(model, threads, _input.Name, _x, _output, _outputShape, callers);
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
