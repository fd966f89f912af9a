namespace FastConv.Ops;

/// <summary>The checks every windowed op (conv, transposed conv, pooling) shares, with one wording.</summary>
internal static class WindowChecks
{
    /// <summary>Stride and dilation ≥ 1, padding ≥ 0; otherwise an exception naming the value and <paramref name="problem"/>.</summary>
    public static void StrideDilationPadding(string op, int strideH, int strideW, int dilationH, int dilationW, Padding2d padding, string problem)
    {
        if (strideH <= 0 || strideW <= 0)
        {
            throw new InvalidHyperparameterException($"{op}: stride must be >= 1, got ({strideH},{strideW}); {problem}.");
        }
        if (dilationH <= 0 || dilationW <= 0)
        {
            throw new InvalidHyperparameterException($"{op}: dilation must be >= 1, got ({dilationH},{dilationW}); {problem}.");
        }
        if (padding.IsNegative)
        {
            throw new InvalidHyperparameterException($"{op}: padding must be >= 0, got {padding}; {problem}.");
        }
    }
}
