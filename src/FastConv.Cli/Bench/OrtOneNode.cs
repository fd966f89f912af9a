using System.Runtime.InteropServices;
using FastConv.Ops;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace FastConv.Cli.Bench;

/// <summary>
/// ONNX Runtime as the peer: a one-node model (Conv, MaxPool or Relu) built in memory with the same
/// weights FastConv gets, on ORT's CPU execution provider with ORT's own best settings
/// (<c>ORT_ENABLE_ALL</c>, which includes the NCHWc layout transformer MLAS is fastest in), the same
/// intra-op thread count as FastConv and no inter-op parallelism. Input and output are bound once to
/// pre-allocated buffers (<see cref="OrtIoBinding"/>), so <see cref="Run"/> allocates nothing and
/// times only ORT's execution.
/// </summary>
internal sealed class OrtOneNode : IDisposable
{
    private const int Opset = 17;
    private readonly SessionOptions _options;
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly OrtValue _x;
    private readonly OrtValue _y;
    private readonly OrtIoBinding _binding;

    private OrtOneNode(byte[] model, int threads, string inputName, AlignedBuffer x, string outputName, AlignedBuffer y)
    {
        _options = Options(threads);
        _session = new InferenceSession(model, _options);
        _x = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, x.Memory, x.Dims);
        _y = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, y.Memory, y.Dims);
        _binding = _session.CreateIoBinding();
        _binding.BindInput(inputName, _x);
        _binding.BindOutput(outputName, _y);
    }

    private OrtOneNode(ModelProto model, int threads, AlignedBuffer x, AlignedBuffer y)
        : this(model.ToByteArray(), threads, "X", x, "Y", y)
    {
    }

    /// <summary>A whole ONNX model (one input, one output) with the same settings and bindings as the one-node models.</summary>
    public static OrtOneNode FromModel(byte[] model, int threads, string inputName, AlignedBuffer x, string outputName, AlignedBuffer y)
        => new(model, threads, inputName, x, outputName, y);

    /// <summary>Whether ORT's intra-op threads may spin between runs (off unless FASTCONV_BENCH_ORT_SPIN=1).</summary>
    public static bool SpinEnabled => Environment.GetEnvironmentVariable("FASTCONV_BENCH_ORT_SPIN") == "1";

    /// <summary>
    /// ORT's best CPU settings for <paramref name="threads"/> intra-op threads: every graph optimization (the NCHWc
    /// transformer included), sequential execution, no inter-op pool.
    /// </summary>
    public static SessionOptions Options(int threads)
    {
        var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        // ORT's pool threads spin between runs by default; interleaved with FastConv on the same cores they took the
        // cores from FastConv's threads (measured on 2 cores: FastConv 2-3x slower beside a spinning ORT, ORT itself
        // within noise either way). Spinning off, both engines leave idle cores idle. FASTCONV_BENCH_ORT_SPIN=1 restores it.
        if (!SpinEnabled)
        {
            options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        }
        return options;
    }

    /// <summary>ORT Conv with weights K×(C/groups)×R×S and bias [K], reading <paramref name="x"/>, writing <paramref name="y"/>.</summary>
    public static OrtOneNode Conv(Conv2dShape shape, float[] weights, float[] bias, int threads, AlignedBuffer x, AlignedBuffer y)
    {
        Conv2dParams p = shape.Params;
        var node = new NodeProto { OpType = "Conv", Name = "conv" };
        node.Input.Add("X");
        node.Input.Add("W");
        node.Input.Add("B");
        node.Attribute.Add(Ints("kernel_shape", shape.R, shape.S));
        node.Attribute.Add(Ints("strides", p.StrideH, p.StrideW));
        node.Attribute.Add(Ints("dilations", p.DilationH, p.DilationW));
        node.Attribute.Add(Ints("pads", p.Padding.Top, p.Padding.Left, p.Padding.Bottom, p.Padding.Right));
        node.Attribute.Add(new AttributeProto { Name = "group", Type = AttributeProto.Types.AttributeType.Int, I = p.Groups });
        GraphProto graph = Graph(node, x, y);
        graph.Initializer.Add(Initializer("W", weights, shape.WeightShape));
        graph.Initializer.Add(Initializer("B", bias, TensorShape.Of(shape.K)));
        return new OrtOneNode(Model(graph), threads, x, y);
    }

    /// <summary>ORT MaxPool (no padding support needed by the <c>pool</c> set, but passed through anyway).</summary>
    public static OrtOneNode MaxPool(Pool2dParams p, int threads, AlignedBuffer x, AlignedBuffer y)
    {
        var node = new NodeProto { OpType = "MaxPool", Name = "maxpool" };
        node.Input.Add("X");
        node.Attribute.Add(Ints("kernel_shape", p.KernelH, p.KernelW));
        node.Attribute.Add(Ints("strides", p.StrideH, p.StrideW));
        node.Attribute.Add(Ints("dilations", p.DilationH, p.DilationW));
        node.Attribute.Add(Ints("pads", p.Padding.Top, p.Padding.Left, p.Padding.Bottom, p.Padding.Right));
        node.Attribute.Add(new AttributeProto { Name = "ceil_mode", Type = AttributeProto.Types.AttributeType.Int, I = p.CeilMode ? 1 : 0 });
        return new OrtOneNode(Model(Graph(node, x, y)), threads, x, y);
    }

    /// <summary>ORT Relu.</summary>
    public static OrtOneNode Relu(int threads, AlignedBuffer x, AlignedBuffer y)
    {
        var node = new NodeProto { OpType = "Relu", Name = "relu" };
        node.Input.Add("X");
        return new OrtOneNode(Model(Graph(node, x, y)), threads, x, y);
    }

    /// <summary>One inference into the bound output; no managed allocation.</summary>
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

    private static GraphProto Graph(NodeProto node, AlignedBuffer x, AlignedBuffer y)
    {
        node.Output.Add("Y");
        var graph = new GraphProto { Name = "bench" };
        graph.Node.Add(node);
        graph.Input.Add(ValueInfo("X", x.Shape));
        graph.Output.Add(ValueInfo("Y", y.Shape));
        return graph;
    }

    private static ModelProto Model(GraphProto graph)
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = "FastConv.Bench", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        return model;
    }

    private static AttributeProto Ints(string name, params int[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values.Select(v => (long)v));
        return a;
    }

    private static TensorProto Initializer(string name, float[] values, TensorShape shape)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.AddRange(shape.Dims.ToArray().Select(d => (long)d));
        // raw_data is little-endian IEEE floats, which is what this machine holds: one memcpy, not a repeated field.
        t.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
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
