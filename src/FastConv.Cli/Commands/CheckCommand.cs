using System.CommandLine;
using System.Globalization;
using System.Text;
using FastConv.Backends;
using FastConv.Gpu.FcKernels;
using FastConv.Ops;
using Spectre.Console;

namespace FastConv.Cli.Commands;

/// <summary>
/// <c>fastconv check</c>: every op of a named shape set, on each backend asked for, against the <c>reference</c>
/// backend (the oracle) on the same seeded inputs. On <c>cuda</c> and <c>cuda-emu</c> every kernel variant that can
/// run a case is checked, each as its own case. One line per case, then <c>N cases, M mismatches</c>; exit 1 on any
/// mismatch, 2 when a backend named in <c>--backend</c> could not be created or no case ran at all (each said why,
/// after the summary): a run that checked nothing must not look like a pass. <c>--backend</c> takes comma-separated
/// names and may repeat. <c>--dump DIR</c> writes the inputs, the reference and the output of each mismatch as .npy files.
/// </summary>
public static class CheckCommand
{
    public static IReadOnlyList<string> Sets { get; } = ["edges", "vgg16", "resnet50", "mobilenet", "all"];

    public static Command Create(IAnsiConsole console)
    {
        _ = console;
        var backends = new Option<string[]>("--backend")
        {
            Description = "Backends to check, comma-separated or repeated: reference, cpu, cuda, cudnn, cublas, cuda-emu. Default: cpu and cuda-emu.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var set = new Option<string>("--set") { Description = "The shape set: edges (small, every edge case), vgg16, resnet50, mobilenet, or all.", DefaultValueFactory = _ => "edges" };
        set.AcceptOnlyFromAmong([.. Sets]);
        var dump = new Option<DirectoryInfo?>("--dump") { Description = "Write input, reference and output of each mismatch as .npy files into this folder." };
        var seed = new Option<int>("--seed") { Description = "Seed of the generated shapes (edges) and of every input.", DefaultValueFactory = _ => 1 };
        var batch = new Option<int>("--batch") { Description = "Batch size N for the network sets (edges choose their own).", DefaultValueFactory = _ => 1 };
        var asan = new Option<bool>("--asan")
        {
            Description = "Run cuda-emu's kernels built with AddressSanitizer (the check runs again in a child process with libasan preloaded): an out-of-bounds access stops it with the report.",
        };
        var model = new Option<string?>("--model")
        {
            Description = "Check a whole model (an .onnx file or builtin:NAME) instead of a shape set: each output on each backend against the reference backend, within the network agreement bound.",
        };
        Option<string[]> shape = ShapeOption.Create();
        var command = new Command("check", "Compare every op of a shape set (or a whole model) on each backend with the reference backend; exit 1 on any mismatch.")
        {
            backends, set, dump, seed, batch, asan, model, shape,
        };
        command.SetAction(parse =>
        {
            string? modelPath = parse.GetValue(model);
            if (parse.GetValue(asan))
            {
                var again = new List<string> { "check", "--set", parse.GetValue(set) ?? "edges", "--seed", $"{parse.GetValue(seed)}", "--batch", $"{parse.GetValue(batch)}" };
                if (modelPath is not null)
                {
                    again.AddRange(["--model", modelPath]);
                }
                foreach (string sh in parse.GetValue(shape) ?? [])
                {
                    again.AddRange(["--shape", sh]);
                }
                foreach (string b in OptionLists.Split(parse.GetValue(backends)))
                {
                    again.AddRange(["--backend", b]);
                }
                if (parse.GetValue(dump) is { } d)
                {
                    again.AddRange(["--dump", d.FullName]);
                }
                return AddressSanitizer.RunChild(again, parse.InvocationConfiguration.Output);
            }
            IReadOnlyList<string> named = OptionLists.Split(parse.GetValue(backends));
            if (named.Count == 0 && parse.GetValue(backends) is { Length: > 0 })
            {
                throw new CommandLineException("check: --backend names no backend; give e.g. --backend cuda,cudnn,cublas.");
            }
            IReadOnlyList<string> names = named.Count > 0 ? named : [BackendNames.Cpu, BackendNames.CudaEmu];
            if (modelPath is not null)
            {
                return ModelCheck.Run(modelPath, ShapeOption.Parse(parse.GetValue(shape)), names, parse.GetValue(seed), parse.GetValue(dump)?.FullName,
                    parse.InvocationConfiguration.Output);
            }
            if (parse.GetValue(shape) is { Length: > 0 })
            {
                throw new CommandLineException("check: --shape fixes a model's dynamic dimensions; give the model with --model.");
            }
            return Run(names, parse.GetValue(set) ?? "edges", parse.GetValue(dump)?.FullName, parse.GetValue(seed), parse.GetValue(batch),
                parse.InvocationConfiguration.Output);
        });
        return command;
    }

    /// <summary>Runs the check and writes its report; returns the exit code (0 all match, 1 mismatches, 2 a backend unavailable or nothing ran).</summary>
    public static int Run(IReadOnlyList<string> backendNames, string set, string? dumpDir, int seed, int batch, TextWriter output)
    {
        if (batch < 1)
        {
            throw new InvalidHyperparameterException($"check: --batch must be >= 1, got {batch}.");
        }
        List<CheckCase> cases = CheckCases.For(set, seed, batch);
        using IBackend reference = BackendRegistry.Create(BackendNames.Reference);
        int total = 0, mismatches = 0;
        var unavailable = new List<string>();
        foreach (string name in backendNames)
        {
            IBackend backend;
            try
            {
                backend = BackendRegistry.Create(name);
            }
            catch (BackendUnavailableException e)
            {
                output.WriteLine($"skip {name}: {e.Reason}");
                unavailable.Add($"{name}: {e.Reason}");
                continue;
            }
            using (backend)
            {
                foreach (CheckCase c in cases)
                {
                    foreach ((IBackend variant, string? forced) in Variants(backend, c))
                    {
                        total++;
                        CheckResult r;
                        try
                        {
                            r = c.Run(variant, reference);
                        }
                        catch (FastConvException e)
                        {
                            r = CheckResult.Failed(forced ?? "?", $"error: {e.Message}");
                        }
                        string algorithm = forced ?? r.Algorithm;
                        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"{(r.Ok ? "ok      " : "MISMATCH")} {name,-9} {algorithm,-22} {c.Name}  {r.Detail}"));
                        if (!r.Ok)
                        {
                            mismatches++;
                            if (dumpDir is not null)
                            {
                                Dump(dumpDir, total, name, algorithm, r.Tensors);
                            }
                        }
                    }
                }
            }
        }
        output.WriteLine($"{total} cases, {mismatches} mismatches");
        foreach (string u in unavailable)
        {
            output.WriteLine($"error: not checked, backend unavailable: {u}");
        }
        if (total == 0)
        {
            output.WriteLine($"error: nothing ran (set {set}, backends {string.Join(", ", backendNames)}): no case was checked");
        }
        return mismatches > 0 ? 1 : unavailable.Count > 0 || total == 0 ? 2 : 0;
    }

    // On our own kernels every variant that can run the case; elsewhere the backend's own choice.
    private static IEnumerable<(IBackend Backend, string? Forced)> Variants(IBackend backend, CheckCase c)
    {
        if (backend is not FcKernelBackend fc)
        {
            yield return (backend, null);
            yield break;
        }
        foreach ((string kernel, FcKernelOptions options) in c.Variants(fc.Options))
        {
            yield return (fc.With(options), kernel);
        }
    }

    private static void Dump(string dir, int caseNumber, string backend, string algorithm, IReadOnlyList<(string Name, Tensor Tensor)> tensors)
    {
        Directory.CreateDirectory(dir);
        foreach ((string what, Tensor t) in tensors)
        {
            string file = Path.Combine(dir, $"{caseNumber:D4}-{backend}-{algorithm}-{what}.npy");
            Npy.Write(file, t);
        }
    }
}

