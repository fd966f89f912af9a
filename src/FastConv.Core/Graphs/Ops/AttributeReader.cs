using FastConv.Ops;

namespace FastConv.Graphs.Ops;

/// <summary>
/// The attribute-reading pieces several op definitions share (2-D pairs, pads with auto_pad, range checks, scalar
/// constant inputs). Each op's own parsing lives in its definition; errors here name the node.
/// </summary>
internal static class AttributeReader
{
    /// <summary>An int attribute that must fit in 32 bits.</summary>
    public static int Int(Node node, string name, int fallback)
    {
        long v = node.GetInt(name, fallback);
        return v is < int.MinValue or > int.MaxValue
            ? throw new InvalidModelException($"{node.Describe()}: attribute '{name}' = {v} is out of range.")
            : (int)v;
    }

    /// <summary>The single value of a scalar constant input, or null when the input is absent.</summary>
    public static float? Scalar(Node node, GraphConstant? c, string what)
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

    public static void Require4(Node node, TensorShape s, string what)
    {
        if (s.Rank != 4)
        {
            throw new InvalidShapeException($"{node.Describe()}: {what} must be rank 4 (NCHW, 2-D op), got shape {s}.");
        }
    }

    /// <summary>kernel_shape, when given, must match the weights' R×S.</summary>
    public static void CheckKernelShape(Node node, int r, int s)
    {
        long[]? k = node.GetInts("kernel_shape");
        if (k is not null && (k.Length != 2 || k[0] != r || k[1] != s))
        {
            throw new InvalidShapeException($"{node.Describe()}: kernel_shape [{string.Join(",", k)}] does not match the weights' R×S = {r}×{s}.");
        }
    }

    /// <summary>A two-value attribute of a 2-D op (strides, dilations, output_padding), or (fallback, fallback).</summary>
    public static (int, int) Pair(Node node, string name, int fallback)
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

    /// <summary>The explicit pads attribute [top, left, bottom, right], or none.</summary>
    public static Padding2d ExplicitPads(Node node)
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

    /// <summary>The padding of a windowed op (conv, pooling) on an H×W input, with auto_pad resolved.</summary>
    public static Padding2d Pads(Node node, int h, int w, int r, int s, int sh, int sw, int dh, int dw)
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

    public static int Checked(Node node, string name, long v, bool allowNegative = false)
    {
        if (v > int.MaxValue || v < (allowNegative ? int.MinValue : 0))
        {
            throw new InvalidModelException($"{node.Describe()}: attribute '{name}' holds {v}, out of range.");
        }
        return (int)v;
    }

    /// <summary>The index of the first of inputs <paramref name="first"/>..<paramref name="last"/> that is present but not a constant, or 0.</summary>
    public static int FirstNonConstant(Node node, Func<string, GraphConstant?> constantOf, int first, int last)
    {
        for (int i = first; i <= last; i++)
        {
            if (node.HasInput(i) && constantOf(node.Inputs[i]) is null)
            {
                return i;
            }
        }
        return 0;
    }
}
