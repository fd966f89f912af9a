using System.Runtime.CompilerServices;
using FastConv.Backends;
using FastConv.Gpu.FcKernels;
using FastConv.Interop;
using FastConv.Ops;

namespace FastConv.Gpu.Backends;

/// <summary>
/// The <c>cublas</c> backend: convolution as im2col + SGEMM (1×1 stride-1 unpadded convolutions as a plain GEMM on
/// the input), Gemm as one SGEMM, the other ops through the runtime's support kernels. A baseline that shows
/// what a vendor GEMM gives a convolution; <c>cudnn</c> and our own <c>cuda</c> kernels are measured against it.
/// </summary>
public sealed class CublasBackend : GpuBackendBase
{

    public CublasBackend(GpuBackendOptions? options = null)
    {
        options ??= new GpuBackendOptions();
        GpuDevice device = GpuBackendFactory.OpenDevice(BackendNames.Cublas);
        try
        {
            Context = new GpuBackendContext(BackendNames.Cublas, device, options);
        }
        catch
        {
            device.Dispose();
            throw;
        }
        try
        {
            _ = Context.Cublas; // fail at creation, not at the first plan, when cuBLAS cannot start
        }
        catch
        {
            Context.Dispose();
            throw;
        }
    }

    public override string Name => BackendNames.Cublas;

    public override IConv2dPlan PlanConv2d(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue)
        => new CublasConv2dPlan(Context, shape, weights, bias, epilogue);

    public override IUnaryPlan PlanPool2d(Pool2dShape shape, bool max) => new GpuPool2dPlan(Context, GpuBackendFactory.CheckPool(shape, max), max);
    public override IUnaryPlan PlanGlobalPool(TensorShape input, bool max) => new GpuGlobalPoolPlan(Context, input, max);
    public override IUnaryPlan PlanActivation(Activation activation, TensorShape shape) => new GpuActivationPlan(Context, activation, shape);
    public override IUnaryPlan PlanSoftmax(TensorShape shape, int axis) => new GpuSoftmaxPlan(Context, shape, axis);
    public override IUnaryPlan PlanGemm(TensorShape aShape, Tensor b, Tensor? c, GemmParams p) => new GpuGemmPlan(Context, aShape, b, c, p);

    protected override void Dispose(bool disposing) => Context.Dispose();
}

/// <summary>
/// im2col + SGEMM. The mapping (row-major): per image and group, <c>Y_g[Kg × PQ] = W_g[Kg × Cg·R·S] · col_g[Cg·R·S × PQ]</c>;
/// cuBLAS (column-major) computes it as <c>Y_gᵀ = col_gᵀ · W_gᵀ</c>, i.e. m = PQ, n = Kg, k = Cg·R·S with the operands
/// as stored. Three ways, chosen by timing under the workspace limit and cached per shape:
/// <list type="bullet">
/// <item><c>gemm-1x1</c>: R = S = 1, stride 1, no padding: the input is already the col matrix (no workspace).</item>
/// <item><c>im2col-batch+sgemm</c>: one im2col for the whole batch, one batched GEMM (N·C·R·S·P·Q floats of workspace).</item>
/// <item><c>im2col-image+sgemm</c>: im2col and GEMM image by image (C·R·S·P·Q floats), the fallback that always fits best.</item>
/// </list>
/// </summary>
internal sealed class CublasConv2dPlan : GpuConvPlan
{
    private const string OneByOne = "gemm-1x1", Batch = "im2col-batch+sgemm", PerImage = "im2col-image+sgemm";

    private readonly DeviceBuffer _w;
    private readonly DeviceBuffer? _col;
    private readonly GpuKernel _im2col;
    private readonly KernelArguments _im2colArgs;
    private readonly FcIm2colArgs _im2colStruct;
    private readonly string _mode;
    private readonly int _g, _kg, _crsG, _pq;
    private readonly long _colImage;

    public CublasConv2dPlan(GpuBackendContext c, Conv2dShape s, Tensor weights, Tensor? bias, ConvEpilogue epilogue)
        : base(c, s, weights, bias, epilogue, "im2col+sgemm")
    {
        try
        {
            Conv2dParams p = s.Params;
            _g = s.Groups;
            _kg = s.OutputChannelsPerGroup;
            _crsG = s.InputChannelsPerGroup * s.R * s.S;
            _pq = s.P * s.Q;
            _colImage = (long)s.C * s.R * s.S * _pq;
            _w = Upload(weights.Span);
            DeviceBuffer? b = bias is null ? null : Upload(bias.Span);
            PrepareEpilogue(b, residualLeft: epilogue.AddResidual, activationLeft: true);

            _im2col = c.Kernel("support.cu", "conv2d_im2col");
            _im2colArgs = Own(new KernelArguments(Unsafe.SizeOf<FcIm2colArgs>()));
            _im2colStruct = new FcIm2colArgs
            {
                C = s.C, H = s.H, W = s.W, R = s.R, S = s.S, P = s.P, Q = s.Q, StrideH = p.StrideH, StrideW = p.StrideW,
                PadTop = p.Padding.Top, PadLeft = p.Padding.Left, DilH = p.DilationH, DilW = p.DilationW,
            };

            bool oneByOne = s.R == 1 && s.S == 1 && p.StrideH == 1 && p.StrideW == 1 && p.DilationH == 1 && p.DilationW == 1
                && p.Padding.Top == 0 && p.Padding.Bottom == 0 && p.Padding.Left == 0 && p.Padding.Right == 0;
            long limit = c.Options.WorkspaceLimit;
            var candidates = new List<string>();
            if (oneByOne)
            {
                candidates.Add(OneByOne);
            }
            else
            {
                if (s.N > 1 && (long)s.N * _colImage * sizeof(float) <= limit)
                {
                    candidates.Add(Batch);
                }
                candidates.Add(PerImage); // always possible: the least workspace any im2col needs
            }
            _mode = candidates.Count == 1 || !c.Options.TimedSearch
                ? candidates[^1]
                : GpuAlgorithmCache.GetOrChoose(GpuAlgorithmCache.Key(BackendNames.Cublas, c.Device.Info, s.ToString(), limit, c.Options.AllowTf32),
                    () => TimeCandidates(candidates));
            Algorithm = _mode;
            long colBytes = ColBytes(_mode);
            _col = colBytes > 0 ? Hold(colBytes) : null;
            CompleteUploads();
        }
        catch
        {
            // A plan that fails part-way (out of memory on its third buffer, a library refusing a shape) gives back what it took.
            Dispose();
            throw;
        }
    }

