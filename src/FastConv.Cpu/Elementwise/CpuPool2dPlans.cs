using System.Runtime.InteropServices;
using FastConv.Backends;
using FastConv.Cpu.Kernels;
using FastConv.Cpu.Threading;
using FastConv.Ops;

namespace FastConv.Cpu.Elementwise;

/// <summary>How the element-wise plans split work across the pool.</summary>
internal static class ElementwiseThreading
{
    /// <summary>
    /// Below this many floats (256 KB, about L2 per core here) a parallel For costs more (wake-up and
    /// join, a few microseconds) than it saves on a memory-bound pass.
    /// </summary>
    public const int MinParallelFloats = 1 << 16;

    /// <summary>How many work items to hand out for <paramref name="units"/> independent units of <paramref name="floats"/> floats in all: 1 when not worth it, else up to 4 per thread (dynamic balance).</summary>
    public static int Chunks(long floats, int units, WorkerPool pool)
        => pool.Threads == 1 || floats < MinParallelFloats || units < 2 ? 1 : Math.Min(units, pool.Threads * 4);

    public static string LevelName(SimdLevel level) => level switch
    {
        SimdLevel.Avx512 => "avx512",
        SimdLevel.Avx2 => "avx2",
        SimdLevel.Vector128 => "vector128",
        _ => "scalar",
    };
}

/// <summary>
/// MaxPool2d / AvgPool2d on the <c>cpu</c> backend: geometry computed at plan time
/// (<see cref="Pool2dGeometry"/>), one plane kernel per N·C plane (<see cref="Pool2dKernels"/>), planes split
/// across the pool when the tensor is large enough. Equals the reference bit for bit.
/// </summary>
internal sealed class CpuPool2dPlan : IUnaryPlan, IParallelJob
{
    private readonly Pool2dShape _shape;
    private readonly TensorShape _inputShape;
    private readonly Pool2dGeometry _g;
    private readonly bool _max;
    private readonly CpuContext _context;
    private readonly int _planes;
    private readonly int _chunks;
    private readonly string _op;
    private readonly SimdLevel _level;
    private Tensor? _x;
    private Tensor? _y;

    public CpuPool2dPlan(Pool2dShape shape, bool max, CpuContext context)
    {
        _op = max ? "MaxPool2d" : "AvgPool2d";
        shape.Validate(_op);
        if (!max && (shape.Params.DilationH != 1 || shape.Params.DilationW != 1))
        {
            throw new InvalidHyperparameterException($"{_op}: dilation must be 1, got ({shape.Params.DilationH},{shape.Params.DilationW}); {shape.Describe()}.");
        }
        _shape = shape;
        _max = max;
        _context = context;
        _g = new Pool2dGeometry(shape, max);
        _planes = shape.N * shape.C;
        _chunks = ElementwiseThreading.Chunks((long)_planes * shape.H * shape.W, _planes, context.Pool);
        OutputShape = shape.OutputShape;
        _inputShape = shape.InputShape;
        // The widest vector that fits an output row's interior: MNIST's 14-wide and ResNet's 7- and 14-wide planes
        // would leave a 16-lane vector no block and go scalar.
        int interior = _g.VectorEnd - _g.InteriorFirst;
        _level = context.Simd;
        if (_level == SimdLevel.Avx512 && interior < 16)
        {
            _level = SimdLevel.Avx2;
        }
        if (_level == SimdLevel.Avx2 && interior < 8)
        {
            _level = SimdLevel.Vector128;
        }
        string path = shape.Params.StrideW is 1 or 2 ? "rows" : "scalar";
        Algorithm = $"{_op.ToLowerInvariant()}-{path}-{ElementwiseThreading.LevelName(_level)}";
    }

    public string Algorithm { get; }
    public long WorkspaceBytes => 0;
    public TensorShape OutputShape { get; }

    public void Execute(Tensor x, Tensor y)
    {
        Reference.RequireShape(x, _inputShape, "input", _op, _shape);
        Reference.RequireShape(y, OutputShape, "output", _op, _shape);
        _x = x;
        _y = y;
        try
        {
            // WorkerPool.For runs a single chunk inline on the calling thread.
            _context.Pool.For(_chunks, this);
        }
        finally
        {
            _x = null;
            _y = null;
        }
    }