/// <summary>What one case on one backend came to: pass or not, a line of detail, and the tensors to dump.</summary>
internal sealed record CheckResult(bool Ok, string Algorithm, string Detail, IReadOnlyList<(string Name, Tensor Tensor)> Tensors)
{
    public static CheckResult Failed(string algorithm, string detail) => new(false, algorithm, detail, []);
}

/// <summary>One op on one shape with its seeded inputs; <see cref="Run"/> plans and executes it on a backend and the oracle.</summary>
internal abstract class CheckCase(string name, int seed)
{
    protected const double U = 1.0 / (1 << 24);

    public string Name => name;
    protected int Seed => seed;

    /// <summary>The kernel variants of native/kernels that can run this case, each with the options that force it.</summary>
    public abstract IEnumerable<(string Kernel, FcKernelOptions Options)> Variants(FcKernelOptions baseOptions);

    public abstract CheckResult Run(IBackend backend, IBackend reference);

    protected static double Gamma(int n) => n * U / (1 - n * U);

    protected static Tensor Floats(Random rng, TensorShape shape, float lo = -1f, float hi = 1f)
    {
        var t = Tensor.Allocate(shape);
        Span<float> s = t.Span;
        for (int i = 0; i < s.Length; i++)
        {
            s[i] = lo + (hi - lo) * rng.NextSingle();
        }
        return t;
    }

