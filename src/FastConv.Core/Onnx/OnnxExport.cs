using FastConv.Graphs;
using Google.Protobuf;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FastConv.Onnx;

/// <summary>
/// Writes a <see cref="Graph"/> of plain ONNX ops (a built network, <c>builtin:NAME</c>, or an imported model before
/// optimization) as an ONNX model, so the same network can be run on ONNX Runtime from the same file. Constants become
/// raw_data initializers; nodes keep their names, inputs and attributes. FastConv's fused ops (<c>FastConv.*</c>)
/// have no ONNX form and are refused.
/// </summary>
public static class OnnxExport
{
    /// <summary>The opset written: nodes carry the latest forms FastConv reads, which opset 17 spells the same way
    /// (a Reduce* with its axes as an input, opset 18's form, is the one exception and is refused).</summary>
    public const int Opset = 17;

    public static byte[] ToBytes(Graph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var g = new GraphProto { Name = graph.Name };
        foreach (var input in graph.Inputs)
            g.Input.Add(ValueInfo(input.Name, input.Shape));
        foreach (var (name, c) in graph.Constants)
            g.Initializer.Add(Tensor(name, c));
        foreach (var n in graph.Nodes)
        {
            if (n.OpType.StartsWith("FastConv.", StringComparison.Ordinal) || (n.OpType.StartsWith("Reduce", StringComparison.Ordinal) && n.HasInput(1)))
                throw new UnsupportedModelException([$"{n.Describe()}: cannot be written as ONNX opset {Opset}; export the graph before optimization"]);
            var p = new NodeProto { OpType = n.OpType, Name = n.Name };
            p.Input.AddRange(n.Inputs);
            p.Output.AddRange(n.Outputs);
            foreach (var (name, a) in n.Attributes)
                p.Attribute.Add(Attribute(name, a));
            g.Node.Add(p);
        }
        foreach (string o in graph.Outputs)
            g.Output.Add(new ValueInfoProto { Name = o, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DataType.Float } } });
        var model = new ModelProto { IrVersion = 8, ProducerName = "FastConv", Graph = g };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        return model.ToByteArray();
    }

    public static void Save(Graph graph, string path) => File.WriteAllBytes(path, ToBytes(graph));

    private static ValueInfoProto ValueInfo(string name, TensorShape shape)
    {
        var s = new TensorShapeProto();
        foreach (int d in shape) s.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DataType.Float, Shape = s } } };
    }

    private static TensorProto Tensor(string name, GraphConstant c)
    {
        var t = new TensorProto { Name = name };
        foreach (int d in c.Shape) t.Dims.Add(d);
        if (c.Type == ElementType.Float32)
        {
            t.DataType = (int)DataType.Float;
            float[] f = c.Floats;
            var bytes = new byte[f.Length * sizeof(float)];
            Buffer.BlockCopy(f, 0, bytes, 0, bytes.Length);
            t.RawData = UnsafeByteOperations.UnsafeWrap(bytes); // the array is ours and never written again
        }
        else
        {
            t.DataType = (int)DataType.Int64;
            t.Int64Data.AddRange(c.Int64s);
        }
        return t;
    }

    private static AttributeProto Attribute(string name, AttributeValue a)
    {
        var p = new AttributeProto { Name = name };
        switch (a.Kind)
        {
            case AttributeKind.Int: p.Type = AttributeProto.Types.AttributeType.Int; p.I = a.Int; break;
            case AttributeKind.Float: p.Type = AttributeProto.Types.AttributeType.Float; p.F = a.Float; break;
            case AttributeKind.String: p.Type = AttributeProto.Types.AttributeType.String; p.S = ByteString.CopyFromUtf8(a.String); break;
            case AttributeKind.Ints: p.Type = AttributeProto.Types.AttributeType.Ints; p.Ints.AddRange(a.Ints); break;
            case AttributeKind.Floats: p.Type = AttributeProto.Types.AttributeType.Floats; p.Floats.AddRange(a.Floats); break;
            default: p.Type = AttributeProto.Types.AttributeType.Tensor; p.T = Tensor("", a.Tensor!); break;
        }
        return p;
    }
}
