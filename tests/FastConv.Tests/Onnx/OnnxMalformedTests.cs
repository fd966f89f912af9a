using FastConv.Onnx;
using FastConv.Tests.Support;
using Google.Protobuf;
using Onnx;
using static FastConv.Tests.Support.OnnxModelBuilder;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FastConv.Tests.Onnx;

/// <summary>Malformed files each give a typed error (never a crash, a hang or a huge allocation).</summary>
[Category("Hostile")]
[Description("InvalidModelException or UnsupportedModelException naming what is wrong; never a crash, a hang or a huge allocation")]
public class OnnxMalformedTests
{
    private static OnnxModelBuilder Small(int opset = 13)
    {
        var b = new OnnxModelBuilder(opset: opset);
        b.Input("x", 1, 2, 6, 6);
        return b;
    }

    private static void Invalid(byte[] model, string? expect = null)
    {
        var e = Assert.Throws<InvalidModelException>(() => OnnxModel.Load(model));
        if (expect is not null) Assert.That(e!.Message, Does.Contain(expect));
    }

    [Test]
    public void Truncated_files_are_invalid()
    {
        byte[] full = OnnxTestNets.ResNet().Model;
        int typed = 0;
        // Every length in the first 256 bytes (headers, first nodes), then 300 lengths spread over the rest.
        var lengths = Enumerable.Range(0, 256).Concat(Enumerable.Range(0, 300).Select(i => 256 + (int)((long)(full.Length - 257) * i / 300)));
        foreach (int len in lengths)
        {
            var e = Assert.Catch<FastConvException>(() => OnnxModel.Load(full[..len]), $"prefix of {len} of {full.Length} bytes");
            if (e is InvalidModelException) typed++;
        }
        Assert.That(typed, Is.EqualTo(556), "every truncation is reported as an invalid model");
    }

    [Test]
    public void Garbage_and_empty_input_are_invalid()
    {
        Invalid([], "no graph");
        Invalid("this is not an onnx model at all"u8.ToArray());
        var rng = new Random(3);
        for (int i = 0; i < 50; i++)
        {
            var bytes = new byte[rng.Next(1, 4000)];
            rng.NextBytes(bytes);
            Assert.Catch<FastConvException>(() => OnnxModel.Load(bytes));
        }
    }

