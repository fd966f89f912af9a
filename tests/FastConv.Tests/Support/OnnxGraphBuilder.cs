using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace FastConv.Tests.Support;

/// <summary>
/// Builds a one-node ONNX model in memory (Google.Protobuf over the onnx.proto compiled at build time)
/// and runs it on ONNX Runtime's CPU provider, single-threaded, graph optimizations off, so the
/// answer is ORT's plain kernel for that op. The oracle's oracle.
/// </summary>
internal sealed class OnnxGraphBuilder
{
    private readonly NodeProto _node;
    private readonly GraphProto _graph = new() { Name = "test" };
    private readonly List<(string Name, Tensor Value)> _feeds = [];
    private readonly int _opset;

    public OnnxGraphBuilder(string opType, int opset = 17)
    {
        _opset = opset;
        _node = new NodeProto { OpType = opType, Name = opType + "_0" };
        _graph.Node.Add(_node);
    }

    /// <summary>A float input fed at run time.</summary>
    public OnnxGraphBuilder Input(string name, Tensor value)
    {
        _node.Input.Add(name);
        _graph.Input.Add(ValueInfo(name, value.Shape.Dims));
        _feeds.Add((name, value));
        return this;
    }

    /// <summary>An omitted optional input (empty name).</summary>
    public OnnxGraphBuilder NoInput()
    {
        _node.Input.Add("");
        return this;
    }

    /// <summary>A float constant input (initializer).</summary>
    public OnnxGraphBuilder Constant(string name, float[] values, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.AddRange(dims);
        t.FloatData.AddRange(values);
        _graph.Initializer.Add(t);
        _node.Input.Add(name);
        return this;
    }

    /// <summary>An int64 constant input (initializer), e.g. a Reshape shape or Pad pads.</summary>
    public OnnxGraphBuilder Constant(string name, long[] values)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Dims.Add(values.Length);
        t.Int64Data.AddRange(values);
        _graph.Initializer.Add(t);
        _node.Input.Add(name);
        return this;
    }

    /// <summary>A float scalar constant input (rank 0), e.g. Clip's min and max.</summary>
    public OnnxGraphBuilder ScalarConstant(string name, float value)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        t.FloatData.Add(value);
        _graph.Initializer.Add(t);
        _node.Input.Add(name);
        return this;
    }

    public OnnxGraphBuilder Attr(string name, long value)
        => AddAttr(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value });

    public OnnxGraphBuilder Attr(string name, float value)
        => AddAttr(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value });

    public OnnxGraphBuilder Attr(string name, string value)
        => AddAttr(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) });

    public OnnxGraphBuilder Attr(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return AddAttr(a);
    }

    public OnnxGraphBuilder Attr(string name, params float[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Floats };
        a.Floats.AddRange(values);
        return AddAttr(a);
    }

    private OnnxGraphBuilder AddAttr(AttributeProto a)
    {
        _node.Attribute.Add(a);
        return this;
    }

    /// <summary>The serialized model with one output "Y" of unspecified shape.</summary>
    public byte[] ToBytes(string output = "Y")
    {
        if (_node.Output.Count == 0)
        {
            _node.Output.Add(output);
            _graph.Output.Add(new ValueInfoProto
            {
                Name = output,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
            });
        }
        var model = new ModelProto { IrVersion = 8, ProducerName = "FastConv.Tests", Graph = _graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = _opset });
        return model.ToByteArray();
    }

    /// <summary>Runs the model on ONNX Runtime and returns its single output.</summary>
    public Tensor Run()
    {
        byte[] bytes = ToBytes();
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL,
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        using var session = new InferenceSession(bytes, options);
        var values = new List<OrtValue>();
        try
        {
            foreach (var (_, value) in _feeds)
            {
                long[] dims = value.Shape.Dims.ToArray().Select(d => (long)d).ToArray();
                values.Add(OrtValue.CreateTensorValueFromMemory(value.ToArray(), dims));
            }
            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, _feeds.Select(f => f.Name).ToArray(), values, session.OutputNames);
            OrtValue y = outputs[0];
            var info = y.GetTensorTypeAndShape();
            int[] shape = info.Shape.Select(d => checked((int)d)).ToArray();
            return Tensor.FromArray(y.GetTensorDataAsSpan<float>().ToArray(), shape);
        }
        finally
        {
            foreach (var v in values)
            {
                v.Dispose();
            }
        }
    }

    private static ValueInfoProto ValueInfo(string name, ReadOnlySpan<int> dims)
    {
        var shape = new TensorShapeProto();
        foreach (int d in dims)
        {
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }
}
