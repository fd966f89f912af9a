namespace FastConv.Ops;

/// <summary>Spatial padding, possibly asymmetric: rows above/below, columns left/right.</summary>
public readonly record struct Padding2d(int Top, int Left, int Bottom, int Right)
{
    public static Padding2d Symmetric(int pad) => new(pad, pad, pad, pad);
    public static Padding2d Symmetric(int padH, int padW) => new(padH, padW, padH, padW);

    /// <summary>ONNX order: [top, left, bottom, right] (begin of every axis, then end of every axis).</summary>
    public static Padding2d FromOnnx(IReadOnlyList<long> pads)
    {
        ArgumentNullException.ThrowIfNull(pads);
        if (pads.Count != 4 || pads.Any(v => v is < int.MinValue or > int.MaxValue))
        {
            throw new InvalidHyperparameterException($"2-D pads must be 4 values [top, left, bottom, right] within 32-bit range, got [{string.Join(",", pads)}].");
        }
        return new((int)pads[0], (int)pads[1], (int)pads[2], (int)pads[3]);
    }

    public bool IsNegative => Top < 0 || Left < 0 || Bottom < 0 || Right < 0;

    public override string ToString() => $"(t{Top},l{Left},b{Bottom},r{Right})";
}