    [Test]
    public void Hostile_length_fields_and_deep_nesting_are_invalid()
    {
        // Field 7 (graph), length-delimited, claiming 2^32−1 bytes with 3 present.
        Invalid([0x3A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 1, 2, 3], "protobuf");
        // Graphs nested in attributes 300 deep: beyond the parser's recursion limit.
        var g = new GraphProto { Name = "g" };
        for (int i = 0; i < 300; i++)
        {
            var n = new NodeProto { OpType = "If" };
            n.Attribute.Add(new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = g });
            g = new GraphProto { Name = "g" + i };
            g.Node.Add(n);
        }
        var m = new ModelProto { IrVersion = 8, Graph = g };
        m.OpsetImport.Add(new OperatorSetIdProto { Version = 13 });
        Invalid(m.ToByteArray(), "protobuf");
    }

    private static TensorProto Tensor(string name, DataType type, long[] dims, Action<TensorProto>? fill = null)
    {
        var t = new TensorProto { Name = name, DataType = (int)type };
        t.Dims.AddRange(dims);
        fill?.Invoke(t);
        return t;
    }

    private static byte[] WithWeight(TensorProto w)
    {
        var b = Small();
        b.Graph.Initializer.Add(w);
        b.Output(b.Op("Conv", ["x", w.Name], Attr("kernel_shape", 3L, 3L)));
        return b.ToBytes();
    }

    [Test]
    public void Wrong_data_types_and_lengths_are_invalid()
    {
        Invalid(WithWeight(Tensor("w", DataType.Float, [3, 2, 3, 3], t => t.Int64Data.AddRange(new long[54]))), "needs 54 values, has 0");
        Invalid(WithWeight(Tensor("w", DataType.Float, [3, 2, 3, 3], t => t.FloatData.AddRange(new float[53]))), "needs 54 values, has 53");
        Invalid(WithWeight(Tensor("w", DataType.Float, [3, 2, 3, 3], t => t.RawData = ByteString.CopyFrom(new byte[215]))), "needs 216 bytes");
        Invalid(WithWeight(Tensor("w", DataType.String, [3, 2, 3, 3], t => t.StringData.Add(ByteString.CopyFromUtf8("a")))), "STRING");
        Invalid(WithWeight(Tensor("w", DataType.Complex64, [3, 2, 3, 3])), "COMPLEX64");
        Invalid(WithWeight(Tensor("w", (DataType)999, [3, 2, 3, 3])), "type 999");
        Invalid(WithWeight(Tensor("w", DataType.Uint64, [1], t => t.Uint64Data.Add(ulong.MaxValue))), "does not fit");

        // A run-time input of a type FastConv does not run, an attribute of the wrong kind.
        var b = new OnnxModelBuilder();
        b.Graph.Input.Add(new ValueInfoProto { Name = "ids", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DataType.Int64, Shape = new TensorShapeProto { Dim = { new TensorShapeProto.Types.Dimension { DimValue = 4 } } } } } });
        b.Output(b.Op("Relu", ["ids"]));
        Assert.Throws<UnsupportedModelException>(() => OnnxModel.Load(b.ToBytes()));
        var c = Small();
        c.Output(c.Op("MaxPool", ["x"], Attr("kernel_shape", 2f, 2f)));
        Assert.Catch<FastConvException>(() => OnnxModel.Load(c.ToBytes()));
    }

    [Test]
    public void Cycles_are_invalid()
    {
        var b = Small();
        b.Node("Relu", ["x2"], ["x1"]);
        b.Node("Add", ["x", "x1"], ["x2"]);
        b.Output("x2");
        Invalid(b.ToBytes(), "cycle");

        var s = Small();
        s.Node("Add", ["x", "self"], ["self"]);
        s.Output("self");
        Invalid(s.ToBytes(), "cycle");
    }

    [Test]
    public void Absurd_dimensions_are_invalid()
    {
        // 2^40 x 2^40 weight with no data: the element count is checked before anything is allocated.
        Invalid(WithWeight(Tensor("w", DataType.Float, [1L << 40, 1L << 40])), "exceeds");
        Invalid(WithWeight(Tensor("w", DataType.Float, [1L << 20, 1L << 20])), "more than");
        Invalid(WithWeight(Tensor("w", DataType.Float, [-3, 2, 3, 3])), "negative");

        var huge = new OnnxModelBuilder();
        huge.Input("x", 100000, 100000, 100000);
        huge.Output(huge.Relu("x"));
        Invalid(huge.ToBytes(), "more than");

        var cos = Small();
        cos.Output(cos.Op("Add", ["x", cos.Op("ConstantOfShape", [cos.Int64("s", 1_000_000_000)])]));
        Invalid(cos.ToBytes(), "more than");

        var range = Small();
        range.Output(range.Op("Add", ["x", range.Op("Cast", [range.Op("Range", [range.Int64Scalar("a", 0), range.Int64Scalar("b", long.MaxValue), range.Int64Scalar("d", 1)])], Attr("to", (long)DataType.Float))]));
        Invalid(range.ToBytes(), "Range");

        var expand = Small();
        expand.Output(expand.Op("Add", ["x", expand.Op("Expand", [expand.Float("one", [1f], 1), expand.Int64("s", 65536, 65536)])]));
        Invalid(expand.ToBytes(), "more than");

        var resize = Small();
        resize.Output(resize.Op("Resize", ["x", "", resize.Float("s", [1f, 1f, 100000f, 100000f], 4)]));
        Assert.Catch<FastConvException>(() => OnnxModel.Load(resize.ToBytes()));

        var reshape = Small();
        reshape.Output(reshape.Op("Reshape", ["x", reshape.Int64("s", long.MaxValue, long.MaxValue, -1)]));
        Assert.Catch<FastConvException>(() => OnnxModel.Load(reshape.ToBytes()));
    }

    [Test]
    public void Missing_initializers_and_dangling_names_are_invalid()
    {
        var b = Small();
        b.Output(b.Op("Conv", ["x", "conv1.weight"], Attr("kernel_shape", 3L, 3L)));
        Invalid(b.ToBytes(), "'conv1.weight'");

        var o = Small();
        o.Relu("x");
        o.Output("nobody_makes_this");
        Invalid(o.ToBytes(), "'nobody_makes_this'");

        var none = Small();
        none.Relu("x");
        Invalid(none.ToBytes(), "no outputs");
    }

    [Test]
    public void Duplicate_names_are_invalid()
    {
        var b = Small();
        b.Node("Relu", ["x"], ["y"]);
        b.Node("Sigmoid", ["x"], ["y"]);
        b.Output("y");
        Invalid(b.ToBytes(), "produced twice");

        var i = Small();
        string w = i.Float("w", [1f], 1);
        i.Node("Relu", ["x"], [w]);
        i.Output(w);
        Invalid(i.ToBytes(), "produced twice");

        var d = Small();
        d.Input("x", 1, 2, 6, 6);
        d.Output(d.Relu("x"));
        Invalid(d.ToBytes(), "listed twice");

        var init = Small();
        init.Float("w", [1f], 1);
        init.Graph.Initializer.Add(init.Graph.Initializer[0].Clone());
        init.Output(init.Op("Add", ["x", init.Graph.Initializer[0].Name]));
        Invalid(init.ToBytes(), "defined twice");
    }

    [Test]
    public void Models_without_graph_opset_or_op_type_are_invalid()
    {
        Invalid(new ModelProto { IrVersion = 8 }.ToByteArray(), "no graph");
        var b = Small();
        b.Output(b.Relu("x"));
        var m = ModelProto.Parser.ParseFrom(b.ToBytes());
        m.OpsetImport.Clear();
        Invalid(m.ToByteArray(), "opset");
        m = ModelProto.Parser.ParseFrom(b.ToBytes());
        m.Graph.Node[0].OpType = "";
        Invalid(m.ToByteArray(), "op_type");
    }
}