    private long ColBytes(string mode) => mode switch
    {
        Batch => Shape.N * _colImage * sizeof(float),
        PerImage => _colImage * sizeof(float),
        _ => 0,
    };

    /// <summary>Runs each candidate on scratch buffers and returns the fastest (median of 5, events on the stream).</summary>
    private string TimeCandidates(List<string> candidates)
    {
        using DeviceBuffer x = Context.Device.Memory.Allocate((long)Shape.InputShape.ElementCount * sizeof(float), Context.Stream.Handle);
        using DeviceBuffer y = Context.Device.Memory.Allocate((long)Shape.OutputShape.ElementCount * sizeof(float), Context.Stream.Handle);
        Driver.MemsetD32Async(x.Address, 0, Shape.InputShape.ElementCount, Context.Stream.Handle);
        string best = candidates[^1];
        float bestMs = float.MaxValue;
        foreach (string mode in candidates)
        {
            long colBytes = ColBytes(mode);
            using DeviceBuffer? col = colBytes > 0 ? Context.Device.Memory.Allocate(colBytes, Context.Stream.Handle) : null;
            float ms = Context.TimeMedian(() => Run(mode, x.Address, y.Address, 0, Context.Stream.Handle, col?.Address ?? 0));
            if (ms < bestMs)
            {
                bestMs = ms;
                best = mode;
            }
        }
        return best;
    }

    private protected override void Enqueue(ulong x, ulong y, ulong residual, nint stream) => Run(_mode, x, y, residual, stream, _col?.Address ?? 0);

    private void Run(string mode, ulong x, ulong y, ulong residual, nint stream, ulong col)
    {
        CublasHandle h = Context.CublasOn(stream);
        Conv2dShape s = Shape;
        long yImage = (long)s.K * _pq;
        long xImage = (long)s.C * s.H * s.W;
        switch (mode)
        {
            case OneByOne:
                if (_g == 1)
                {
                    Gemm(h, x, xImage, 0, y, yImage, s.N);
                }
                else
                {
                    for (int n = 0; n < s.N; n++)
                    {
                        GroupsOf(h, x + (ulong)(n * xImage * sizeof(float)), y + (ulong)(n * yImage * sizeof(float)));
                    }
                }
                break;
            case Batch:
                Im2col(x, col, s.N, stream);
                if (_g == 1)
                {
                    Gemm(h, col, _colImage, 0, y, yImage, s.N);
                }
                else
                {
                    for (int n = 0; n < s.N; n++)
                    {
                        GroupsOf(h, col + (ulong)(n * _colImage * sizeof(float)), y + (ulong)(n * yImage * sizeof(float)));
                    }
                }
                break;
            default:
                for (int n = 0; n < s.N; n++)
                {
                    Im2col(x + (ulong)(n * xImage * sizeof(float)), col, 1, stream);
                    GroupsOf(h, col, y + (ulong)(n * yImage * sizeof(float)));
                }
                break;
        }
        RunEpilogue(y, residual, stream);
    }

    private void Im2col(ulong x, ulong col, int images, nint stream)
    {
        _im2colArgs.Set(0, _im2colStruct with { X = x, Col = col, N = images });
        FcLaunchShape l = FcLaunch.Elementwise(images * _colImage, Context.GridCap);
        _im2col.Launch(l.Grid, l.Block, _im2colArgs, stream);
    }

    /// <summary>One image's groups as one batched GEMM: group g reads col rows g·CgRS.., weights g·Kg·CgRS.., writes Y channels g·Kg...</summary>
    private void GroupsOf(CublasHandle h, ulong col, ulong y)
        => Cublas.SgemmStridedBatched(h, CublasOperation.None, CublasOperation.None, _pq, _kg, _crsG,
            1f, col, _pq, (long)_crsG * _pq, _w.Address, _crsG, (long)_kg * _crsG, 0f, y, _pq, (long)_kg * _pq, _g);

    /// <summary>Ungrouped: <paramref name="batch"/> images at once, the weights shared (stride 0).</summary>
    private void Gemm(CublasHandle h, ulong col, long colStride, long wStride, ulong y, long yStride, int batch)
        => Cublas.SgemmStridedBatched(h, CublasOperation.None, CublasOperation.None, _pq, _kg, _crsG,
            1f, col, _pq, colStride, _w.Address, _crsG, wStride, 0f, y, _pq, yStride, batch);
}
