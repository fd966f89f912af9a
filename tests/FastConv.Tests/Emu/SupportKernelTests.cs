using System.Runtime.CompilerServices;
using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Gpu;
using FastConv.Gpu.Backends;
using FastConv.Gpu.FcKernels;
using FastConv.Ops;
using FastConv.Tests.Support;

namespace FastConv.Tests.Emu;

/// <summary>
/// The library backends' (cublas, cudnn) own plans and kernels, run by the CUDA-on-CPU emulator through the same
/// plan code a GPU runs — everything but the cuBLAS/cuDNN calls themselves: the activation, pooling, global pooling and
/// softmax plans (native/kernels, launched as the library backends launch them), and support.cu's im2col, input
/// padding, conv epilogue and Gemm broadcast. Inputs hold NaN, ±∞ and −0 where the op allows, and every result is
/// compared with the reference, NaN for NaN. Grids capped at one block as well, so the grid-stride loops are walked.
/// </summary>
[TestFixture]
[Category("Emu")]
public sealed unsafe class SupportKernelTests
{
    private static readonly ReferenceBackend Oracle = new();
    private const double U = 1.0 / (1 << 24);

    private static GpuBackendContext Library(int? maxGrid = null)
        => new("cublas-on-emu", new GpuDevice(new EmuGpuDriver(EmuThreadOrder.Random, 11)), new GpuBackendOptions { MaxGridBlocks = maxGrid });

