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

    /// <summary>
    /// The (dilated) window fits the padded input on both axes. Computed in 64 bits, so a huge dilation or
    /// padding is reported instead of wrapping around and passing.
    /// </summary>
    public static void WindowFitsPaddedInput(string op, string window, int h, int w, int r, int s, int dilationH, int dilationW, Padding2d padding, string problem)
    {
        long padH = (long)h + padding.Top + padding.Bottom, padW = (long)w + padding.Left + padding.Right;
        long effR = (long)dilationH * (r - 1) + 1, effS = (long)dilationW * (s - 1) + 1;
        if (padH > int.MaxValue || padW > int.MaxValue)
        {
            throw new InvalidHyperparameterException($"{op}: the padded input ({padH}x{padW}) is larger than {int.MaxValue}; {problem}.");
        }
        if (effR > padH || effS > padW)
        {
            throw new InvalidHyperparameterException($"{op}: the {window} ({effR}x{effS}) is larger than the padded input ({padH}x{padW}); {problem}.");
        }
    }
}
