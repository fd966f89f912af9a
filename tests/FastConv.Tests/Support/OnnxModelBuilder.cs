using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FastConv.Tests.Support;

/// <summary>
/// Builds multi-node ONNX models in memory (whole networks for the import tests and benchmarks) and runs them on
/// ONNX Runtime. Layer helpers (<see cref="Conv"/>, <see cref="BatchNorm"/>, …) create seeded He-uniform weights
/// as initializers (raw_data or typed fields, or as <c>Constant</c> nodes, as exporters do) and return the output
/// value's name, so a network reads like its definition.
/// </summary>
internal sealed class OnnxModelBuilder
{
    private readonly GraphProto _graph = new() { Name = "net" };
    private readonly Random _rng;
    private int _counter;

    public OnnxModelBuilder(int seed = 1, int opset = 17)
    {
        _rng = new Random(seed);
        Opset = opset;
    }

    public int Opset { get; set; }

    /// <summary>Weights as <c>Constant</c> nodes instead of initializers (PyTorch's exporter without weight folding).</summary>
    public bool WeightsAsConstantNodes { get; set; }

    /// <summary>Initializers written with raw_data (the exporters' default) rather than float_data.</summary>
    public bool RawData { get; set; } = true;

    public GraphProto Graph => _graph;

    public string Fresh(string hint) => $"{hint}_{_counter++}";

