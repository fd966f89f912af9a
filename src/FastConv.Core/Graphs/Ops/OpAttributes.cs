using FastConv.Backends;
using FastConv.Ops;

namespace FastConv.Graphs.Ops;

/// <summary>
/// ONNX attributes (and constant inputs that older or newer opsets moved between attributes and inputs) read
/// into FastConv's hyperparameter records. One place, so shape inference, the optimizer and the planner read a
/// node the same way. Errors name the node.
/// </summary>
public static class OpAttributes
{
    /// <summary>Name of FastConv's fused convolution: Conv + folded epilogue (+ residual input 3) + activation.</summary>
    public const string FusedConv = "FastConv.FusedConv";

    /// <summary>Conv's hyperparameters for input <paramref name="x"/> and weights <paramref name="w"/> (K×C/g×R×S), auto_pad resolved.</summary>
    public static Conv2dParams Conv(Node node, TensorShape x, TensorShape w)
    {
        Require4(node, x, "input X");
        Require4(node, w, "weight W");
        int r = w[2], s = w[3];
        CheckKernelShape(node, r, s);
        (int sh, int sw) = Pair(node, "strides", 1);
        (int dh, int dw) = Pair(node, "dilations", 1);
        Padding2d pad = Pads(node, x[2], x[3], r, s, sh, sw, dh, dw);
        return new Conv2dParams { StrideH = sh, StrideW = sw, DilationH = dh, DilationW = dw, Padding = pad, Groups = Int(node, "group", 1) };
    }

    /// <summary>ConvTranspose's hyperparameters (weights C×K/g×R×S); output_shape is not handled (see IsSupported).</summary>
    public static ConvTranspose2dParams ConvTranspose(Node node, TensorShape x, TensorShape w)
    {
        Require4(node, x, "input X");
        Require4(node, w, "weight W");
        int r = w[2], s = w[3];
        CheckKernelShape(node, r, s);
        (int sh, int sw) = Pair(node, "strides", 1);
        (int dh, int dw) = Pair(node, "dilations", 1);
        (int oph, int opw) = Pair(node, "output_padding", 0);
        string autoPad = node.GetString("auto_pad", "NOTSET");
        Padding2d pad;
        if (autoPad is "SAME_UPPER" or "SAME_LOWER")
        {
            // ONNX: output = input·stride; total padding = stride·(in−1) + output_padding + (R−1)·dil + 1 − out.
            int th = Math.Max(0, sh * (x[2] - 1) + oph + (r - 1) * dh + 1 - x[2] * sh);
            int tw = Math.Max(0, sw * (x[3] - 1) + opw + (s - 1) * dw + 1 - x[3] * sw);
            pad = autoPad == "SAME_UPPER"
                ? new Padding2d(th / 2, tw / 2, th - th / 2, tw - tw / 2)
                : new Padding2d(th - th / 2, tw - tw / 2, th / 2, tw / 2);
        }
        else
        {
            pad = ExplicitPads(node);
        }
        return new ConvTranspose2dParams
        {
            StrideH = sh, StrideW = sw, DilationH = dh, DilationW = dw, Padding = pad, Groups = Int(node, "group", 1),
            OutputPaddingH = oph, OutputPaddingW = opw,
        };
    }

    /// <summary>MaxPool / AveragePool hyperparameters; kernel_shape is required.</summary>
    public static Pool2dParams Pool(Node node, TensorShape x)
    {
        Require4(node, x, "input X");
        long[] kernel = node.GetInts("kernel_shape")
            ?? throw new InvalidModelException($"{node.Describe()}: attribute 'kernel_shape' is required.");
        if (kernel.Length != 2)
        {
            throw new InvalidModelException($"{node.Describe()}: kernel_shape [{string.Join(",", kernel)}] must have 2 values (2-D pooling).");
        }
        int r = Checked(node, "kernel_shape", kernel[0]), s = Checked(node, "kernel_shape", kernel[1]);
        (int sh, int sw) = Pair(node, "strides", 1);
        (int dh, int dw) = Pair(node, "dilations", 1);
        return new Pool2dParams
        {
            KernelH = r, KernelW = s, StrideH = sh, StrideW = sw, DilationH = dh, DilationW = dw,
            Padding = Pads(node, x[2], x[3], r, s, sh, sw, dh, dw),
            CeilMode = Int(node, "ceil_mode", 0) != 0,
            CountIncludePad = Int(node, "count_include_pad", 0) != 0,
        };
    }

