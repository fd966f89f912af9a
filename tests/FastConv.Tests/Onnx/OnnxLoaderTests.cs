using FastConv.Graphs;
using FastConv.Onnx;
using FastConv.Tests.Support;
using Google.Protobuf;
using Onnx;
using static FastConv.Tests.Support.OnnxModelBuilder;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FastConv.Tests.Onnx;

/// <summary>What the importer makes of valid models: folding, input shapes, constants in every encoding, external data, normalized forms.</summary>
public class OnnxLoaderTests
{
    private static IEnumerable<string> Nets() => OnnxTestNets.Names;

    [TestCaseSource(nameof(Nets))]
    public void Every_test_net_loads_with_shape_subgraphs_folded(string name)
    {
        var net = OnnxTestNets.Get(name);
        Graph g = OnnxModel.Load(net.Model);
        Assert.That(g.Inputs, Has.Count.EqualTo(1));
        Assert.That(g.Inputs[0].Shape, Is.EqualTo(new TensorShape(net.InputShape)));
        string[] folded = ["Shape", "Constant", "Unsqueeze", "Squeeze", "Concat_of_shapes", "Upsample", "Cast", "ConstantOfShape"];
        Assert.That(g.Nodes.Select(n => n.OpType), Has.None.AnyOf(folded), string.Join(", ", g.Nodes.Select(n => n.OpType)));
        // A Gather that stays reads float data (attention's q/k/v); every Gather on a shape was folded.
        Assert.That(g.Nodes.Where(n => n.OpType == "Gather").Select(n => g.Values[n.Inputs[0]].Type), Has.All.EqualTo(ElementType.Float32));
        Assert.That(GraphInfo.Analyze(g).Nodes, Is.Not.Empty);
    }

    [Test]
    public void Symbolic_batch_defaults_to_1_and_given_shapes_fix_it()
    {
        var lenet = OnnxTestNets.LeNet();
        Assert.That(OnnxModel.Load(lenet.Model).Inputs[0].Shape, Is.EqualTo(TensorShape.Of(1, 1, 32, 32)));
        Graph g = OnnxModel.Load(lenet.Model, new Dictionary<string, TensorShape> { ["input"] = TensorShape.Of(3, 1, 32, 32) });
        Assert.That(g.Inputs[0].Shape, Is.EqualTo(TensorShape.Of(3, 1, 32, 32)));
        // The flatten sub-graph folded with batch 3: Reshape to [3, -1].
        var reshape = g.Nodes.First(n => n.OpType == "Reshape");
        Assert.That(g.Constants[reshape.Inputs[1]].Int64s, Is.EqualTo(new long[] { 3, -1 }));
    }