    protected static Tensor Poisoned(TensorShape shape)
    {
        var t = Tensor.Allocate(shape);
        t.Span.Fill(float.NaN);
        return t;
    }

    protected static Tensor Abs(Tensor x)
    {
        var t = Tensor.Allocate(x.Shape);
        for (int i = 0; i < t.Length; i++)
        {
            t.Span[i] = MathF.Abs(x.Span[i]);
        }
        return t;
    }

    /// <summary>
    /// |actual − expected| ≤ bound(i) for every element; NaN passes only against NaN (so unwritten, NaN-poisoned
    /// outputs fail). The detail names the first bad element or the worst error relative to its bound.
    /// </summary>
    protected static CheckResult Compare(string algorithm, Tensor expected, Tensor actual, Func<int, double> bound, IReadOnlyList<(string, Tensor)> inputs)
    {
        ReadOnlySpan<float> e = expected.Span, a = actual.Span;
        int bad = 0, first = -1;
        double worst = 0;
        for (int i = 0; i < e.Length; i++)
        {
            double err = Math.Abs((double)a[i] - e[i]);
            bool ok = e[i].Equals(a[i]) || (!float.IsNaN(a[i]) && !float.IsNaN(e[i]) && err <= bound(i));
            if (!ok)
            {
                bad++;
                if (first < 0)
                {
                    first = i;
                }
            }
            else if (bound(i) > 0 && !double.IsNaN(err) && !double.IsInfinity(err))
            {
                worst = Math.Max(worst, err / bound(i));
            }
        }
        if (bad == 0)
        {
            return new CheckResult(true, algorithm, string.Create(CultureInfo.InvariantCulture, $"worst error {worst:F3} of its bound"), []);
        }
        var tensors = new List<(string, Tensor)>(inputs) { ("reference", expected), ("output", actual) };
        return new CheckResult(false, algorithm, string.Create(CultureInfo.InvariantCulture,
            $"{bad} of {e.Length} elements outside the bound; first at flat index {first}: got {a[first]:R}, expected {e[first]:R}, bound {bound(first):G3}"), tensors);
    }
}

internal sealed class ConvCheck(Conv2dShape shape, bool bias, ConvEpilogue epilogue, int seed)
    : CheckCase($"Conv2d {shape} bias={bias} epilogue[{epilogue}]", seed)
{
    private (Tensor Expected, Tensor Magnitude)? _oracle;

    public override IEnumerable<(string, FcKernelOptions)> Variants(FcKernelOptions o)
        => FcKernelVariants.Conv2d.Where(k => FcKernelVariants.WhyNot(k, shape) is null).Select(k => (k, o with { Conv2d = k }));

    public override CheckResult Run(IBackend backend, IBackend reference)
    {
        var rng = new Random(Seed);
        Tensor x = Floats(rng, shape.InputShape), w = Floats(rng, shape.WeightShape);
        Tensor? b = bias ? Floats(rng, TensorShape.Of(shape.K)) : null;
        Tensor? residual = epilogue.AddResidual ? Floats(rng, shape.OutputShape) : null;
        Tensor actual = Poisoned(shape.OutputShape);
        // The oracle's answer depends only on the seeded inputs: computed once per case, not once per backend and
        // kernel variant (the scalar reference is most of a network set's time).
        if (_oracle is null)
        {
            Tensor e = Poisoned(shape.OutputShape), m = Poisoned(shape.OutputShape);
            using (IConv2dPlan r = reference.PlanConv2d(shape, w, b, epilogue))
            {
                r.Execute(x, e, residual);
            }
            // Σ|terms| per output: the op on absolute values, no activation (ours are Lipschitz ≤ 1.5).
            var absEpilogue = epilogue with { Scale = epilogue.Scale?.Select(MathF.Abs).ToArray(), Shift = epilogue.Shift?.Select(MathF.Abs).ToArray(), Activation = Activation.None };
            using (IConv2dPlan r = reference.PlanConv2d(shape, Abs(w), b is null ? null : Abs(b), absEpilogue))
            {
                r.Execute(Abs(x), m, residual is null ? null : Abs(residual));
            }
            _oracle = (e, m);
        }
        (Tensor expected, Tensor magnitude) = _oracle.Value;
        string algorithm;
        using (IConv2dPlan plan = backend.PlanConv2d(shape, w, b, epilogue))
        {
            algorithm = plan.Algorithm;
            plan.Execute(x, actual, residual);
        }
        (double componentwise, double normwise) = ConvErrorBounds.For(algorithm, shape);
        double largest = 0;
        foreach (float m in magnitude.Span)
        {
            largest = Math.Max(largest, m);
        }
        double floor = normwise * largest;
        var inputs = new List<(string, Tensor)> { ("input", x), ("weights", w) };
        if (b is not null)
        {
            inputs.Add(("bias", b));
        }
        if (residual is not null)
        {
            inputs.Add(("residual", residual));
        }
        return Compare(algorithm, expected, actual, i => componentwise * magnitude.Span[i] + floor + 8 * U * (Math.Abs(expected.Span[i]) + 1), inputs);
    }
}

