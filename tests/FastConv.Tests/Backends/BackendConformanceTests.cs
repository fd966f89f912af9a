using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Ops;
using FastConv.Tests.Support;

namespace FastConv.Tests.Backends;

/// <summary>
/// One test body for every backend: each op, planned and executed through <see cref="IBackend"/>, against
/// the <c>reference</c> backend on the same inputs. Subclasses say which backend; a backend that cannot run
/// here (no GPU) reports Ignored with the reason from <see cref="CreateBackend"/>.
/// Outputs are NaN-poisoned first, so an element a kernel forgets to write fails.
/// </summary>
public abstract class BackendConformanceTests
{
    private const double U = 1.0 / (1 << 24);
    private IBackend? _backend;
    private readonly ReferenceBackend _reference = new();

    /// <summary>Creates the backend under test; call <see cref="Assert.Ignore(string)"/> when it cannot run here.</summary>
    protected abstract IBackend CreateBackend();

    /// <summary>How much looser than the fp32 accumulation bound a backend's conv may be (e.g. Winograd); 1 by default.</summary>
    protected virtual double ConvErrorFactor(IConv2dPlan plan) => 1.0;

    protected IBackend Backend => _backend ??= CreateBackend();

    [OneTimeTearDown]
    public void DisposeBackends()
    {
        _backend?.Dispose();
        _reference.Dispose();
    }

    /// <summary>The edges set, each with a different epilogue: none, bias, bias+Relu, folded BN + residual + Relu6, …</summary>
    public static IEnumerable<TestCaseData> ConvCases() => ConvCaseSource.Edges(80, seed: 11);

    [TestCaseSource(nameof(ConvCases))]
    public void Conv2d(ConvCase c) => CheckConv(Backend, c, ConvErrorFactor);

    /// <summary>
    /// Plans and runs <paramref name="c"/> on <paramref name="backend"/> and compares it with the reference;
    /// <paramref name="planner"/>, when given, plans instead of the backend's PlanConv2d (e.g. an algorithm with a
    /// forced schedule).
    /// </summary>
    internal static void CheckConv(IBackend backend, ConvCase c, Func<IConv2dPlan, double> errorFactor,
        Func<Conv2dShape, Tensor, Tensor?, ConvEpilogue, IConv2dPlan>? planner = null)
    {
        var rng = new Random(c.Seed);
        Conv2dShape s = c.Shape;
        var x = TestData.Floats(rng, s.InputShape);
        var w = TestData.Floats(rng, s.WeightShape);
        Tensor? bias = c.Bias ? TestData.Floats(rng, TensorShape.Of(s.K)) : null;
        Tensor? residual = c.Epilogue.AddResidual ? TestData.Floats(rng, s.OutputShape) : null;
        ConvEpilogue epilogue = c.Epilogue;

        var expected = TestData.Poisoned(s.OutputShape);
        Reference.Conv2dFused(x, w, bias, s.Params, epilogue, residual, expected);

        using IConv2dPlan plan = planner is null ? backend.PlanConv2d(s, w, bias, epilogue) : planner(s, w, bias, epilogue);
        var actual = TestData.Poisoned(s.OutputShape);
        plan.Execute(x, actual, residual);

        // Σ|terms|: the same fused op on absolute values, without the activation (all ours are Lipschitz ≤ 1.5).
        var magnitude = Tensor.Allocate(s.OutputShape);
        var absEpilogue = epilogue with
        {
            Scale = epilogue.Scale?.Select(MathF.Abs).ToArray(),
            Shift = epilogue.Shift?.Select(MathF.Abs).ToArray(),
            Activation = Activation.None,
        };
        Reference.Conv2dFused(TestData.Abs(x), TestData.Abs(w), bias is null ? null : TestData.Abs(bias), s.Params, absEpilogue,
            residual is null ? null : TestData.Abs(residual), magnitude);
        // Accumulation of n = C/g·R·S products plus bias, scale, shift and residual steps: 2·γ_{n+4}·Σ|terms|,
        // times 1.5 for the steepest activation, plus 8 ulp of the result for a transcendental activation.
        double gamma = 2 * Tolerance.Gamma(s.InputChannelsPerGroup * s.R * s.S + 4) * 1.5 * errorFactor(plan);
        var bound = Tensor.Allocate(s.OutputShape);
        for (int i = 0; i < bound.Length; i++)
        {
            bound.Span[i] = (float)(gamma * magnitude.Span[i] + 8 * U * (Math.Abs(expected.Span[i]) + 1));
        }
        Compare.Close(expected, actual, $"{backend.Name} [{plan.Algorithm}] {c}", bound);
    }