    [Test]
    public void Model_loader_reads_onnx_files_through_the_importer()
    {
        string path = Path.Combine(Path.GetTempPath(), $"fastconv-lenet-{Environment.ProcessId}.onnx");
        try
        {
            File.WriteAllBytes(path, OnnxTestNets.LeNet().Model);
            Graph g = ModelLoader.Load(path, new Dictionary<string, TensorShape> { ["input"] = TensorShape.Of(2, 1, 32, 32) });
            Assert.That(g.Inputs[0].Shape, Is.EqualTo(TensorShape.Of(2, 1, 32, 32)));
            File.WriteAllBytes(path, OnnxTestNets.LeNet().Model[..100]);
            Assert.Throws<InvalidModelException>(() => ModelLoader.Load(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void Symbolic_non_batch_dimension_stays_symbolic_until_given()
    {
        var b = new OnnxModelBuilder();
        string x = b.Input("x", 1, 3, -1, -1);
        b.Output(b.Relu(x));
        Graph dynamic = OnnxModel.Load(b.ToBytes());
        Assert.That(dynamic.Inputs[0].Declared, Is.EqualTo("[1,3,H,W]"));
        Assert.That(dynamic.IsDynamic && !dynamic.Inputs[0].IsBound);
        // Whatever needs shapes says which input and which symbols to give.
        var e = Assert.Throws<InvalidShapeException>(() => GraphInfo.Analyze(dynamic));
        Assert.That(e!.Message, Does.Contain("'x'").And.Contain("[1,3,H,W]").And.Contain("--shape"));
        Graph g = OnnxModel.Load(b.ToBytes(), new Dictionary<string, TensorShape> { ["x"] = TensorShape.Of(1, 3, 5, 7) });
        Assert.That(g.Inputs[0].Shape, Is.EqualTo(TensorShape.Of(1, 3, 5, 7)));
    }

    [Test]
    public void Given_shape_must_agree_with_fixed_dimensions_and_name_an_input()
    {
        var b = new OnnxModelBuilder();
        string x = b.Input("x", 1, 3, 8, 8);
        b.Output(b.Relu(x));
        Assert.Throws<InvalidShapeException>(() => OnnxModel.Load(b.ToBytes(), new Dictionary<string, TensorShape> { ["x"] = TensorShape.Of(1, 3, 9, 8) }));
        Assert.Throws<InvalidShapeException>(() => OnnxModel.Load(b.ToBytes(), new Dictionary<string, TensorShape> { ["x"] = TensorShape.Of(1, 3, 8) }));
        Assert.Throws<InvalidShapeException>(() => OnnxModel.Load(b.ToBytes(), new Dictionary<string, TensorShape> { ["y"] = TensorShape.Of(1, 3, 8, 8) }));
    }

    [Test]
    public void Initializer_listed_as_graph_input_is_a_constant()
    {
        var b = new OnnxModelBuilder();
        string x = b.Input("x", 1, 2);
        string w = b.Float("w", [1f, 2f], 1, 2);
        b.Input(w, 1, 2);
        b.Output(b.Op("Add", [x, w]));
        Graph g = OnnxModel.Load(b.ToBytes(irVersion: 3));
        Assert.That(g.Inputs.Select(i => i.Name), Is.EqualTo(new[] { "x" }));
        Assert.That(g.Constants[w].Floats, Is.EqualTo(new[] { 1f, 2f }));
    }

    private static TensorProto Typed(DataType type, long[] dims, Action<TensorProto> fill)
    {
        var t = new TensorProto { Name = "c", DataType = (int)type };
        t.Dims.AddRange(dims);
        fill(t);
        return t;
    }

    private static Graph LoadWithInitializer(TensorProto t, byte[]? model = null)
    {
        var b = new OnnxModelBuilder();
        string x = b.Input("x", 1, 4);
        b.Graph.Initializer.Add(t);
        b.Output(b.Op("Add", [x, t.Name]));
        return OnnxModel.Load(model ?? b.ToBytes());
    }

    [Test]
    public void Initializers_in_every_encoding_convert()
    {
        Assert.That(LoadWithInitializer(Typed(DataType.Double, [4], t => t.DoubleData.AddRange([1.5, -2, 3, 1e-3]))).Constants["c"].Floats,
            Is.EqualTo(new[] { 1.5f, -2f, 3f, 1e-3f }));
        Assert.That(LoadWithInitializer(Typed(DataType.Float16, [4], t => t.Int32Data.AddRange([.. new[] { 1f, -0.5f, 2048f, 0.25f }.Select(f => (int)BitConverter.HalfToUInt16Bits((Half)f))]))).Constants["c"].Floats,
            Is.EqualTo(new[] { 1f, -0.5f, 2048f, 0.25f }));
        byte[] raw = [.. new[] { 1.0, 2.0, -3.0, 0.5 }.SelectMany(BitConverter.GetBytes)];
        Assert.That(LoadWithInitializer(Typed(DataType.Double, [4], t => t.RawData = ByteString.CopyFrom(raw))).Constants["c"].Floats,
            Is.EqualTo(new[] { 1f, 2f, -3f, 0.5f }));
        byte[] bf16 = [.. new[] { 1f, -2f, 0.5f, 3f }.SelectMany(f => BitConverter.GetBytes((ushort)(BitConverter.SingleToInt32Bits(f) >>> 16)))];
        Assert.That(LoadWithInitializer(Typed(DataType.Bfloat16, [4], t => t.RawData = ByteString.CopyFrom(bf16))).Constants["c"].Floats,
            Is.EqualTo(new[] { 1f, -2f, 0.5f, 3f }));
    }

    [Test]
    public void Integer_initializers_fold_into_shapes()
    {
        // Reshape's shape as int32_data (int32 converts exactly to int64).
        var b = new OnnxModelBuilder();
        string x = b.Input("x", 1, 2, 3, 4);
        var t = Typed(DataType.Int32, [2], t => t.Int32Data.AddRange([1, -1]));
        t.Name = "shape";
        b.Graph.Initializer.Add(t);
        b.Output(b.Op("Reshape", [x, "shape"]));
        Graph g = OnnxModel.Load(b.ToBytes());
        Assert.That(g.Constants["shape"].Int64s, Is.EqualTo(new long[] { 1, -1 }));
    }

    [Test]
    [Category("Hostile")]
    [Description("../ and absolute locations, short files, bad offsets and lengths, missing files, loading from bytes: InvalidModelException")]
    public void External_data_is_read_beside_the_model_and_cannot_escape_its_folder()
    {
        string dir = Directory.CreateTempSubdirectory("fastconv-onnx-").FullName;
        try
        {
            float[] values = [1f, 2f, 3f, 4f];
            byte[] bytes = new byte[8 + 16];
            Buffer.BlockCopy(values, 0, bytes, 8, 16);
            File.WriteAllBytes(Path.Combine(dir, "weights.bin"), bytes);

            byte[] Model(string location, string offset, string? length)
            {
                var b = new OnnxModelBuilder();
                string x = b.Input("x", 1, 4);
                var t = new TensorProto { Name = "w", DataType = (int)DataType.Float, DataLocation = TensorProto.Types.DataLocation.External };
                t.Dims.Add(4);
                t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
                t.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset });
                if (length is not null) t.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = length });
                b.Graph.Initializer.Add(t);
                b.Output(b.Op("Add", [x, "w"]));
                return b.ToBytes();
            }

            string path = Path.Combine(dir, "model.onnx");
            File.WriteAllBytes(path, Model("weights.bin", "8", "16"));
            Assert.That(OnnxModel.Load(path).Constants["w"].Floats, Is.EqualTo(values));

            foreach (var (location, offset, length) in new[] { ("../weights.bin", "8", "16"), ("/etc/passwd", "0", null), ("sub/../../x.bin", "0", null), ("weights.bin", "16", "16"), ("weights.bin", "8", "12"), ("weights.bin", "-1", null), ("missing.bin", "0", null), ("weights.bin", "99999999999999999999", null) })
            {
                File.WriteAllBytes(path, Model(location, offset, length));
                Assert.Throws<InvalidModelException>(() => OnnxModel.Load(path), $"{location} @{offset} len {length}");
            }
            Assert.Throws<InvalidModelException>(() => OnnxModel.Load(Model("weights.bin", "8", "16")), "from bytes there is no folder");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void Unsupported_nodes_are_all_listed_in_one_error()
    {
        var b = new OnnxModelBuilder(opset: 13);
        string x = b.Input("x", 1, 3, 8, 8);
        string y = b.Op("LpNormalization", [x]);
        y = b.Op("Resize", [y, "", b.Float("s", [1f, 1f, 2f, 2f], 4)], Attr("mode", "linear"), Attr("antialias", 1L));
        var custom = b.Node("MyOp", [y], ["z"]);
        custom.Domain = "com.example";
        y = b.Op("TopK", ["z", b.Int64("k", 1)]);
        b.Output(y);
        var e = Assert.Throws<UnsupportedModelException>(() => OnnxModel.Load(b.ToBytes()));
        Assert.That(e!.Problems, Has.Count.EqualTo(4), e.Message); // LpNormalization, Resize (mode), MyOp (domain), TopK
        Assert.That(e.Message, Does.Contain("LpNormalization 'LpNormalization_1' (opset 13)").And.Contain("com.example").And.Contain("TopK").And.Contain("antialias"));
    }

    [Test]
    public void Unsupported_attributes_are_listed_with_the_attribute()
    {
        var b = new OnnxModelBuilder(opset: 13);
        string x = b.Input("x", 1, 3, 8, 8);
        string y = b.Op("Resize", [x, "", b.Float("s", [1f, 1f, 2f, 2f], 4)], Attr("mode", "lanczos"));
        y = b.Op("Conv", [y, b.Float("w", new float[27], 1, 3, 3, 3)], Attr("auto_pad", "WEIRD"));
        b.Output(y);
        var e = Assert.Throws<UnsupportedModelException>(() => OnnxModel.Load(b.ToBytes()));
        Assert.That(e!.Message, Does.Contain("mode").And.Contain("lanczos"));
    }

    [TestCase(6)]
    [TestCase(22)]
    public void Opsets_outside_7_to_21_are_unsupported(int opset)
    {
        var b = new OnnxModelBuilder(opset: opset);
        b.Output(b.Relu(b.Input("x", 1, 4)));
        var e = Assert.Throws<UnsupportedModelException>(() => OnnxModel.Load(b.ToBytes()));
        Assert.That(e!.Message, Does.Contain($"opset {opset}"));
    }

    [Test]
    public void Old_forms_are_rewritten_into_the_latest()
    {
        Graph g = OnnxModel.Load(OnnxTestNets.OldOpsets().Model);
        var clip = g.Nodes.Single(n => n.OpType == "Clip");
        Assert.That(clip.Attributes, Does.Not.ContainKey("min"));
        Assert.That(g.Constants[clip.Inputs[1]].Floats, Is.EqualTo(new[] { 0f }));
        Assert.That(g.Constants[clip.Inputs[2]].Floats, Is.EqualTo(new[] { 6f }));
        var resize = g.Nodes.Single(n => n.OpType == "Resize");
        Assert.That(resize.Inputs, Has.Length.EqualTo(3));
        Assert.That(resize.GetString("coordinate_transformation_mode", ""), Is.EqualTo("asymmetric"));
        var softmax = g.Nodes.Single(n => n.OpType == "Softmax");
        Assert.That(softmax.GetInt("axis", 0), Is.EqualTo(-1));
        var pad = g.Nodes.Single(n => n.OpType == "Pad");
        Assert.That(g.Constants[pad.Inputs[1]].Int64s, Is.EqualTo(new long[] { 0, 0, 1, 1, 0, 0, 1, 1 }));
        Assert.That(g.Nodes.Select(n => n.OpType), Has.None.EqualTo("Upsample").And.None.EqualTo("Unsqueeze"));
    }

    [Test]
    public void Constant_nodes_of_every_kind_fold()
    {
        var b = new OnnxModelBuilder(opset: 13);
        string x = b.Input("x", 2, 3);
        string Const(AttributeProto a)
        {
            string name = b.Fresh("k");
            var n = b.Node("Constant", [], [name], a);
            return name;
        }
        string f = Const(Attr("value_float", 2f));
        string fs = Const(Attr("value_floats", 1f, 2f, 3f));
        string i = Const(new AttributeProto { Name = "value_int", Type = AttributeProto.Types.AttributeType.Int, I = 6 });
        string iS = Const(Attr("value_ints", 3L, 2L));
        string y = b.Op("Mul", [b.Op("Add", [x, fs]), f]);
        y = b.Op("Reshape", [y, iS]);
        string z = b.Op("Reshape", [y, b.Op("Unsqueeze", [i, b.Int64("axes", 0)])]);
        b.Output(z);
        Graph g = OnnxModel.Load(b.ToBytes());
        Assert.That(g.Nodes.Select(n => n.OpType), Is.EqualTo(new[] { "Add", "Mul", "Reshape", "Reshape" }));
        Assert.That(g.Constants[g.Nodes[3].Inputs[1]].Int64s, Is.EqualTo(new long[] { 6 }));
    }

    [Test]
    public void Shape_arithmetic_folds_through_every_evaluator_op()
    {
        // Shape → Slice → Cast(float) → Mul 2 → Cast(int64) → Concat with Range-based and ConstantOfShape-based parts → Reshape.
        var b = new OnnxModelBuilder(opset: 13);
        string x = b.Input("x", 1, 2, 3, 4);
        string shape = b.Op("Shape", [x]);
        string hw = b.Op("Slice", [shape, b.Int64("s", 2), b.Int64("e", 4), b.Int64("a", 0), b.Int64("st", 1)]); // [3,4]
        string prod = b.Op("Mul", [b.Op("Gather", [hw, b.Int64Scalar("i0", 0)]), b.Op("Gather", [hw, b.Int64Scalar("i1", 1)])]); // 12
        string asFloat = b.Op("Cast", [prod], Attr("to", (long)DataType.Float));
        string doubled = b.Op("Cast", [b.Op("Mul", [asFloat, b.Scalar("two", 2f)])], Attr("to", (long)DataType.Int64)); // 24
        string range = b.Op("Range", [b.Int64Scalar("r0", 0), b.Int64Scalar("r1", 1), b.Int64Scalar("r2", 1)]); // [0]
        string one = b.Op("Add", [range, b.Op("ConstantOfShape", [b.Int64("cs", 1)], new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = new TensorProto { DataType = (int)DataType.Int64, Dims = { 1 }, Int64Data = { 1 } } })]); // [1]
        string target = b.Op("Concat", [one, b.Op("Unsqueeze", [doubled, b.Int64("ax", 0)])], Attr("axis", 0L)); // [1,24]
        b.Output(b.Op("Reshape", [x, b.Op("Div", [b.Op("Mul", [target, b.Int64("m", 2)]), b.Int64("d", 2)])]));
        Graph g = OnnxModel.Load(b.ToBytes());
        Assert.That(g.Nodes.Select(n => n.OpType), Is.EqualTo(new[] { "Reshape" }));
        Assert.That(g.Constants[g.Nodes[0].Inputs[1]].Int64s, Is.EqualTo(new long[] { 1, 24 }));
    }

    [Test]
    public void Softmax_before_opset_13_keeps_its_2d_meaning()
    {
        var b = new OnnxModelBuilder(opset: 11);
        string x = b.Input("x", 2, 3, 4);
        b.Output(b.Op("Softmax", [x], Attr("axis", 1L)));
        Graph g = OnnxModel.Load(b.ToBytes());
        Assert.That(g.Nodes.Select(n => n.OpType), Is.EqualTo(new[] { "Reshape", "Softmax", "Reshape" }));
        Assert.That(g.Constants[g.Nodes[0].Inputs[1]].Int64s, Is.EqualTo(new long[] { 2, 12 }));
        Assert.That(g.Constants[g.Nodes[2].Inputs[1]].Int64s, Is.EqualTo(new long[] { 2, 3, 4 }));
    }

    [Test]
    public void Dead_nodes_and_unused_initializers_are_dropped()
    {
        var b = new OnnxModelBuilder();
        string x = b.Input("x", 1, 4);
        b.Float("unused", [1f], 1);
        b.Relu(b.Op("Sigmoid", [x]));
        b.Output(b.Op("Tanh", [x]));
        Graph g = OnnxModel.Load(b.ToBytes());
        Assert.That(g.Nodes.Select(n => n.OpType), Is.EqualTo(new[] { "Tanh" }));
        Assert.That(g.Constants, Is.Empty);
    }
}