    public static GemmParams Gemm(Node node) => new()
    {
        TransA = Int(node, "transA", 0) != 0,
        TransB = Int(node, "transB", 0) != 0,
        Alpha = node.GetFloat("alpha", 1f),
        Beta = node.GetFloat("beta", 1f),
    };

    /// <summary>Softmax's axis: default 1 before opset 13 (with its flatten-to-2-D meaning), −1 from 13 on.</summary>
    public static int SoftmaxAxis(Node node) => Int(node, "axis", node.Opset is > 0 and < 13 ? 1 : -1);

    /// <summary>Clip's bounds: attributes min/max before opset 11, optional constant inputs 1 and 2 after.</summary>
    public static ClipParams Clip(Node node, GraphConstant? min, GraphConstant? max)
    {
        var p = new ClipParams();
        if (node.Opset is > 0 and < 11)
        {
            return p with { Min = node.GetFloat("min", p.Min), Max = node.GetFloat("max", p.Max) };
        }
        return p with { Min = Scalar(node, min, "min") ?? p.Min, Max = Scalar(node, max, "max") ?? p.Max };
    }

    /// <summary>Pad's parameters: attributes before opset 11, constant inputs (pads, constant_value, axes) after.</summary>
    public static PadParams Pad(Node node, TensorShape x, GraphConstant? pads, GraphConstant? value, GraphConstant? axes)
    {
        string modeName = node.GetString("mode", "constant");
        PadMode mode = modeName switch
        {
            "constant" => PadMode.Constant,
            "reflect" => PadMode.Reflect,
            "edge" => PadMode.Edge,
            _ => throw new UnsupportedModelException([$"{node.Describe()} (opset {node.Opset}): attribute 'mode' = \"{modeName}\" is not supported (constant, reflect, edge)."]),
        };
        long[] raw;
        float fill;
        if (node.Opset is > 0 and < 11)
        {
            raw = node.GetInts("pads") ?? throw new InvalidModelException($"{node.Describe()}: attribute 'pads' is required before opset 11.");
            fill = node.GetFloat("value", 0f);
        }
        else
        {
            raw = pads?.Int64s ?? throw new InvalidModelException($"{node.Describe()}: input 1 (pads) is required and must be a constant.");
            fill = Scalar(node, value, "constant_value") ?? 0f;
        }
        int rank = x.Rank;
        long[] full;
        if (axes is not null)
        {
            long[] ax = axes.Int64s;
            if (raw.Length != 2 * ax.Length)
            {
                throw new InvalidModelException($"{node.Describe()}: {raw.Length} pads for {ax.Length} axes; need 2 per axis.");
            }
            full = new long[2 * rank];
            for (int i = 0; i < ax.Length; i++)
            {
                int a = (int)(ax[i] < 0 ? ax[i] + rank : ax[i]);
                if (a < 0 || a >= rank)
                {
                    throw new InvalidModelException($"{node.Describe()}: axis {ax[i]} is outside the rank {rank} of input {x}.");
                }
                full[a] = raw[i];
                full[rank + a] = raw[ax.Length + i];
            }
        }
        else
        {
            full = raw;
        }
        if (full.Length != 2 * rank)
        {
            throw new InvalidModelException($"{node.Describe()}: {full.Length} pads for input {x} of rank {rank}; need {2 * rank}.");
        }
        return PadParams.Create(mode, [.. full.Select(v => Checked(node, "pads", v, allowNegative: true))], fill);
    }