    public static IEnumerable<TestCaseData> PoolCases()
    {
        int made = 0;
        foreach (Pool2dShape shape in ShapeSets.Pool2dEdges(40, seed: 5))
        {
            bool max = made % 2 == 0;
            yield return new TestCaseData(shape, max).SetName($"{(max ? "MaxPool2d" : "AvgPool2d")}({shape}) #{made}");
            made++;
        }
        // The pool set itself, at batch 1 (max-pool 2×2/2 on 64×224×224 shrunk to 64×24×24).
        yield return new TestCaseData(new Pool2dShape(1, 64, 24, 24, ShapeSets.Pool2x2), true).SetName("MaxPool2d(pool set, 64x24x24)");
    }

    [TestCaseSource(nameof(PoolCases))]
    public void Pool2d(Pool2dShape shape, bool max)
    {
        var rng = new Random(shape.GetHashCode());
        var x = TestData.Floats(rng, shape.InputShape);
        using var refPlan = _reference.PlanPool2d(shape, max);
        using var plan = Backend.PlanPool2d(shape, max);
        var expected = TestData.Poisoned(shape.OutputShape);
        var actual = TestData.Poisoned(shape.OutputShape);
        refPlan.Execute(x, expected);
        plan.Execute(x, actual);
        string problem = $"{Backend.Name} [{plan.Algorithm}] {(max ? "MaxPool2d" : "AvgPool2d")} {shape}";
        if (max)
        {
            Compare.Exact(expected, actual, problem); // a max is exact in any order
        }
        else
        {
            // A sum of at most R·S values and one division: 2·γ_{RS+1}·mean|x| bounds both orders.
            var magnitude = TestData.Poisoned(shape.OutputShape);
            refPlan.Execute(TestData.Abs(x), magnitude);
            Compare.Close(expected, actual, problem, Tolerance.Accumulation(shape.R * shape.S + 1, magnitude));
        }
    }

    public static IEnumerable<TestCaseData> GlobalPoolCases()
    {
        int[][] shapes = [[1, 1, 1, 1], [1, 3, 7, 7], [2, 17, 5, 9], [1, 64, 14, 14], [3, 33, 1, 13], [2, 8, 16, 16]];
        foreach (int[] d in shapes)
        {
            foreach (bool max in new[] { true, false })
            {
                yield return new TestCaseData(d, max).SetName($"{(max ? "GlobalMaxPool" : "GlobalAveragePool")}([{string.Join(",", d)}])");
            }
        }
    }

    [TestCaseSource(nameof(GlobalPoolCases))]
    public void GlobalPool(int[] dims, bool max)
    {
        var shape = new TensorShape(dims);
        var x = TestData.Floats(new Random(dims.Sum()), shape);
        using var refPlan = _reference.PlanGlobalPool(shape, max);
        using var plan = Backend.PlanGlobalPool(shape, max);
        var expected = TestData.Poisoned(refPlan.OutputShape);
        var actual = TestData.Poisoned(plan.OutputShape);
        refPlan.Execute(x, expected);
        plan.Execute(x, actual);
        string problem = $"{Backend.Name} [{plan.Algorithm}] {(max ? "GlobalMaxPool" : "GlobalAveragePool")} X={shape}";
        if (max)
        {
            Compare.Exact(expected, actual, problem);
        }
        else
        {
            var magnitude = TestData.Poisoned(refPlan.OutputShape);
            refPlan.Execute(TestData.Abs(x), magnitude);
            Compare.Close(expected, actual, problem, Tolerance.Accumulation(dims[2] * dims[3] + 1, magnitude));
        }
    }

    public static IEnumerable<TestCaseData> ActivationCases()
    {
        Activation[] all =
        [
            Activation.Relu, Activation.LeakyRelu(0.1f), Activation.Relu6, Activation.Clip(-0.5f, 0.25f), Activation.Sigmoid,
            Activation.Tanh, Activation.HardSigmoid(), Activation.HardSwish, Activation.Swish(), Activation.Swish(1.702f), Activation.None,
        ];
        // Lengths around every vector width and its tails, plus the relu set shrunk (64×24×24).
        int[] lengths = [0, 1, 3, 7, 8, 15, 16, 17, 31, 33, 64, 100, 257, 64 * 24 * 24];
        foreach (Activation a in all)
        {
            foreach (int n in lengths)
            {
                yield return new TestCaseData(a, n).SetName($"Activation({a}, X=[{n}])");
            }
        }
    }