/// <summary>
/// How far a convolution algorithm's fp32 result may be from the exact value, by the algorithm the plan reports:
/// <c>|y − ŷ| ≤ componentwise·Σ|terms| + normwise·max Σ|terms|</c> (the max over the whole output), plus the
/// check's 8 ulp for the epilogue. Σ|terms| is the op on absolute values (conv, bias, BN, residual; no activation).
/// </summary>
internal static class ConvErrorBounds
{
    private const double U = 1.0 / (1 << 24);

    private static double Gamma(int n) => n * U / (1 - n * U);

    public static (double Componentwise, double Normwise) For(string algorithm, Conv2dShape s)
    {
        // Direct summation in any order (our kernels, implicit/explicit GEMM, cuBLAS with split-K or not): each output
        // is a dot product of n = C/g·R·S terms plus 4 epilogue steps, so |error| ≤ γ_{n+4}·Σ|terms| (Higham 3.1);
        // ×2 for the rounding of the magnitude itself, ×1.5 for the steepest activation (HardSwish's slope).
        int n = s.InputChannelsPerGroup * s.R * s.S + 4;
        double direct = 2 * Gamma(n) * 1.5;
        if (algorithm == "conv2d_v4_igemm_tf32")
        {
            // TF32 rounds both operands (≤ 2⁻¹¹ relative each): ≤ 2⁻¹⁰·Σ|terms| more; factor 1 + 2⁻¹⁰/γ keeps a 3× margin.
            return (direct * (1.0 + Math.Pow(2, -10) / Gamma(n)), 0);
        }
        string cudnn = algorithm.StartsWith("cudnn-", StringComparison.Ordinal) ? algorithm["cudnn-".Length..].Split('+')[0] : "";
        switch (cudnn)
        {
            case "fft":
            case "fft-tiling":
            {
                // FFT convolution is accurate only normwise: a length-L transform adds O(u·log₂L) error relative to the
                // norms of x and w (on top of the channel sum's), spread over every output, so an output much smaller than
                // its neighbours can be off by far more than its own Σ|terms|. Bound: the direct-summation bound scaled by
                // log₂L, taken against the largest Σ|terms| of the output. L is the padded plane (fft) or cuDNN's 32×32
                // tile (fft-tiling). Not yet measured on a GPU.
                double plane = cudnn == "fft" ? (double)(s.H + s.Params.Padding.Top + s.Params.Padding.Bottom) * (s.W + s.Params.Padding.Left + s.Params.Padding.Right) : 32 * 32;
                return (direct, direct * Math.Log2(Math.Max(2, plane)));
            }
            case "winograd":
            case "winograd-nonfused":
                // Winograd's transforms multiply and divide by their interpolation points, so the error is normwise and
                // grows with the tile: published fp32 measurements put F(4×4,3×3) at 2⁶–2⁸ times direct summation and
                // F(6×6,3×3) near 2¹⁰ (Barabasz, Anderson, Soodhalter, Gregg, 2020). cuDNN does not say which tile its
                // nonfused variant uses, so both get 2¹⁰·γ_n of the largest Σ|terms|. Not yet measured on a GPU.
                return (direct, 1024 * Gamma(n));
            default:
                return (direct, 0);
        }
    }
}

internal sealed class PoolCheck(Pool2dShape shape, bool max, int seed) : CheckCase($"{(max ? "MaxPool2d" : "AvgPool2d")} {shape}", seed)
{
    public override IEnumerable<(string, FcKernelOptions)> Variants(FcKernelOptions o)
        => FcKernelVariants.Pool2d.Where(k => FcKernelVariants.WhyNot(k, shape) is null).Select(k => (k, o with { Pool2d = k }));