    /// <summary>Resize's parameters from attributes and the constant scales or sizes input.</summary>
    public static ResizeParams Resize(Node node, TensorShape x, GraphConstant? scales, GraphConstant? sizes)
    {
        string mode = node.GetString("mode", "nearest");
        var p = new ResizeParams
        {
            Mode = mode switch
            {
                "nearest" => ResizeMode.Nearest,
                "linear" or "bilinear" => ResizeMode.Linear,
                _ => throw new UnsupportedModelException([$"{node.Describe()} (opset {node.Opset}): attribute 'mode' = \"{mode}\" is not supported (nearest, linear)."]),
            },
            CoordinateTransform = node.GetString("coordinate_transformation_mode", node.Opset is > 0 and < 11 ? "asymmetric" : "half_pixel") switch
            {
                "half_pixel" => ResizeCoordinateTransform.HalfPixel,
                "pytorch_half_pixel" => ResizeCoordinateTransform.PytorchHalfPixel,
                "align_corners" => ResizeCoordinateTransform.AlignCorners,
                "asymmetric" => ResizeCoordinateTransform.Asymmetric,
                "tf_half_pixel_for_nn" => ResizeCoordinateTransform.TfHalfPixelForNearest,
                string t => throw new UnsupportedModelException([$"{node.Describe()} (opset {node.Opset}): attribute 'coordinate_transformation_mode' = \"{t}\" is not supported."]),
            },
            NearestMode = node.GetString("nearest_mode", "round_prefer_floor") switch
            {
                "round_prefer_floor" => ResizeNearestMode.RoundPreferFloor,
                "round_prefer_ceil" => ResizeNearestMode.RoundPreferCeil,
                "floor" => ResizeNearestMode.Floor,
                "ceil" => ResizeNearestMode.Ceil,
                string t => throw new UnsupportedModelException([$"{node.Describe()} (opset {node.Opset}): attribute 'nearest_mode' = \"{t}\" is not supported."]),
            },
        };
        if (sizes is not null && sizes.Shape.ElementCount > 0)
        {
            long[] v = sizes.Int64s;
            if (v.Length != x.Rank)
            {
                throw new InvalidModelException($"{node.Describe()}: sizes [{string.Join(",", v)}] must have one value per axis of input {x}.");
            }
            return p with { Sizes = [.. v.Select(d => Checked(node, "sizes", d))] };
        }
        if (scales is not null && scales.Shape.ElementCount > 0)
        {
            float[] v = scales.Floats;
            if (v.Length != x.Rank)
            {
                throw new InvalidModelException($"{node.Describe()}: scales [{string.Join(",", v)}] must have one value per axis of input {x}.");
            }
            return p with { Scales = v };
        }
        float[]? attr = node.GetFloats("scales");
        if (attr is not null)
        {
            return p with { Scales = attr };
        }
        throw new InvalidModelException($"{node.Describe()}: needs constant scales or sizes.");
    }

    /// <summary>ReduceMean's axes (attribute before opset 18, constant input 1 after), normalized and sorted; empty = all.</summary>
    public static int[] ReduceAxes(Node node, TensorShape x, GraphConstant? axesInput)
    {
        long[]? axes = node.Opset is > 0 and < 18 ? node.GetInts("axes") : axesInput?.Int64s ?? node.GetInts("axes");
        if (axes is null || axes.Length == 0)
        {
            if (Int(node, "noop_with_empty_axes", 0) != 0)
            {
                return [];
            }
            return [.. Enumerable.Range(0, x.Rank)];
        }
        var result = new SortedSet<int>();
        foreach (long a in axes)
        {
            long n = a < 0 ? a + x.Rank : a;
            if (n < 0 || n >= x.Rank || !result.Add((int)n))
            {
                throw new InvalidHyperparameterException($"{node.Describe()}: axes [{string.Join(",", axes)}] must be distinct and within the rank of input {x}.");
            }
        }
        return [.. result];
    }

    /// <summary>The activation a node applies when it is one of the element-wise activations a conv epilogue can take; null otherwise.</summary>
    public static Activation? AsActivation(Node node, GraphConstant? min = null, GraphConstant? max = null)
    {
        switch (node.OpType)
        {
            case "Relu": return Activation.Relu;
            case "LeakyRelu": return Activation.LeakyRelu(node.GetFloat("alpha", 0.01f));
            case "Sigmoid": return Activation.Sigmoid;
            case "Tanh": return Activation.Tanh;
            case "HardSigmoid": return Activation.HardSigmoid(node.GetFloat("alpha", 0.2f), node.GetFloat("beta", 0.5f));
            case "HardSwish": return Activation.HardSwish;
            case "Clip":
                ClipParams c = Clip(node, min, max);
                return Activation.Clip(c.Min, c.Max);
            default: return null;
        }
    }

    /// <summary>The activation of a <see cref="FusedConv"/> node (attributes activation, activation_alpha, activation_beta).</summary>
    public static Activation FusedActivation(Node node)
    {
        string name = node.GetString("activation", "None");
        if (!Enum.TryParse(name, out ActivationKind kind) || !Enum.IsDefined(kind))
        {
            throw new InvalidModelException($"{node.Describe()}: unknown fused activation '{name}'.");
        }
        return new Activation(kind, node.GetFloat("activation_alpha", 0f), node.GetFloat("activation_beta", 0f));
    }

