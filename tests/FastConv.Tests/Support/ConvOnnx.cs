using FastConv.Ops;

namespace FastConv.Tests.Support;

/// <summary>Runs the conv and pooling problems of <see cref="ConvShapes"/> on ONNX Runtime (opset 17).</summary>
internal static class ConvOnnx
{
    /// <summary>A stable seed from a problem's text (string.GetHashCode is randomized per process).</summary>
    public static int Seed(string text)
    {
        uint h = 2166136261;
        foreach (char ch in text)
        {
            h = (h ^ ch) * 16777619;
        }
        return (int)(h & 0x7FFFFFFF);
    }

    public static Tensor Conv(Tensor x, Tensor w, Tensor? b, Conv2dParams p)
    {
        var g = new OnnxGraphBuilder("Conv").Input("X", x).Input("W", w);
        if (b is not null)
        {
            g.Input("B", b);
        }
        return g.Attr("kernel_shape", w.Shape[2], w.Shape[3])
            .Attr("strides", p.StrideH, p.StrideW)
            .Attr("pads", p.Padding.Top, p.Padding.Left, p.Padding.Bottom, p.Padding.Right)
            .Attr("dilations", p.DilationH, p.DilationW)
            .Attr("group", (long)p.Groups)
            .Run();
    }

    public static Tensor ConvTranspose(Tensor x, Tensor w, Tensor? b, ConvTranspose2dParams p)
    {
        var g = new OnnxGraphBuilder("ConvTranspose").Input("X", x).Input("W", w);
        if (b is not null)
        {
            g.Input("B", b);
        }
        return g.Attr("kernel_shape", w.Shape[2], w.Shape[3])
            .Attr("strides", p.StrideH, p.StrideW)
            .Attr("pads", p.Padding.Top, p.Padding.Left, p.Padding.Bottom, p.Padding.Right)
            .Attr("dilations", p.DilationH, p.DilationW)
            .Attr("group", (long)p.Groups)
            .Attr("output_padding", p.OutputPaddingH, p.OutputPaddingW)
            .Run();
    }

    public static Tensor MaxPool(Tensor x, Pool2dParams p)
        => new OnnxGraphBuilder("MaxPool").Input("X", x)
            .Attr("kernel_shape", p.KernelH, p.KernelW)
            .Attr("strides", p.StrideH, p.StrideW)
            .Attr("pads", p.Padding.Top, p.Padding.Left, p.Padding.Bottom, p.Padding.Right)
            .Attr("dilations", p.DilationH, p.DilationW)
            .Attr("ceil_mode", p.CeilMode ? 1L : 0L)
            .Run();

    /// <summary>AveragePool at opset 17, which has no dilations attribute.</summary>
    public static Tensor AvgPool(Tensor x, Pool2dParams p)
        => new OnnxGraphBuilder("AveragePool").Input("X", x)
            .Attr("kernel_shape", p.KernelH, p.KernelW)
            .Attr("strides", p.StrideH, p.StrideW)
            .Attr("pads", p.Padding.Top, p.Padding.Left, p.Padding.Bottom, p.Padding.Right)
            .Attr("ceil_mode", p.CeilMode ? 1L : 0L)
            .Attr("count_include_pad", p.CountIncludePad ? 1L : 0L)
            .Run();
}