    public override CheckResult Run(IBackend backend, IBackend reference)
    {
        Tensor x = Floats(new Random(Seed), shape.InputShape);
        Tensor expected = Poisoned(shape.OutputShape), actual = Poisoned(shape.OutputShape), magnitude = Poisoned(shape.OutputShape);
        using (IUnaryPlan r = reference.PlanPool2d(shape, max))
        {
            r.Execute(x, expected);
            r.Execute(Abs(x), magnitude);
        }
        using IUnaryPlan plan = backend.PlanPool2d(shape, max);
        plan.Execute(x, actual);
        // A max is exact in any order; an average of ≤ R·S values and one division: 2·γ_{RS+2}·mean|x|.
        double g = max ? 0 : 2 * Gamma(shape.R * shape.S + 2);
        return Compare(plan.Algorithm, expected, actual, i => g * magnitude.Span[i], [("input", x)]);
    }
}

internal sealed class GlobalPoolCheck(TensorShape shape, bool max, int seed) : CheckCase($"{(max ? "GlobalMaxPool" : "GlobalAveragePool")} X={shape}", seed)
{
    public override IEnumerable<(string, FcKernelOptions)> Variants(FcKernelOptions o)
        => FcKernelVariants.GlobalPool.Select(k => (k, o with { GlobalPool = k }));

    public override CheckResult Run(IBackend backend, IBackend reference)
    {
        Tensor x = Floats(new Random(Seed), shape);
        var outShape = TensorShape.Of(shape[0], shape[1], 1, 1);
        Tensor expected = Poisoned(outShape), actual = Poisoned(outShape), magnitude = Poisoned(outShape);
        using (IUnaryPlan r = reference.PlanGlobalPool(shape, max))
        {
            r.Execute(x, expected);
            r.Execute(Abs(x), magnitude);
        }
        using IUnaryPlan plan = backend.PlanGlobalPool(shape, max);
        plan.Execute(x, actual);
        double g = max ? 0 : 2 * Gamma(shape[2] * shape[3] + 2);
        return Compare(plan.Algorithm, expected, actual, i => g * magnitude.Span[i], [("input", x)]);
    }
}

internal sealed class ActivationCheck(Activation activation, TensorShape shape, int seed) : CheckCase($"Activation {activation} X={shape}", seed)
{
    public override IEnumerable<(string, FcKernelOptions)> Variants(FcKernelOptions o)
        => FcKernelVariants.Activation.Select(k => (k, o with { Activation = k }));

    public override CheckResult Run(IBackend backend, IBackend reference)
    {
        Tensor x = Floats(new Random(Seed), shape, -8f, 8f);
        if (x.Length > 4)
        {
            x.Span[0] = float.NaN;
            x.Span[1] = float.PositiveInfinity;
            x.Span[2] = float.NegativeInfinity;
            x.Span[3] = -0f;
        }
        Tensor expected = Poisoned(shape), actual = Poisoned(shape);
        using (IUnaryPlan r = reference.PlanActivation(activation, shape))
        {
            r.Execute(x, expected);
        }
        using IUnaryPlan plan = backend.PlanActivation(activation, shape);
        plan.Execute(x, actual);
        // Piecewise-linear activations are exact; transcendental ones (float exp/tanh) within 8 ulp + 4u absolute.
        // cuDNN may evaluate sigmoid and tanh with the hardware's approximations (tanh.approx.f32: relative error
        // ≤ 2^-10.987 by the PTX ISA; sigmoid as ½·tanh(x/2) + ½ then ≤ 2^-12 absolute): 2^-10 relative + 2^-11
        // absolute for a library's own activation, still far below any wrong formula's error.
        bool exact = activation.Kind is ActivationKind.None or ActivationKind.Relu or ActivationKind.LeakyRelu or ActivationKind.Clip;
        bool approximate = !exact && plan.Algorithm.StartsWith("cudnn-", StringComparison.Ordinal);
        return Compare(plan.Algorithm, expected, actual,
            i => exact ? 0 : approximate ? Math.Pow(2, -11) + Math.Pow(2, -10) * Math.Abs(expected.Span[i]) : 4 * U + 8 * U * Math.Abs(expected.Span[i]), [("input", x)]);
    }
}

