namespace FastConv.Ops;

/// <summary>How <c>Pad</c> fills the new border (ONNX <c>mode</c> attribute).</summary>
public enum PadMode
{
    /// <summary>Every new element is <see cref="PadParams.Value"/>.</summary>
    Constant,
    /// <summary>Mirror without repeating the edge: [1,2,3] padded by 2 → [3,2,1,2,3,2,1]. Needs pad &lt; dim.</summary>
    Reflect,
    /// <summary>Repeat the edge element: [1,2,3] padded by 2 → [1,1,1,2,3,3,3].</summary>
    Edge,
}

/// <summary>
/// Hyperparameters of <c>Pad</c> (ONNX opset 13+, where <c>pads</c> and <c>constant_value</c> are inputs).
/// <see cref="Pads"/> has 2·rank entries in ONNX order: the begin pads of every axis, then the end pads of
/// every axis. A negative pad removes that many elements from that side (a crop), as ONNX allows.
/// </summary>
public sealed record PadParams
{
    public PadMode Mode { get; init; } = PadMode.Constant;
    public IReadOnlyList<int> Pads { get; init; } = [];
    /// <summary>The fill value of <see cref="PadMode.Constant"/>; ignored by the other modes.</summary>
    public float Value { get; init; }

    public static PadParams Create(PadMode mode, IReadOnlyList<int> pads, float value = 0f)
        => new() { Mode = mode, Pads = pads.ToArray(), Value = value };

    /// <summary>Begin pad of <paramref name="axis"/> for a tensor of rank <c>Pads.Count / 2</c>.</summary>
    public int Begin(int axis) => Pads[axis];

    /// <summary>End pad of <paramref name="axis"/> for a tensor of rank <c>Pads.Count / 2</c>.</summary>
    public int End(int axis) => Pads[Pads.Count / 2 + axis];

    public override string ToString()
        => $"mode={Mode} pads=[{string.Join(",", Pads)}]" + (Mode == PadMode.Constant ? $" value={Value.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}" : "");
}
