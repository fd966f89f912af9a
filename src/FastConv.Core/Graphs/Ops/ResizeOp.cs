using FastConv.Backends;
using FastConv.Compilation;
using FastConv.Ops;

namespace FastConv.Graphs.Ops;

/// <summary>A backend that runs Resize of N×C×H×W tensors.</summary>
public interface IResizePlanner
{
    IUnaryPlan PlanResize(TensorShape x, ResizeParams p);
}

/// <summary>ONNX <c>Resize</c> (and <c>Upsample</c>, rewritten into it at import): nearest, linear and cubic on H and W.</summary>
internal sealed class ResizeOp() : OpDefinition<IResizePlanner>("Resize")
{
    public override bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        string mode = node.GetString("mode", "nearest");
        string ct = node.GetString("coordinate_transformation_mode", "half_pixel");
        string nm = node.GetString("nearest_mode", "round_prefer_floor");
        problem = mode is not ("nearest" or "linear" or "bilinear" or "cubic") ? $"attribute 'mode' = \"{mode}\" is not supported (nearest, linear, cubic)"
            : ct is not ("half_pixel" or "pytorch_half_pixel" or "align_corners" or "asymmetric" or "tf_half_pixel_for_nn") ? $"attribute 'coordinate_transformation_mode' = \"{ct}\" is not supported"
            : nm is not ("round_prefer_floor" or "round_prefer_ceil" or "floor" or "ceil") ? $"attribute 'nearest_mode' = \"{nm}\" is not supported"
            : node.GetInt("antialias", 0) != 0 ? "attribute 'antialias' = 1 is not supported"
            : node.GetInts("axes") is { Length: > 0 } ? "attribute 'axes' is not supported"
            : node.GetString("keep_aspect_ratio_policy", "stretch") != "stretch" ? "attribute 'keep_aspect_ratio_policy' is not supported (stretch only)"
            : AttributeReader.FirstNonConstant(node, constantOf, 1, 3) is int i and > 0 ? $"input {i} must be a constant"
            : null;
        return problem is null;
    }

    /// <summary>Resize's parameters from attributes and the constant scales or sizes (opset 10: (X, scales); 11+: (X, roi, scales, sizes)).</summary>
    public static ResizeParams Params(OpContext context)
    {
        Node node = context.Node;
        TensorShape x = context.Shape(0, "X");
        bool v10 = node.Opset is > 0 and < 11;
        GraphConstant? scales = context.Constant(v10 ? 1 : 2), sizes = v10 ? null : context.Constant(3);
        string mode = node.GetString("mode", "nearest");
        var p = new ResizeParams
        {
            Mode = mode switch
            {
                "nearest" => ResizeMode.Nearest,
                "linear" or "bilinear" => ResizeMode.Linear,
                "cubic" => ResizeMode.Cubic,
                _ => throw new UnsupportedModelException([$"{node.Describe()} (opset {node.Opset}): attribute 'mode' = \"{mode}\" is not supported (nearest, linear, cubic)."]),
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
            CubicCoeffA = node.GetFloat("cubic_coeff_a", -0.75f),
            ExcludeOutside = node.GetInt("exclude_outside", 0) != 0,
        };
        if (sizes is not null && sizes.Shape.ElementCount > 0)
        {
            long[] v = sizes.Int64s;
            if (v.Length != x.Rank)
            {
                throw new InvalidModelException($"{node.Describe()}: sizes [{string.Join(",", v)}] must have one value per axis of input {x}.");
            }
            return p with { Sizes = [.. v.Select(d => AttributeReader.Checked(node, "sizes", d))] };
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

    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape x = context.Shape(0, "X");
        x.RequireRank(4, "input X", "Resize");
        ResizeParams p = Params(context);
        if (p.Sizes is { } sizes)
        {
            if (sizes[0] != x[0] || sizes[1] != x[1])
            {
                throw new InvalidHyperparameterException($"only H and W are resized; sizes [{string.Join(",", sizes)}] change N or C of input {x}.");
            }
            return [TensorShape.Of(sizes[0], sizes[1], sizes[2], sizes[3])];
        }
        IReadOnlyList<float> s = p.Scales!;
        if (s[0] != 1f || s[1] != 1f || !(s[2] > 0f) || !(s[3] > 0f) || !float.IsFinite(s[2]) || !float.IsFinite(s[3]) || s[2] * x[2] >= int.MaxValue || s[3] * x[3] >= int.MaxValue)
        {
            throw new InvalidHyperparameterException($"scales [{string.Join(",", s)}] must be 1 on N and C and positive, finite and not too large on H and W; input {x}.");
        }
        return [TensorShape.Of(x[0], x[1], OutputSize.Resize(x[2], s[2]), OutputSize.Resize(x[3], s[3]))];
    }

    public override long Flops(OpContext context, TensorShape[] outputs) => Flop.Count(outputs[0]);

    protected override Step Plan(IResizePlanner planner, KernelBinding binding) =>
        binding.Unary(planner.PlanResize(binding.InputShape(0, "X"), Params(binding.Context)));
}