    /// <summary>A float graph input; a dimension ≤ 0 is written as the symbolic <c>dim_param</c> "N", "H", ….</summary>
    public string Input(string name, params long[] dims)
    {
        var shape = new TensorShapeProto();
        string[] symbols = ["N", "C", "H", "W", "D4", "D5"];
        for (int i = 0; i < dims.Length; i++)
        {
            shape.Dim.Add(dims[i] > 0 ? new TensorShapeProto.Types.Dimension { DimValue = dims[i] } : new TensorShapeProto.Types.Dimension { DimParam = symbols[Math.Min(i, 5)] });
        }
        _graph.Input.Add(new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DataType.Float, Shape = shape } },
        });
        return name;
    }

    public void Output(string name) => _graph.Output.Add(new ValueInfoProto
    {
        Name = name,
        Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DataType.Float } },
    });

    public NodeProto Node(string opType, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var n = new NodeProto { OpType = opType, Name = Fresh(opType) };
        n.Input.AddRange(inputs);
        n.Output.AddRange(outputs);
        n.Attribute.AddRange(attributes);
        _graph.Node.Add(n);
        return n;
    }

    /// <summary>A one-output node; returns the output name.</summary>
    public string Op(string opType, string[] inputs, params AttributeProto[] attributes)
    {
        string y = Fresh(opType.ToLowerInvariant());
        Node(opType, inputs, [y], attributes);
        return y;
    }

    public string Float(string hint, float[] values, params long[] dims)
    {
        string name = Fresh(hint);
        var t = new TensorProto { Name = name, DataType = (int)DataType.Float };
        t.Dims.AddRange(dims);
        if (RawData)
        {
            var bytes = new byte[values.Length * 4];
            Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
            t.RawData = ByteString.CopyFrom(bytes);
        }
        else
        {
            t.FloatData.AddRange(values);
        }
        AddTensor(t);
        return name;
    }

    public string Int64(string hint, params long[] values)
    {
        string name = Fresh(hint);
        var t = new TensorProto { Name = name, DataType = (int)DataType.Int64 };
        t.Dims.Add(values.Length);
        t.Int64Data.AddRange(values);
        AddTensor(t);
        return name;
    }

    public string Scalar(string hint, float value)
    {
        string name = Fresh(hint);
        var t = new TensorProto { Name = name, DataType = (int)DataType.Float };
        t.FloatData.Add(value);
        AddTensor(t);
        return name;
    }

    private void AddTensor(TensorProto t)
    {
        if (WeightsAsConstantNodes)
        {
            var n = new NodeProto { OpType = "Constant", Name = Fresh("Constant") };
            n.Output.Add(t.Name);
            t.Name = "";
            n.Attribute.Add(new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = t });
            _graph.Node.Add(n);
        }
        else
        {
            _graph.Initializer.Add(t);
        }
    }

    /// <summary>He-uniform values: U(−√(6/fanIn), √(6/fanIn)), seeded.</summary>
    public float[] HeUniform(int count, int fanIn)
    {
        float limit = MathF.Sqrt(6f / fanIn);
        var v = new float[count];
        for (int i = 0; i < count; i++) v[i] = (float)(_rng.NextDouble() * 2 - 1) * limit;
        return v;
    }

    public float[] Uniform(int count, float lo, float hi)
    {
        var v = new float[count];
        for (int i = 0; i < count; i++) v[i] = lo + (float)_rng.NextDouble() * (hi - lo);
        return v;
    }

    public static AttributeProto Attr(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };
    public static AttributeProto Attr(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };
    public static AttributeProto Attr(string name, string value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    public static AttributeProto Attr(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static AttributeProto Attr(string name, params float[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Floats };
        a.Floats.AddRange(values);
        return a;
    }

    // ---- layers -------------------------------------------------------------------------------------------

    /// <summary>Conv with He-uniform weights K×(C/group)×R×S and a small bias; pads (top, left, bottom, right).</summary>
    public string Conv(string x, int c, int k, int r, int s, int strideH = 1, int strideW = 1, int padH = -1, int padW = -1, int group = 1, bool bias = true, int dilation = 1)
    {
        if (padH < 0) padH = dilation * (r - 1) / 2;
        if (padW < 0) padW = dilation * (s - 1) / 2;
        int fanIn = c / group * r * s;
        string w = Float("w", HeUniform(k * (c / group) * r * s, fanIn), k, c / group, r, s);
        var inputs = new List<string> { x, w };
        if (bias) inputs.Add(Float("b", Uniform(k, -0.1f, 0.1f), k));
        return Op("Conv", [.. inputs], Attr("kernel_shape", r, s), Attr("strides", strideH, strideW), Attr("pads", padH, padW, padH, padW),
            Attr("group", group), Attr("dilations", dilation, dilation));
    }

    /// <summary>BatchNormalization with γ∈[0.5,1.5], β∈[−0.2,0.2], mean∈[−0.2,0.2], var∈[0.5,1.5].</summary>
    public string BatchNorm(string x, int c) => Op("BatchNormalization",
        [x, Float("gamma", Uniform(c, 0.5f, 1.5f), c), Float("beta", Uniform(c, -0.2f, 0.2f), c), Float("mean", Uniform(c, -0.2f, 0.2f), c), Float("var", Uniform(c, 0.5f, 1.5f), c)],
        Attr("epsilon", 1e-5f));

    public string Relu(string x) => Op("Relu", [x]);

    public string MaxPool(string x, int k, int stride, int pad = 0) => Op("MaxPool", [x], Attr("kernel_shape", k, k), Attr("strides", stride, stride), Attr("pads", pad, pad, pad, pad));

    public string AvgPool(string x, int k, int stride) => Op("AveragePool", [x], Attr("kernel_shape", k, k), Attr("strides", stride, stride));

    /// <summary>Gemm with B stored K×N transposed (transB = 1), as PyTorch's Linear exports.</summary>
    public string Linear(string x, int inFeatures, int outFeatures) => Op("Gemm",
        [x, Float("fc_w", HeUniform(outFeatures * inFeatures, inFeatures), outFeatures, inFeatures), Float("fc_b", Uniform(outFeatures, -0.1f, 0.1f), outFeatures)],
        Attr("transB", 1L));

    public string Flatten(string x) => Op("Flatten", [x], Attr("axis", 1L));

    /// <summary>PyTorch's <c>x.view(x.size(0), -1)</c>: Shape → Gather(0) → Unsqueeze → Concat(−1) → Reshape.</summary>
    public string TorchFlatten(string x)
    {
        string shape = Op("Shape", [x]);
        string n = Op("Gather", [shape, Int64Scalar("zero", 0)], Attr("axis", 0L));
        string n1 = Opset >= 13 ? Op("Unsqueeze", [n, Int64("axes", 0)]) : Op("Unsqueeze", [n], Attr("axes", [0L]));
        string shape2 = Op("Concat", [n1, Int64("minus1", -1)], Attr("axis", 0L));
        return Op("Reshape", [x, shape2]);
    }

    public string Int64Scalar(string hint, long value)
    {
        string name = Fresh(hint);
        var t = new TensorProto { Name = name, DataType = (int)DataType.Int64 };
        t.Int64Data.Add(value);
        AddTensor(t);
        return name;
    }

    /// <summary>Clip to [lo, hi]: attributes before opset 11, scalar inputs after.</summary>
    public string Clip(string x, float lo, float hi) => Opset < 11
        ? Op("Clip", [x], Attr("min", lo), Attr("max", hi))
        : Op("Clip", [x, Scalar("clip_min", lo), Scalar("clip_max", hi)]);

    /// <summary>How <see cref="HardSwish"/> is written, as different exporters write it.</summary>
    public HardSwishSpelling HardSwishAs { get; set; } = HardSwishSpelling.Auto;

    /// <summary>
    /// HardSwish: the op from opset 14 (Auto), else x·HardSigmoid(x); or spelled out as PyTorch's exporter does before
    /// opset 14 (<c>x · Clip(x + 3, 0, 6) / 6</c>: Add, Clip with scalar inputs, Mul, Div) or as Paddle2ONNX does
    /// (<c>x · Clip(x + 3, 0, 6) · (1/6)</c> with shape-[1] constants: Add, Clip, Mul, Mul).
    /// </summary>
    public string HardSwish(string x)
    {
        switch (HardSwishAs)
        {
            case HardSwishSpelling.Torch:
                return Op("Div", [Op("Mul", [x, Clip(Op("Add", [x, Scalar("three", 3f)]), 0f, 6f)]), Scalar("six", 6f)]);
            case HardSwishSpelling.Paddle:
                string relu6 = Clip(Op("Add", [x, Float("three", [3f], 1)]), 0f, 6f);
                return Op("Mul", [Op("Mul", [x, relu6]), Float("sixth", [1f / 6], 1)]);
            default:
                return Opset >= 14
                    ? Op("HardSwish", [x])
                    : Op("Mul", [x, Op("HardSigmoid", [x], Attr("alpha", 1f / 6), Attr("beta", 0.5f))]);
        }
    }

    public string Softmax(string x) => Op("Softmax", [x], Attr("axis", Opset < 13 ? 1L : -1L));

    public byte[] ToBytes(long irVersion = 8)
    {
        var model = new ModelProto { IrVersion = irVersion, ProducerName = "FastConv.Tests", Graph = _graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        return model.ToByteArray();
    }

    /// <summary>Runs a serialized model on ONNX Runtime (CPU, optimizations off unless <paramref name="optimize"/>).</summary>
    public static Dictionary<string, Tensor> RunOrt(byte[] model, IReadOnlyDictionary<string, Tensor> feeds, bool optimize = false, int threads = 1)
    {
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = optimize ? GraphOptimizationLevel.ORT_ENABLE_ALL : GraphOptimizationLevel.ORT_DISABLE_ALL,
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        using var session = new InferenceSession(model, options);
        var values = new List<OrtValue>();
        try
        {
            foreach (var (_, value) in feeds)
            {
                values.Add(OrtValue.CreateTensorValueFromMemory(value.ToArray(), [.. value.Shape.Dims.ToArray().Select(d => (long)d)]));
            }
            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, [.. feeds.Keys], values, session.OutputNames);
            var result = new Dictionary<string, Tensor>();
            for (int i = 0; i < outputs.Count; i++)
            {
                var info = outputs[i].GetTensorTypeAndShape();
                result[session.OutputNames[i]] = Tensor.FromArray(outputs[i].GetTensorDataAsSpan<float>().ToArray(), [.. info.Shape.Select(d => checked((int)d))]);
            }
            return result;
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }
}

/// <summary>How exporters write HardSwish (see <see cref="OnnxModelBuilder.HardSwish"/>).</summary>
internal enum HardSwishSpelling
{
    /// <summary>The HardSwish op from opset 14, x·HardSigmoid(x) before.</summary>
    Auto,
    /// <summary>PyTorch before opset 14: x·Clip(x + 3, 0, 6)/6.</summary>
    Torch,
    /// <summary>Paddle2ONNX: x·Clip(x + 3, 0, 6)·(1/6) with shape-[1] constants.</summary>
    Paddle,
}