    [TestCaseSource(nameof(ActivationCases))]
    public void Activation_(Activation activation, int length)
    {
        var shape = TensorShape.Of(length);
        var x = TestData.Floats(new Random(length + 7), shape, -8f, 8f);
        if (length > 4)
        {
            x.Span[0] = float.NaN;
            x.Span[1] = float.PositiveInfinity;
            x.Span[2] = float.NegativeInfinity;
            x.Span[3] = -0f;
        }
        using var refPlan = _reference.PlanActivation(activation, shape);
        using var plan = Backend.PlanActivation(activation, shape);
        var expected = TestData.Poisoned(shape);
        refPlan.Execute(x, expected);
        var actual = TestData.Poisoned(shape);
        plan.Execute(x, actual);
        // Piecewise-linear activations are exact; the transcendental ones within 8 ulp + 4u absolute.
        bool exact = activation.Kind is ActivationKind.None or ActivationKind.Relu or ActivationKind.LeakyRelu or ActivationKind.Clip;
        string problem = $"{Backend.Name} [{plan.Algorithm}] {activation} X=[{length}]";
        if (exact)
        {
            Compare.Exact(expected, actual, problem);
        }
        else
        {
            Compare.Close(expected, actual, problem, (float)(4 * U), (float)(8 * U));
        }
        // In place gives the same answer.
        plan.Execute(x, x);
        Compare.Close(actual, x, problem + " (in place)", 0f, 0f);
    }

    public static IEnumerable<TestCaseData> SoftmaxCases()
    {
        int[][] shapes = [[1], [10], [1, 1000], [3, 17], [2, 5, 7], [2, 3, 4, 5], [8, 33]];
        foreach (int[] d in shapes)
        {
            for (int axis = -1; axis >= -d.Length; axis--)
            {
                yield return new TestCaseData(d, axis).SetName($"Softmax(X=[{string.Join(",", d)}], axis={axis})");
            }
        }
    }

    [TestCaseSource(nameof(SoftmaxCases))]
    public void Softmax(int[] dims, int axis)
    {
        var shape = new TensorShape(dims);
        var x = TestData.Floats(new Random(dims.Sum() + axis), shape, -4f, 4f);
        using var refPlan = _reference.PlanSoftmax(shape, axis);
        using var plan = Backend.PlanSoftmax(shape, axis);
        var expected = TestData.Poisoned(shape);
        var actual = TestData.Poisoned(shape);
        refPlan.Execute(x, expected);
        plan.Execute(x, actual);
        // exp of x − max in float: u·(8 + |x − max|) relative, |x − max| ≤ 8 here; plus the sum's γ_n.
        int n = dims[shape.NormalizeAxis(axis, "Softmax")];
        Compare.Close(expected, actual, $"{Backend.Name} [{plan.Algorithm}] Softmax X={shape} axis={axis}", (float)U, (float)(16 * U + 2 * Tolerance.Gamma(n)));
    }

    public static IEnumerable<TestCaseData> GemmCases()
    {
        // FC layers (A = activations [M, K], B = weights [N, K] transposed, C = bias [N]) and odd sizes.
        (int M, int N, int K, bool TransB, bool WithC)[] cases =
        [
            (1, 10, 84, true, true), (1, 1000, 512, true, true), (8, 120, 400, true, true), (3, 7, 5, false, false),
            (17, 33, 65, true, false), (2, 1, 1, false, true), (5, 129, 31, false, true), (1, 4096, 256, true, true),
            // Batch 1-4 FC layers (the cpu's packed-gemv): N off the panel width, K across several KC blocks, B split over threads.
            (2, 37, 700, true, true), (3, 100, 513, false, false), (4, 1, 1, true, true), (1, 1024, 3136, true, true), (4, 333, 1025, false, true),
        ];
        foreach (var (m, n, k, tb, wc) in cases)
        {
            yield return new TestCaseData(m, n, k, tb, wc).SetName($"Gemm(M={m} N={n} K={k} transB={tb} C={wc})");
        }
    }

    [TestCaseSource(nameof(GemmCases))]
    public void Gemm(int m, int n, int k, bool transB, bool withC)
    {
        var rng = new Random(m * 131 + n * 7 + k);
        var a = TestData.Floats(rng, TensorShape.Of(m, k));
        var b = TestData.Floats(rng, transB ? TensorShape.Of(n, k) : TensorShape.Of(k, n));
        Tensor? c = withC ? TestData.Floats(rng, TensorShape.Of(n)) : null;
        var p = new GemmParams { TransB = transB };
        using var refPlan = _reference.PlanGemm(a.Shape, b, c, p);
        using var plan = Backend.PlanGemm(a.Shape, b, c, p);
        var expected = TestData.Poisoned(refPlan.OutputShape);
        var actual = TestData.Poisoned(plan.OutputShape);
        refPlan.Execute(a, expected);
        plan.Execute(a, actual);
        var magnitude = TestData.Poisoned(refPlan.OutputShape);
        using (var absPlan = _reference.PlanGemm(a.Shape, TestData.Abs(b), c is null ? null : TestData.Abs(c), p))
        {
            absPlan.Execute(TestData.Abs(a), magnitude);
        }
        Compare.Close(expected, actual, $"{Backend.Name} [{plan.Algorithm}] Gemm M={m} N={n} K={k} transB={transB} C={withC}", Tolerance.Accumulation(k + 2, magnitude));
    }
}
