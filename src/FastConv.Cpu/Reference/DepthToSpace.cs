namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// DepthToSpace (ONNX, opset 13) of N×C×H×W with block b into N×C/b²×H·b×W·b:
    /// <c>y[n, c, h·b + i, w·b + j] = x[n, (i·b + j)·C/b² + c, h, w]</c> in DCR mode and
    /// <c>x[n, (c·b + i)·b + j, h, w]</c> in CRD mode.
    /// </summary>
    public static void DepthToSpace(Tensor x, int blockSize, bool crd, Tensor y)
    {
        x.Shape.RequireRank(4, "input", "DepthToSpace");
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3], b = blockSize;
        if (b < 1 || c % (b * b) != 0)
        {
            throw new InvalidHyperparameterException($"DepthToSpace: blocksize {b} must be >= 1 with blocksize² dividing the channels of input {x.Shape}.");
        }
        int co = c / (b * b);
        RequireShape(y, TensorShape.Of(n, co, h * b, w * b), "output", "DepthToSpace", $"input {x.Shape}, blocksize {b}");
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        for (int ni = 0; ni < n; ni++)
        {
            for (int ci = 0; ci < co; ci++)
            {
                for (int oh = 0; oh < h * b; oh++)
                {
                    for (int ow = 0; ow < w * b; ow++)
                    {
                        int i = oh % b, j = ow % b;
                        int cin = crd ? (ci * b + i) * b + j : (i * b + j) * co + ci;
                        ys[y.Index(ni, ci, oh, ow)] = xs[x.Index(ni, cin, oh / b, ow / b)];
                    }
                }
            }
        }
    }

    /// <summary>
    /// SpaceToDepth (ONNX) of N×C×H×W with block b into N×C·b²×H/b×W/b:
    /// <c>y[n, (i·b + j)·C + c, h, w] = x[n, c, h·b + i, w·b + j]</c>.
    /// </summary>
    public static void SpaceToDepth(Tensor x, int blockSize, Tensor y)
    {
        x.Shape.RequireRank(4, "input", "SpaceToDepth");
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3], b = blockSize;
        if (b < 1 || h % b != 0 || w % b != 0)
        {
            throw new InvalidHyperparameterException($"SpaceToDepth: blocksize {b} must be >= 1 and divide H and W of input {x.Shape}.");
        }
        RequireShape(y, TensorShape.Of(n, c * b * b, h / b, w / b), "output", "SpaceToDepth", $"input {x.Shape}, blocksize {b}");
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        for (int ni = 0; ni < n; ni++)
        {
            for (int ci = 0; ci < c; ci++)
            {
                for (int ih = 0; ih < h; ih++)
                {
                    for (int iw = 0; iw < w; iw++)
                    {
                        int i = ih % b, j = iw % b;
                        ys[y.Index(ni, (i * b + j) * c + ci, ih / b, iw / b)] = xs[x.Index(ni, ci, ih, iw)];
                    }
                }
            }
        }
    }
}
