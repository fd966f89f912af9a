using System.Runtime.InteropServices;
using FastConv.Backends;
using FastConv.Graphs;
using FastConv.Sessions;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace FastConv.Cli.Bench;

/// <summary>A workload that cannot run in this build or on this machine; the runner reports it as skipped with the reason.</summary>
public sealed class WorkloadUnavailableException(string message) : FastConvException(message);

/// <summary>
/// Whole networks as bench workloads: <c>builtin:NAME</c> or an .onnx file, run through a FastConv
/// <see cref="Session"/> (optimizer, planner, arena) with pre-allocated outputs, against ONNX Runtime running the
/// same graph with the same weights: the .onnx file itself, or the built-in network's graph written as ONNX.
/// </summary>
internal static class NetworkWorkloads
{
    public static BenchWorkload Create(string name)
    {
        if (!name.StartsWith(ModelLoader.BuiltinPrefix, StringComparison.Ordinal) && !File.Exists(name))
        {
            throw new InvalidBenchArgumentException($"no model file '{name}'; give a path to an .onnx file or builtin:NAME ({string.Join(", ", Networks.Builtins.Names.Select(n => ModelLoader.BuiltinPrefix + n))})");
        }
        return new NetworkWorkload(name);
    }

    private sealed class NetworkWorkload(string model) : BenchWorkload
    {
        public override string Set => "network";
        public override string Name => model.StartsWith(ModelLoader.BuiltinPrefix, StringComparison.Ordinal) ? model : Path.GetFileName(model);
        public override string Kind => "network";

        public override BenchLayer? Layer(int batch) => null;

        public override BenchProblem Create(int batch)
        {
            Graph graph = ModelLoader.Load(model);
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
        /// A network chains tens of layers, each adding its rounding (and Winograd's larger one) to what it received,
        /// so the per-layer bounds of <see cref="OutputCheck"/> are multiplied by ten; a real bug (a wrong layer,
        /// a dropped residual) still moves the output by far more.
        /// </summary>
        public override float Tolerance(bool exact) => 10 * (exact ? OutputCheck.SameSumsTolerance : OutputCheck.FastTolerance);

        public override IBenchSubject Plan(IBackend backend, string label, int threads, bool exact)
        {
            var session = new Session(_graph, new Sessions.SessionOptions { Backend = backend.Name, Threads = threads, Exact = exact });
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
                ? GraphToOnnx.Export(_graph, _info).ToByteArray()
                : File.ReadAllBytes(_model);
            var y = new AlignedBuffer(_outputShape);
            var ort = new OrtModel(model, threads, _input.Name, _x, _output, y);
            return new BufferSubject("ort", null, "cpu", y, ort.Run, ort);
        }
    }

    /// <summary>ONNX Runtime on a whole model, input and output bound once to pre-allocated buffers (as <see cref="OrtOneNode"/>).</summary>
    private sealed class OrtModel : IDisposable
    {
        private readonly Microsoft.ML.OnnxRuntime.SessionOptions _options;
        private readonly InferenceSession _session;
        private readonly RunOptions _runOptions = new();
        private readonly OrtValue _x;
        private readonly OrtValue _y;
        private readonly OrtIoBinding _binding;

        public OrtModel(byte[] model, int threads, string inputName, AlignedBuffer x, string outputName, AlignedBuffer y)
        {
            _options = OrtOneNode.Options(threads);
            _session = new InferenceSession(model, _options);
            _x = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, x.Memory, x.Dims);
            _y = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, y.Memory, y.Dims);
            _binding = _session.CreateIoBinding();
            _binding.BindInput(inputName, _x);
            _binding.BindOutput(outputName, _y);
        }

        public void Run() => _session.RunWithBinding(_runOptions, _binding);

        public void Dispose()
        {
            _binding.Dispose();
            _x.Dispose();
            _y.Dispose();
            _runOptions.Dispose();
            _session.Dispose();
            _options.Dispose();
        }
    }
}

/// <summary>
/// Writes a FastConv <see cref="Graph"/> as an ONNX model, so ONNX Runtime can run a built-in network with the very
/// same weights. The graph's nodes already carry ONNX op types and attribute names; constants become initializers.
/// </summary>
internal static class GraphToOnnx
{
    private const int Opset = 17;

    public static ModelProto Export(Graph graph, GraphInfo info)
    {
        var g = new GraphProto { Name = graph.Name };
        foreach (GraphValue input in graph.Inputs)
        {
            g.Input.Add(ValueInfo(input.Name, input.Shape));
        }
        foreach (string output in graph.Outputs)
        {
            g.Output.Add(ValueInfo(output, info.Shapes[output]));
        }
        foreach ((string name, GraphConstant constant) in graph.Constants)
        {
            g.Initializer.Add(Tensor(name, constant));
        }
        foreach (Node node in graph.Nodes)
        {
            var n = new NodeProto { OpType = node.OpType, Name = node.Name, Domain = node.Domain == "ai.onnx" ? "" : node.Domain };
            n.Input.AddRange(node.Inputs);
            n.Output.AddRange(node.Outputs);
            foreach ((string key, AttributeValue a) in node.Attributes)
            {
                n.Attribute.Add(Attribute(key, a));
            }
            g.Node.Add(n);
        }
        var model = new ModelProto { IrVersion = 8, ProducerName = "fastconv bench", Graph = g };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        return model;
    }

    private static AttributeProto Attribute(string name, AttributeValue a)
    {
        var p = new AttributeProto { Name = name };
        switch (a.Kind)
        {
            case AttributeKind.Int:
                p.Type = AttributeProto.Types.AttributeType.Int;
                p.I = a.Int;
                break;
            case AttributeKind.Float:
                p.Type = AttributeProto.Types.AttributeType.Float;
                p.F = a.Float;
                break;
            case AttributeKind.String:
                p.Type = AttributeProto.Types.AttributeType.String;
                p.S = ByteString.CopyFromUtf8(a.String);
                break;
            case AttributeKind.Ints:
                p.Type = AttributeProto.Types.AttributeType.Ints;
                p.Ints.AddRange(a.Ints);
                break;
            case AttributeKind.Floats:
                p.Type = AttributeProto.Types.AttributeType.Floats;
                p.Floats.AddRange(a.Floats);
                break;
            case AttributeKind.Tensor:
                p.Type = AttributeProto.Types.AttributeType.Tensor;
                p.T = Tensor(name, a.Tensor!);
                break;
        }
        return p;
    }

    private static TensorProto Tensor(string name, GraphConstant c)
    {
        var t = new TensorProto { Name = name };
        t.Dims.AddRange(c.Shape.Dims.ToArray().Select(d => (long)d));
        if (c.Type == ConstantType.Float32)
        {
            t.DataType = (int)TensorProto.Types.DataType.Float;
            t.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(c.Floats.AsSpan()));
        }
        else
        {
            t.DataType = (int)TensorProto.Types.DataType.Int64;
            t.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(c.Int64s.AsSpan()));
        }
        return t;
    }

    private static ValueInfoProto ValueInfo(string name, TensorShape shape)
    {
        var dims = new TensorShapeProto();
        foreach (int d in shape.Dims)
        {
            dims.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = dims } },
        };
    }
}
