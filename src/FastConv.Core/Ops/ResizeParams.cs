using System.Globalization;

namespace FastConv.Ops;

/// <summary>Interpolation of <c>Resize</c> (ONNX <c>mode</c> attribute).</summary>
public enum ResizeMode
{
    /// <summary>ONNX <c>nearest</c>: copy the input pixel chosen by <see cref="ResizeNearestMode"/>.</summary>
    Nearest,
    /// <summary>ONNX <c>linear</c>: bilinear over H and W.</summary>
    Linear,
    /// <summary>ONNX <c>cubic</c>: bicubic over H and W (Keys' kernel with <see cref="ResizeParams.CubicCoeffA"/>).</summary>
    Cubic,
}

/// <summary>ONNX <c>coordinate_transformation_mode</c>: how an output coordinate maps to an input coordinate.</summary>
public enum ResizeCoordinateTransform
{
    /// <summary><c>half_pixel</c>: <c>x_in = (x_out + 0.5) / scale − 0.5</c>.</summary>
    HalfPixel,
    /// <summary><c>pytorch_half_pixel</c>: <c>x_in = L_out &gt; 1 ? (x_out + 0.5) / scale − 0.5 : 0</c>.</summary>
    PytorchHalfPixel,
    /// <summary><c>align_corners</c>: <c>x_in = x_out · (L_in − 1) / (L_out − 1)</c> (0 when L_out = 1).</summary>
    AlignCorners,
    /// <summary><c>asymmetric</c>: <c>x_in = x_out / scale</c>.</summary>
    Asymmetric,
    /// <summary><c>tf_half_pixel_for_nn</c> (ONNX attribute string): <c>x_in = (x_out + 0.5) / scale</c>.</summary>
    TfHalfPixelForNearest,
}

/// <summary>ONNX <c>nearest_mode</c>: how <see cref="ResizeMode.Nearest"/> rounds the input coordinate.</summary>
public enum ResizeNearestMode
{
    /// <summary><c>round_prefer_floor</c>: round to nearest, ties down.</summary>
    RoundPreferFloor,
    /// <summary><c>round_prefer_ceil</c>: round to nearest, ties up.</summary>
    RoundPreferCeil,
    /// <summary><c>floor</c>.</summary>
    Floor,
    /// <summary><c>ceil</c>.</summary>
    Ceil,
}

/// <summary>
/// Hyperparameters of <c>Resize</c> (ONNX opset 13+) on a 4-D NCHW tensor over H and W. Exactly one of
/// <see cref="Scales"/> (4 floats, NCHW order, N and C scales 1) and <see cref="Sizes"/> (4 ints, the output
/// shape, N and C equal to the input's) is given.
/// </summary>
public sealed record ResizeParams
{
    public ResizeMode Mode { get; init; } = ResizeMode.Nearest;
    public ResizeCoordinateTransform CoordinateTransform { get; init; } = ResizeCoordinateTransform.HalfPixel;
    public ResizeNearestMode NearestMode { get; init; } = ResizeNearestMode.RoundPreferFloor;
    public IReadOnlyList<float>? Scales { get; init; }
    public IReadOnlyList<int>? Sizes { get; init; }
    /// <summary>ONNX <c>cubic_coeff_a</c>: the a of the cubic kernel (−0.75 as PyTorch, −0.5 as TensorFlow).</summary>
    public float CubicCoeffA { get; init; } = -0.75f;
    /// <summary>ONNX <c>exclude_outside</c>: cubic taps outside the input get weight 0 and the rest are renormalized.</summary>
    public bool ExcludeOutside { get; init; }

    /// <summary>Resize by scale factors on H and W (N and C scales are 1).</summary>
    public static ResizeParams WithScales(float scaleH, float scaleW, ResizeMode mode = ResizeMode.Nearest,
        ResizeCoordinateTransform transform = ResizeCoordinateTransform.HalfPixel, ResizeNearestMode nearest = ResizeNearestMode.RoundPreferFloor)
        => new() { Mode = mode, CoordinateTransform = transform, NearestMode = nearest, Scales = [1f, 1f, scaleH, scaleW] };

    /// <summary>Resize to an output shape N×C×<paramref name="outH"/>×<paramref name="outW"/>.</summary>
    public static ResizeParams WithSizes(int n, int c, int outH, int outW, ResizeMode mode = ResizeMode.Nearest,
        ResizeCoordinateTransform transform = ResizeCoordinateTransform.HalfPixel, ResizeNearestMode nearest = ResizeNearestMode.RoundPreferFloor)
        => new() { Mode = mode, CoordinateTransform = transform, NearestMode = nearest, Sizes = [n, c, outH, outW] };

    /// <summary>The ONNX attribute string of <see cref="Mode"/>.</summary>
    public string OnnxMode => Mode switch
    {
        ResizeMode.Nearest => "nearest",
        ResizeMode.Linear => "linear",
        _ => "cubic",
    };

    /// <summary>The ONNX attribute string of <see cref="CoordinateTransform"/>.</summary>
    public string OnnxCoordinateTransform => CoordinateTransform switch
    {
        ResizeCoordinateTransform.HalfPixel => "half_pixel",
        ResizeCoordinateTransform.PytorchHalfPixel => "pytorch_half_pixel",
        ResizeCoordinateTransform.AlignCorners => "align_corners",
        ResizeCoordinateTransform.Asymmetric => "asymmetric",
        _ => "tf_half_pixel_for_nn",
    };

    /// <summary>The ONNX attribute string of <see cref="NearestMode"/>.</summary>
    public string OnnxNearestMode => NearestMode switch
    {
        ResizeNearestMode.RoundPreferFloor => "round_prefer_floor",
        ResizeNearestMode.RoundPreferCeil => "round_prefer_ceil",
        ResizeNearestMode.Floor => "floor",
        _ => "ceil",
    };

    public override string ToString()
    {
        string by = Scales is not null
            ? "scales=[" + string.Join(",", Scales.Select(s => s.ToString("R", CultureInfo.InvariantCulture))) + "]"
            : "";
        if (Sizes is not null)
        {
            by += (by.Length > 0 ? " " : "") + "sizes=[" + string.Join(",", Sizes) + "]";
        }
        return $"mode={OnnxMode} transform={OnnxCoordinateTransform}" + (Mode == ResizeMode.Nearest ? $" nearest={OnnxNearestMode}" : "")
            + (Mode == ResizeMode.Cubic ? $" a={CubicCoeffA.ToString("R", CultureInfo.InvariantCulture)}" + (ExcludeOutside ? " exclude_outside" : "") : "") + " " + by;
    }
}