    /// <summary>Values of every kind: NaN, ±∞, ±0, then seeded ones in [−8, 8).</summary>
    private static Tensor Special(TensorShape shape, int seed)
    {
        Tensor t = TestData.Floats(new Random(seed), shape, -8f, 8f);
        float[] special = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, -0f, 0f, 6f, -3f];
        for (int i = 0; i < Math.Min(special.Length, t.Length); i++)
        {
            t.Span[i * 7 % t.Length] = special[i];
        }
        return t;
    }

    private static Tensor Run(IUnaryPlan plan, Tensor x)
    {
        using (plan)
        {
            Tensor y = TestData.Poisoned(plan.OutputShape);
            plan.Execute(x, y);
            return y;
        }
    }

    public static IEnumerable<TestCaseData> Activations()
    {
        Activation[] all =
        [
            Activation.Relu, Activation.LeakyRelu(0.1f), Activation.Relu6, Activation.Clip(-0.5f, 0.25f), Activation.Sigmoid,
            Activation.Tanh, Activation.HardSigmoid(), Activation.HardSwish, Activation.Swish(), Activation.Swish(1.702f),
        ];
        foreach (Activation a in all)
        {
            yield return new TestCaseData(a, null).SetName($"Activation({a})");
            yield return new TestCaseData(a, 1).SetName($"Activation({a},grid 1)");
        }
    }

    [TestCaseSource(nameof(Activations))]
    public void ActivationMatchesTheReferenceOnNaNAndInfinities(Activation activation, int? maxGrid)
    {
        var shape = TensorShape.Of(3, 341); // 1023 elements: vec4's tail included
        Tensor x = Special(shape, 1);
        using GpuBackendContext c = Library(maxGrid);
        Tensor expected = Run(Oracle.PlanActivation(activation, shape), x);
        Tensor actual = Run(new GpuActivationPlan(c, activation, shape), x);
        // Piecewise-linear activations are exact; exp/tanh in float within 8 ulp + 4u absolute (as fastconv check).
        bool exact = activation.Kind is ActivationKind.Relu or ActivationKind.LeakyRelu or ActivationKind.Clip;
        Compare.Close(expected, actual, $"{activation} X={shape}", exact ? 0f : (float)(4 * U), exact ? 0f : (float)(8 * U));
        Assert.That(float.IsNaN(actual.Span[0]), Is.True, $"{activation}: NaN in, NaN out (as the reference); got {actual.Span[0]}");
    }

    [Test]
    public void ActivationOnUnalignedDeviceAddressesTakesTheScalarKernel()
    {
        // A session's arena may hand in addresses 4 bytes apart; vec4's 16-byte loads would fault on a GPU.
        var shape = TensorShape.Of(37);
        Tensor x = Special(shape, 2);
        using GpuBackendContext c = Library();
        using var plan = new GpuActivationPlan(c, Activation.Relu6, shape);
        IGpuDriver d = c.Device.Driver;
        using DeviceBuffer buffer = c.Device.Memory.Allocate(4 * 80);
        ulong dx = buffer.Address + 4, dy = buffer.Address + 4 + 4 * 40;
        float[] got = new float[37];
        fixed (float* px = x.Span, pg = got)
        {
            d.CopyHostToDevice(dx, (nint)px, 4 * 37);
            plan.ExecuteDevice(dx, dy, c.Stream.Handle);
            c.Stream.Synchronize();
            d.CopyDeviceToHost((nint)pg, dy, 4 * 37);
        }
        Compare.Exact(Run(Oracle.PlanActivation(Activation.Relu6, shape), x), Tensor.FromArray(got, 37), "Relu6 at unaligned addresses");
    }

    [TestCase(true, null)]
    [TestCase(false, null)]
    [TestCase(true, 1)]
    [TestCase(false, 1)]
    public void PoolingMatchesTheReferenceOnNaNAndInfinities(bool max, int? maxGrid)
    {
        using GpuBackendContext c = Library(maxGrid);
        Pool2dShape[] shapes =
        [
            new(2, 3, 11, 13, Pool2dParams.Create(kernel: 3, stride: 2, pad: 1)), // the tiled kernel
            new(1, 2, 40, 300, Pool2dParams.Create(kernel: 2, stride: 8)),        // its patch exceeds 48 KiB: the naive kernel
            new(1, 2, 9, 9, new Pool2dParams { KernelH = 3, KernelW = 2, StrideH = 2, StrideW = 2, CeilMode = true, Padding = new Padding2d(1, 0, 0, 1) }),
        ];
        foreach (Pool2dShape s in shapes)
        {
            Tensor x = Special(s.InputShape, 3);
            Tensor expected = Run(Oracle.PlanPool2d(s, max), x);
            using var plan = new GpuPool2dPlan(c, s, max);
            Tensor actual = Run(new GpuPool2dPlan(c, s, max), x);
            // A max is exact (NaN skipped, as the reference); an average of ≤ R·S values: 2·γ_{RS+2} relative.
            Compare.Close(expected, actual, $"{(max ? "max" : "avg")} {plan.Algorithm} {s}", 0f, max ? 0f : (float)(4 * (s.R * s.S + 2) * U));
        }
    }

    [TestCase(null)]
    [TestCase(1)]
    public void GlobalPoolingAndSoftmaxMatchTheReferenceOnNaNAndInfinities(int? maxGrid)
    {
        using GpuBackendContext c = Library(maxGrid);
        var shape = TensorShape.Of(3, 11, 5, 7);
        Tensor x = Special(shape, 4);
        foreach (bool max in new[] { true, false })
        {
            Tensor expected = Run(Oracle.PlanGlobalPool(shape, max), x);
            Tensor actual = Run(new GpuGlobalPoolPlan(c, shape, max), x);
            Compare.Close(expected, actual, $"global {(max ? "max" : "avg")} X={shape}", 0f, max ? 0f : (float)(4 * 37 * U));
        }
        foreach ((TensorShape s, int axis) in new[] { (TensorShape.Of(9, 45), -1), (TensorShape.Of(2, 7, 5), 1) })
        {
            Tensor sx = Special(s, 5);
            sx.Span[^1] = float.NaN; // a row with NaN becomes all NaN, as in the reference
            Tensor expected = Run(Oracle.PlanSoftmax(s, axis), sx);
            using var plan = new GpuSoftmaxPlan(c, s, axis);
            Tensor actual = Run(new GpuSoftmaxPlan(c, s, axis), sx);
            int n = s[s.NormalizeAxis(axis, "Softmax")];
            Compare.Close(expected, actual, $"{plan.Algorithm} X={s} axis={axis}", (float)U, (float)(16 * U + 4 * n * U));
        }
    }

    [TestCase(null)]
    [TestCase(1)]
    public void Im2colTimesTheWeightsIsTheConvolution(int? maxGrid)
    {
        // Integer data: the GEMM over im2col's columns must equal the reference convolution exactly.
        var s = new Conv2dShape(2, 3, 7, 9, 4, 3, 2, new Conv2dParams { StrideH = 2, StrideW = 1, DilationH = 2, Padding = new Padding2d(2, 1, 1, 0) });
        Tensor x = TestData.Ints(new Random(6), s.InputShape), w = TestData.Ints(new Random(7), s.WeightShape);
        using GpuBackendContext c = Library(maxGrid);
        int crs = s.C * s.R * s.S, pq = s.P * s.Q;
        float[] col = Launch(c, "conv2d_im2col", x, s.N * crs * pq, (xd, yd) => new FcIm2colArgs
        {
            X = xd, Col = yd, N = s.N, C = s.C, H = s.H, W = s.W, R = s.R, S = s.S, P = s.P, Q = s.Q,
            StrideH = s.Params.StrideH, StrideW = s.Params.StrideW, PadTop = s.Params.Padding.Top, PadLeft = s.Params.Padding.Left,
            DilH = s.Params.DilationH, DilW = s.Params.DilationW,
        }, FcLaunch.Elementwise((long)s.N * crs * pq, c.GridCap));
        var y = Tensor.Allocate(s.OutputShape);
        for (int n = 0; n < s.N; n++)
        {
            for (int k = 0; k < s.K; k++)
            {
                for (int j = 0; j < pq; j++)
                {
                    double acc = 0;
                    for (int r = 0; r < crs; r++)
                    {
                        acc += w.Span[k * crs + r] * col[(n * crs + r) * pq + j];
                    }
                    y.Span[(n * s.K + k) * pq + j] = (float)acc;
                }
            }
        }
        var expected = Tensor.Allocate(s.OutputShape);
        Reference.Conv2d(x, w, null, s.Params, expected);
        Compare.Exact(expected, y, $"im2col·W {s}");
    }

    [Test]
    public void PaddedInputIsTheInputInsideZeros()
    {
        var x = Special(TensorShape.Of(2, 3, 5, 4), 8); // NaN and ±∞ move like any value
        const int top = 2, left = 1, hp = 5 + 2 + 3, wp = 4 + 1 + 0;
        using GpuBackendContext c = Library(1);
        float[] got = Launch(c, "conv2d_pad_input", x, 6 * hp * wp, (xd, yd) => new FcPadInputArgs { X = xd, Xp = yd, NC = 6, H = 5, W = 4, PadTop = top, PadLeft = left, Hp = hp, Wp = wp },
            FcLaunch.Elementwise(6L * hp * wp, c.GridCap));
        for (int nc = 0; nc < 6; nc++)
        {
            for (int h = 0; h < hp; h++)
            {
                for (int w = 0; w < wp; w++)
                {
                    int ih = h - top, iw = w - left;
                    float e = ih >= 0 && ih < 5 && iw >= 0 && iw < 4 ? x.Span[(nc * 5 + ih) * 4 + iw] : 0f;
                    float a = got[(nc * hp + h) * wp + w];
                    Assert.That(a.Equals(e), Is.True, $"xp[{nc},{h},{w}] = {a}, expected {e}");
                }
            }
        }
    }

    public static IEnumerable<TestCaseData> Epilogues()
    {
        Activation[] acts = [Activation.None, Activation.Relu, Activation.Clip(-2f, 5f), Activation.HardSigmoid(), Activation.HardSwish, Activation.Sigmoid, Activation.Swish()];
        foreach (Activation a in acts)
        {
            yield return new TestCaseData(a).SetName($"ConvEpilogue({a})");
        }
    }

    [TestCaseSource(nameof(Epilogues))]
    public void ConvEpilogueMatchesTheReferenceOnNaNAndInfinities(Activation activation)
    {
        // The library's raw convolution (here the reference's, NaN and ±∞ spread from the input), then
        // conv2d_epilogue in place: bias, folded batch-norm, residual, activation, against the reference's fused conv.
        var s = new Conv2dShape(2, 3, 6, 5, 4, 3, 3, Conv2dParams.Create(pad: 1));
        Tensor x = TestData.Ints(new Random(9), s.InputShape), w = TestData.Ints(new Random(10), s.WeightShape);
        x.Span[3] = float.NaN;
        x.Span[40] = float.PositiveInfinity;
        x.Span[77] = float.NegativeInfinity;
        Tensor bias = TestData.Ints(new Random(11), TensorShape.Of(s.K)), residual = TestData.Ints(new Random(12), s.OutputShape);
        var epilogue = new ConvEpilogue { Scale = [2f, -1f, 0.5f, 3f], Shift = [1f, -2f, 0f, 4f], AddResidual = true, Activation = activation };
        var raw = Tensor.Allocate(s.OutputShape);
        Reference.Conv2d(x, w, null, s.Params, raw);
        var expected = Tensor.Allocate(s.OutputShape);
        Reference.Conv2dFused(x, w, bias, s.Params, epilogue, residual, expected);

        using GpuBackendContext c = Library(1);
        IGpuDriver d = c.Device.Driver;
        using DeviceBuffer dy = c.Device.Memory.Allocate(4L * raw.Length), dr = c.Device.Memory.Allocate(4L * raw.Length),
            db = c.Device.Memory.Allocate(16), dsc = c.Device.Memory.Allocate(16), dsh = c.Device.Memory.Allocate(16);
        float[] got = new float[raw.Length];
        fixed (float* py = raw.Span, pr = residual.Span, pb = bias.Span, psc = epilogue.Scale, psh = epilogue.Shift, pg = got)
        {
            d.CopyHostToDevice(dy.Address, (nint)py, 4L * raw.Length);
            d.CopyHostToDevice(dr.Address, (nint)pr, 4L * raw.Length);
            d.CopyHostToDevice(db.Address, (nint)pb, 16);
            d.CopyHostToDevice(dsc.Address, (nint)psc, 16);
            d.CopyHostToDevice(dsh.Address, (nint)psh, 16);
            using var args = new KernelArguments(Unsafe.SizeOf<FcConv2dArgs>());
            args.Set(0, FcLaunch.Conv2dArgs(s, epilogue) with { Y = dy.Address, Residual = dr.Address, Bias = db.Address, Scale = dsc.Address, Shift = dsh.Address });
            FcLaunchShape l = FcLaunch.Elementwise(raw.Length, c.GridCap);
            c.Kernel("support.cu", "conv2d_epilogue").Launch(l.Grid, l.Block, args, c.Stream.Handle);
            c.Stream.Synchronize();
            d.CopyDeviceToHost((nint)pg, dy.Address, 4L * raw.Length);
        }
        Tensor actual = Tensor.FromArray(got, s.OutputShape.Dims.ToArray());
        bool exact = activation.Kind is ActivationKind.None or ActivationKind.Relu or ActivationKind.Clip;
        Compare.Close(expected, actual, $"epilogue {epilogue} {s}", exact ? 0f : (float)(4 * U), exact ? 0f : (float)(8 * U));
        Assert.That(expected.ToArray().Count(float.IsNaN), Is.GreaterThan(0), "the case has NaN outputs to compare");
    }

    [Test]
    public void GemmBroadcastOfCFillsEveryRowAndColumn()
    {
        var c = TestData.Ints(new Random(13), TensorShape.Of(1, 37));
        using GpuBackendContext ctx = Library(1);
        float[] got = Launch(ctx, "gemm_broadcast_c", c, 5 * 37, (cd, yd) => new FcBroadcastArgs { C = cd, Y = yd, M = 5, N = 37, CStrideM = 0, CStrideN = 1 },
            FcLaunch.Elementwise(5 * 37, ctx.GridCap));
        for (int i = 0; i < got.Length; i++)
        {
            Assert.That(got[i], Is.EqualTo(c.Span[i % 37]), $"Y[{i / 37},{i % 37}]");
        }
    }

    /// <summary>Uploads <paramref name="input"/>, launches <paramref name="kernel"/> of support.cu with the struct built from the two device addresses, returns <paramref name="outputs"/> floats.</summary>
    private static float[] Launch<T>(GpuBackendContext c, string kernel, Tensor input, int outputs, Func<ulong, ulong, T> args, FcLaunchShape launch) where T : unmanaged
    {
        IGpuDriver d = c.Device.Driver;
        using DeviceBuffer dx = c.Device.Memory.Allocate(4L * Math.Max(1, input.Length)), dy = c.Device.Memory.Allocate(4L * outputs);
        d.MemsetD32Async(dy.Address, 0x7FC00000u, outputs, c.Stream.Handle); // NaN: unwritten outputs show
        float[] got = new float[outputs];
        fixed (float* px = input.Span, pg = got)
        {
            d.CopyHostToDevice(dx.Address, (nint)px, 4L * input.Length);
            using var packed = new KernelArguments(Unsafe.SizeOf<T>());
            packed.Set(0, args(dx.Address, dy.Address));
            c.Kernel("support.cu", kernel).Launch(launch.Grid, launch.Block, packed, c.Stream.Handle);
            c.Stream.Synchronize();
            d.CopyDeviceToHost((nint)pg, dy.Address, 4L * outputs);
        }
        return got;
    }
}