    public void Run(int index)
    {
        int first = (int)((long)index * _planes / _chunks), end = (int)((long)(index + 1) * _planes / _chunks);
        ref float x = ref MemoryMarshal.GetReference(_x!.Span);
        ref float y = ref MemoryMarshal.GetReference(_y!.Span);
        int inPlane = _g.H * _g.W, outPlane = _g.P * _g.Q;
        for (int plane = first; plane < end; plane++)
        {
            ref float xp = ref System.Runtime.CompilerServices.Unsafe.Add(ref x, (nint)plane * inPlane);
            ref float yp = ref System.Runtime.CompilerServices.Unsafe.Add(ref y, (nint)plane * outPlane);
            if (_max)
            {
                PlaneOf<MaxFlag>(ref xp, ref yp);
            }
            else
            {
                PlaneOf<AvgFlag>(ref xp, ref yp);
            }
        }
    }

    private void PlaneOf<TMax>(ref float x, ref float y) where TMax : struct, IFlag
    {
        switch (_level)
        {
            case SimdLevel.Avx512: Pool2dKernels.Plane<Float512, TMax>(_g, ref x, ref y); break;
            case SimdLevel.Avx2: Pool2dKernels.Plane<Float256, TMax>(_g, ref x, ref y); break;
            case SimdLevel.Vector128: Pool2dKernels.Plane<Float128, TMax>(_g, ref x, ref y); break;
            default: Pool2dKernels.PlaneScalar<TMax>(_g, ref x, ref y); break;
        }
    }

    public void Dispose()
    {
    }
}

/// <summary>GlobalMaxPool / GlobalAveragePool on the <c>cpu</c> backend: one plane kernel per N·C plane (<see cref="GlobalPoolKernels"/>), planes split across the pool when large.</summary>
internal sealed class CpuGlobalPoolPlan : IUnaryPlan, IParallelJob
{
    private readonly TensorShape _input;
    private readonly bool _max;
    private readonly CpuContext _context;
    private readonly int _planes;
    private readonly int _hw;
    private readonly int _chunks;
    private readonly string _op;
    private Tensor? _x;
    private Tensor? _y;

    public CpuGlobalPoolPlan(TensorShape input, bool max, CpuContext context)
    {
        _op = max ? "GlobalMaxPool" : "GlobalAveragePool";
        input.RequireRank(4, "input", _op);
        if (input.ElementCount == 0)
        {
            throw new InvalidShapeException($"{_op}: every dimension must be >= 1, got input {input}.");
        }
        _input = input;
        _max = max;
        _context = context;
        _planes = input[0] * input[1];
        _hw = input[2] * input[3];
        _chunks = ElementwiseThreading.Chunks((long)_planes * _hw, _planes, context.Pool);
        OutputShape = TensorShape.Of(input[0], input[1], 1, 1);
        Algorithm = $"{_op.ToLowerInvariant()}-{ElementwiseThreading.LevelName(context.Simd)}";
    }

    public string Algorithm { get; }
    public long WorkspaceBytes => 0;
    public TensorShape OutputShape { get; }

    public void Execute(Tensor x, Tensor y)
    {
        Reference.RequireShape(x, _input, "input", _op, _input);
        Reference.RequireShape(y, OutputShape, "output", _op, _input);
        _x = x;
        _y = y;
        try
        {
            // WorkerPool.For runs a single chunk inline on the calling thread.
            _context.Pool.For(_chunks, this);
        }
        finally
        {
            _x = null;
            _y = null;
        }
    }

    public void Run(int index)
    {
        int first = (int)((long)index * _planes / _chunks), end = (int)((long)(index + 1) * _planes / _chunks);
        ref float x = ref MemoryMarshal.GetReference(_x!.Span);
        Span<float> y = _y!.Span;
        for (int plane = first; plane < end; plane++)
        {
            ref float xp = ref System.Runtime.CompilerServices.Unsafe.Add(ref x, (nint)plane * _hw);
            y[plane] = _max ? PlaneOf<MaxFlag>(ref xp) : PlaneOf<AvgFlag>(ref xp);
        }
    }

    private float PlaneOf<TMax>(ref float x) where TMax : struct, IFlag => _context.Simd switch
    {
        SimdLevel.Avx512 => GlobalPoolKernels.Plane<Float512, TMax>(ref x, _hw),
        SimdLevel.Avx2 => GlobalPoolKernels.Plane<Float256, TMax>(ref x, _hw),
        SimdLevel.Vector128 => GlobalPoolKernels.Plane<Float128, TMax>(ref x, _hw),
        _ => GlobalPoolKernels.PlaneScalar<TMax>(ref x, _hw),
    };

    public void Dispose()
    {
    }
}