    /// <summary>Attributes that describe <paramref name="activation"/> on a fused node.</summary>
    public static IEnumerable<KeyValuePair<string, AttributeValue>> ActivationAttributes(Activation activation) =>
    [
        new("activation", AttributeValue.Of(activation.Kind.ToString())),
        new("activation_alpha", AttributeValue.Of(activation.Alpha)),
        new("activation_beta", AttributeValue.Of(activation.Beta)),
    ];

    internal static int Int(Node node, string name, int fallback)
    {
        long v = node.GetInt(name, fallback);
        return v is < int.MinValue or > int.MaxValue
            ? throw new InvalidModelException($"{node.Describe()}: attribute '{name}' = {v} is out of range.")
            : (int)v;
    }

    private static float? Scalar(Node node, GraphConstant? c, string what)
    {
        if (c is null)
        {
            return null;
        }
        if (c.Shape.ElementCount != 1)
        {
            throw new InvalidModelException($"{node.Describe()}: {what} must be a scalar, got shape {c.Shape}.");
        }
        return c.Floats[0];
    }

    private static void Require4(Node node, TensorShape s, string what)
    {
        if (s.Rank != 4)
        {
            throw new InvalidShapeException($"{node.Describe()}: {what} must be rank 4 (NCHW, 2-D op), got shape {s}.");
        }
    }

    private static void CheckKernelShape(Node node, int r, int s)
    {
        long[]? k = node.GetInts("kernel_shape");
        if (k is not null && (k.Length != 2 || k[0] != r || k[1] != s))
        {
            throw new InvalidShapeException($"{node.Describe()}: kernel_shape [{string.Join(",", k)}] does not match the weights' R×S = {r}×{s}.");
        }
    }

    private static (int, int) Pair(Node node, string name, int fallback)
    {
        long[]? v = node.GetInts(name);
        if (v is null || v.Length == 0)
        {
            return (fallback, fallback);
        }
        if (v.Length != 2)
        {
            throw new InvalidModelException($"{node.Describe()}: attribute '{name}' [{string.Join(",", v)}] must have 2 values (2-D op).");
        }
        return (Checked(node, name, v[0], allowNegative: true), Checked(node, name, v[1], allowNegative: true));
    }

    private static Padding2d ExplicitPads(Node node)
    {
        long[]? pads = node.GetInts("pads");
        if (pads is null || pads.Length == 0)
        {
            return default;
        }
        if (pads.Length != 4)
        {
            throw new InvalidModelException($"{node.Describe()}: attribute 'pads' [{string.Join(",", pads)}] must have 4 values [top, left, bottom, right].");
        }
        return Padding2d.FromOnnx(pads);
    }

    private static Padding2d Pads(Node node, int h, int w, int r, int s, int sh, int sw, int dh, int dw)
    {
        string autoPad = node.GetString("auto_pad", "NOTSET");
        switch (autoPad)
        {
            case "NOTSET":
                return ExplicitPads(node);
            case "VALID":
                return default;
            case "SAME_UPPER":
            case "SAME_LOWER":
                if (sh <= 0 || sw <= 0)
                {
                    throw new InvalidHyperparameterException($"{node.Describe()}: strides ({sh},{sw}) must be >= 1.");
                }
                // Output = ceil(in / stride); total pad = (out − 1)·stride + dilated kernel − in, the odd one at the end (UPPER) or start (LOWER).
                int th = Math.Max(0, ((h + sh - 1) / sh - 1) * sh + OutputSize.Dilated(r, dh) - h);
                int tw = Math.Max(0, ((w + sw - 1) / sw - 1) * sw + OutputSize.Dilated(s, dw) - w);
                return autoPad == "SAME_UPPER"
                    ? new Padding2d(th / 2, tw / 2, th - th / 2, tw - tw / 2)
                    : new Padding2d(th - th / 2, tw - tw / 2, th / 2, tw / 2);
            default:
                throw new UnsupportedModelException([$"{node.Describe()} (opset {node.Opset}): attribute 'auto_pad' = \"{autoPad}\" is not supported."]);
        }
    }

    private static int Checked(Node node, string name, long v, bool allowNegative = false)
    {
        if (v > int.MaxValue || v < (allowNegative ? int.MinValue : 0))
        {
            throw new InvalidModelException($"{node.Describe()}: attribute '{name}' holds {v}, out of range.");
        }
        return (int)v;
    }
}