internal sealed class SoftmaxCheck(TensorShape shape, int axis, int seed) : CheckCase($"Softmax X={shape} axis={axis}", seed)
{
    public override IEnumerable<(string, FcKernelOptions)> Variants(FcKernelOptions o)
    {
        int a = shape.NormalizeAxis(axis, "Softmax");
        bool last = Enumerable.Range(a + 1, shape.Rank - a - 1).All(i => shape[i] == 1);
        return FcKernelVariants.Softmax.Where(k => last || k != "softmax_v1_warp").Select(k => (k, o with { Softmax = k }));
    }

    public override CheckResult Run(IBackend backend, IBackend reference)
    {
        Tensor x = Floats(new Random(Seed), shape, -4f, 4f);
        Tensor expected = Poisoned(shape), actual = Poisoned(shape);
        using (IUnaryPlan r = reference.PlanSoftmax(shape, axis))
        {
            r.Execute(x, expected);
        }
        using IUnaryPlan plan = backend.PlanSoftmax(shape, axis);
        plan.Execute(x, actual);
        // exp of x − max in float (|x − max| ≤ 8 here): 16u relative, plus the sum's 2·γ_n, plus u absolute.
        int n = shape[shape.NormalizeAxis(axis, "Softmax")];
        double rel = 16 * U + 2 * Gamma(n);
        return Compare(plan.Algorithm, expected, actual, i => U + rel * Math.Abs(expected.Span[i]), [("input", x)]);
    }
}

internal sealed class GemmCheck(int m, int n, int k, bool transB, bool withC, int seed)
    : CheckCase($"Gemm M={m} N={n} K={k} transB={transB} C={withC}", seed)
{
    public override IEnumerable<(string, FcKernelOptions)> Variants(FcKernelOptions o)
        => FcKernelVariants.Gemm.Select(kernel => (kernel, o with { Gemm = kernel }));

    public override CheckResult Run(IBackend backend, IBackend reference)
    {
        var rng = new Random(Seed);
        Tensor a = Floats(rng, TensorShape.Of(m, k));
        Tensor b = Floats(rng, transB ? TensorShape.Of(n, k) : TensorShape.Of(k, n));
        Tensor? c = withC ? Floats(rng, TensorShape.Of(n)) : null;
        var p = new GemmParams { TransB = transB };
        var outShape = TensorShape.Of(m, n);
        Tensor expected = Poisoned(outShape), actual = Poisoned(outShape), magnitude = Poisoned(outShape);
        using (IUnaryPlan r = reference.PlanGemm(a.Shape, b, c, p))
        {
            r.Execute(a, expected);
        }
        using (IUnaryPlan r = reference.PlanGemm(a.Shape, Abs(b), c is null ? null : Abs(c), p))
        {
            r.Execute(Abs(a), magnitude);
        }
        using IUnaryPlan plan = backend.PlanGemm(a.Shape, b, c, p);
        plan.Execute(a, actual);
        double g = 2 * Gamma(k + 3);
        var inputs = new List<(string, Tensor)> { ("a", a), ("b", b) };
        if (c is not null)
        {
            inputs.Add(("c", c));
        }
        return Compare(plan.Algorithm, expected, actual, i => g * magnitude.Span[i], inputs);
    }
}

/// <summary>The cases of each named set (docs: SHAPES.md).</summary>
internal static class CheckCases
{
    public static List<CheckCase> For(string set, int seed, int batch) => set switch
    {
        "edges" => Edges(seed),
        "vgg16" => Vgg16(seed, batch),
        "resnet50" => ResNet50(seed, batch),
        "mobilenet" => MobileNet(seed, batch),
        "all" => [.. Edges(seed), .. Vgg16(seed, batch), .. ResNet50(seed, batch), .. MobileNet(seed, batch)],
        _ => throw new InvalidHyperparameterException($"check: unknown set '{set}' (known: {string.Join(", ", CheckCommand.Sets)})."),
    };

