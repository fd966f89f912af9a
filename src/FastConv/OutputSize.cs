namespace FastConv;

/// <summary>
/// The one place FastConv computes spatial output sizes. Letters as everywhere: input extent H,
/// filter extent R, output extent P.
/// </summary>
public static class OutputSize
{
    /// <summary>Extent covered by a dilated filter: <c>dil·(R−1) + 1</c>.</summary>
    public static int Dilated(int kernel, int dilation) => dilation * (kernel - 1) + 1;

    /// <summary>
    /// Convolution (and floor-mode pooling): <c>P = floor((H + padBegin + padEnd − dil·(R−1) − 1) / stride) + 1</c>.
    /// Callers validate first (stride, dilation ≥ 1, pads ≥ 0, dilated kernel ≤ padded input), so the
    /// numerator is never negative.
    /// </summary>
    public static int Conv(int input, int kernel, int stride, int padBegin, int padEnd, int dilation)
        => (input + padBegin + padEnd - Dilated(kernel, dilation)) / stride + 1;

    /// <summary>
    /// Pooling: floor mode is <see cref="Conv"/>; ceil mode rounds the division up,
    /// <c>P = ceil((H + padBegin + padEnd − dil·(R−1) − 1) / stride) + 1</c>, then drops the last window
    /// when it would start inside the end padding (<c>(P−1)·stride ≥ H + padBegin</c>), as ONNX,
    /// ONNX Runtime and PyTorch do, so every window sees at least one real input element.
    /// </summary>
    public static int Pool(int input, int kernel, int stride, int padBegin, int padEnd, int dilation, bool ceilMode)
    {
        if (!ceilMode)
        {
            return Conv(input, kernel, stride, padBegin, padEnd, dilation);
        }
        long span = (long)input + padBegin + padEnd - Dilated(kernel, dilation);
        int p = (int)((span + stride - 1) / stride + 1);
        if ((long)(p - 1) * stride >= (long)input + padBegin)
        {
            p--;
        }
        return p;
    }

    /// <summary>
    /// Transposed convolution: <c>P = (H − 1)·stride − padBegin − padEnd + dil·(R−1) + outputPadding + 1</c>.
    /// </summary>
    public static int ConvTranspose(int input, int kernel, int stride, int padBegin, int padEnd, int dilation, int outputPadding)
        => (input - 1) * stride - padBegin - padEnd + Dilated(kernel, dilation) + outputPadding;

    /// <summary>
    /// Resize: output extent from a scale, as ONNX Runtime computes it: <c>floor(H · scale)</c> with the
    /// product rounded to float32 first (so 5 × 0.6f = 3.0000001f gives 3).
    /// </summary>
    public static int Resize(int input, float scale) => (int)(scale * (float)input);
}