    private static List<CheckCase> Edges(int seed)
    {
        var rng = new Random(seed);
        var cases = new List<CheckCase>();
        int i = 0;
        foreach (Conv2dShape s in ShapeSets.Edges(60, seed))
        {
            cases.Add(new ConvCheck(s, i % 3 != 0, ShapeSets.EdgeEpilogue(i, s.K, rng), seed * 1000 + i));
            i++;
        }
        int pools = 0;
        foreach (Pool2dShape shape in ShapeSets.Pool2dEdges(16, seed))
        {
            cases.Add(new PoolCheck(shape, pools % 2 == 0, seed * 7 + pools));
            pools++;
        }
        int[][] globals = [[1, 1, 1, 1], [1, 3, 7, 7], [2, 17, 5, 9], [3, 33, 1, 13], [1, 9, 16, 16], [2, 8, 3, 3]];
        foreach (int[] d in globals)
        {
            cases.Add(new GlobalPoolCheck(new TensorShape(d), true, seed + d.Sum()));
            cases.Add(new GlobalPoolCheck(new TensorShape(d), false, seed + d.Sum() + 1));
        }
        Activation[] activations =
        [
            Activation.Relu, Activation.LeakyRelu(0.1f), Activation.Relu6, Activation.Clip(-0.5f, 0.25f), Activation.Sigmoid,
            Activation.Tanh, Activation.HardSigmoid(), Activation.HardSwish,
        ];
        int[] lengths = [1, 7, 33, 1027];
        foreach (Activation a in activations)
        {
            foreach (int n in lengths)
            {
                cases.Add(new ActivationCheck(a, TensorShape.Of(n), seed + n));
            }
        }
        int[][] softmax = [[10], [3, 17], [2, 5, 7], [4, 1000], [2, 3, 1]];
        foreach (int[] d in softmax)
        {
            for (int axis = -1; axis >= -d.Length; axis--)
            {
                cases.Add(new SoftmaxCheck(new TensorShape(d), axis, seed + d.Sum() - axis));
            }
        }
        (int M, int N, int K, bool TransB, bool WithC)[] gemms =
            [(1, 10, 84, true, true), (3, 7, 5, false, false), (17, 33, 65, true, false), (2, 1, 1, false, true), (5, 129, 31, false, true), (8, 120, 400, true, true)];
        foreach (var (m, n, k, tb, wc) in gemms)
        {
            cases.Add(new GemmCheck(m, n, k, tb, wc, seed + m * 131 + n * 7 + k));
        }
        return cases;
    }

    private static ConvEpilogue Bn(int k, Random rng, Activation activation, bool residual = false)
        => new()
        {
            Scale = [.. Enumerable.Range(0, k).Select(_ => 0.5f + 1.5f * rng.NextSingle())],
            Shift = [.. Enumerable.Range(0, k).Select(_ => rng.NextSingle() - 0.5f)],
            AddResidual = residual,
            Activation = activation,
        };

    private static List<CheckCase> Vgg16(int seed, int batch)
    {
        var cases = new List<CheckCase>();
        int i = 0;
        foreach (NamedConv2d c in ShapeSets.Vgg16)
        {
            cases.Add(new ConvCheck(c.WithBatch(batch), true, new ConvEpilogue { Activation = Activation.Relu }, seed * 1000 + 100 + i++));
        }
        foreach ((int ch, int hw) in new[] { (64, 224), (128, 112), (256, 56), (512, 28), (512, 14) })
        {
            cases.Add(new PoolCheck(new Pool2dShape(batch, ch, hw, hw, ShapeSets.Pool2x2), true, seed + ch + hw));
        }
        cases.Add(new GemmCheck(batch, 4096, 25088, true, true, seed + 1));
        cases.Add(new GemmCheck(batch, 4096, 4096, true, true, seed + 2));
        cases.Add(new GemmCheck(batch, 1000, 4096, true, true, seed + 3));
        cases.Add(new SoftmaxCheck(TensorShape.Of(batch, 1000), -1, seed + 4));
        return cases;
    }

    private static List<CheckCase> ResNet50(int seed, int batch)
    {
        var rng = new Random(seed + 50);
        var cases = new List<CheckCase>();
        int i = 0;
        foreach (NamedConv2d c in ShapeSets.ResNet50)
        {
            // Folded BN + ReLU; the expanding 1×1 of a bottleneck also adds the shortcut before its ReLU.
            bool expand = c.Name.Contains("expand", StringComparison.Ordinal);
            cases.Add(new ConvCheck(c.WithBatch(batch), false, Bn(c.K, rng, Activation.Relu, expand), seed * 1000 + 200 + i++));
        }
        cases.Add(new PoolCheck(new Pool2dShape(batch, 64, 112, 112, Pool2dParams.Create(kernel: 3, stride: 2, pad: 1)), true, seed + 5));
        cases.Add(new GlobalPoolCheck(TensorShape.Of(batch, 2048, 7, 7), false, seed + 6));
        cases.Add(new GemmCheck(batch, 1000, 2048, true, true, seed + 7));
        cases.Add(new SoftmaxCheck(TensorShape.Of(batch, 1000), -1, seed + 8));
        return cases;
    }

    private static List<CheckCase> MobileNet(int seed, int batch)
    {
        var rng = new Random(seed + 2);
        var cases = new List<CheckCase>();
        int i = 0;
        foreach (NamedConv2d c in ShapeSets.MobileNet)
        {
            // Depthwise: BN + ReLU6; pointwise: BN + ReLU6 when it expands, linear when it projects.
            Activation act = c.Params.Groups > 1 || c.K > c.C ? Activation.Relu6 : Activation.None;
            cases.Add(new ConvCheck(c.WithBatch(batch), false, Bn(c.K, rng, act), seed * 1000 + 300 + i++));
        }
        return cases;
    }
}

/// <summary>NumPy .npy (format 1.0) writer for float32 tensors, so a mismatch can be inspected with <c>numpy.load</c>.</summary>
internal static class Npy
{
    public static void Write(string path, Tensor t)
    {
        string shape = t.Shape.Rank == 1 ? $"({t.Shape[0]},)" : "(" + string.Join(", ", t.Shape.Dims.ToArray()) + ")";
        string header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}";
        // Magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of 64 and ended by '\n'.
        int total = 10 + header.Length + 1;
        header += new string(' ', (64 - total % 64) % 64) + "\n";
        using var f = File.Create(path);
        f.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        f.Write(BitConverter.GetBytes((ushort)header.Length));
        f.Write(Encoding.ASCII.GetBytes(header));
        f.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(t.Span)); // little-endian on every platform FastConv runs on
    }
}

/// <summary>
/// <c>check --asan</c>: the emulator's kernels built with AddressSanitizer (libfastconv_emu_asan.so, made by the build
/// beside libfastconv_emu.so) can be loaded into dotnet only with the ASan runtime preloaded, so the check runs again as
/// a child process with <c>LD_PRELOAD</c> set, <c>FASTCONV_EMU_LIBRARY</c> pointing at the ASan build, and ASan's
/// options that let it live beside the runtime (the runtime handles SIGSEGV itself; leak checking needs ptrace).
/// Device memory is allocated at exact sizes on the emulator, so a kernel reading past its tensor hits ASan's redzone.
/// </summary>
internal static class AddressSanitizer
{
    public const string RuntimeVariable = "FASTCONV_ASAN_RUNTIME";
    public const string LibraryName = "libfastconv_emu_asan.so";

    public static int RunChild(IReadOnlyList<string> checkArgs, TextWriter output)
    {
        string library = Path.Combine(AppContext.BaseDirectory, LibraryName);
        if (!File.Exists(library))
        {
            throw new CommandLineException($"check --asan: {library} is missing; it is built with the emulator (native/emu/build.sh OUT asan) in a build tree, not published.");
        }
        string runtime = Runtime() ?? throw new CommandLineException(
            $"check --asan: no AddressSanitizer runtime (libasan.so) found under /usr/lib/gcc; install g++ or set {RuntimeVariable}.");
        string cli = typeof(AddressSanitizer).Assembly.Location;
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(cli);
        foreach (string a in checkArgs)
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment["LD_PRELOAD"] = runtime;
        psi.Environment[FastConv.Gpu.FcKernels.EmuNative.PathVariable] = library;
        psi.Environment["ASAN_OPTIONS"] = "detect_leaks=0:handle_segv=0:allow_user_segv_handler=1:detect_odr_violation=0:abort_on_error=1";
        output.WriteLine($"check --asan: kernels from {library}, ASan runtime {runtime}");
        using var child = System.Diagnostics.Process.Start(psi)!;
        child.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (output)
                    output.WriteLine(e.Data);
            }
        };
        child.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (output)
                    output.WriteLine(e.Data);
            }
        };
        child.BeginOutputReadLine();
        child.BeginErrorReadLine();
        child.WaitForExit();
        return child.ExitCode;
    }

    private static string? Runtime()
    {
        if (Environment.GetEnvironmentVariable(RuntimeVariable) is { Length: > 0 } given)
        {
            return File.Exists(given) ? given : throw new CommandLineException($"{RuntimeVariable}='{given}': no such file.");
        }
        const string gcc = "/usr/lib/gcc";
        return Directory.Exists(gcc)
            ? Directory.EnumerateFiles(gcc, "libasan.so", SearchOption.AllDirectories).OrderByDescending(f => f, StringComparer.Ordinal).FirstOrDefault()
            : null;
    }
}
