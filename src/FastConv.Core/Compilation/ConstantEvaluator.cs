using FastConv.Graphs;
using FastConv.Onnx;

namespace FastConv.Compilation;

/// <summary>
/// A small evaluator for the ops exporters use on constants and shapes — Shape, Size, Gather, Slice, Concat,
/// Unsqueeze, Squeeze, Reshape, Flatten, Expand, Cast, Range, ConstantOfShape, Transpose, Identity, Dropout,
/// element-wise Add/Sub/Mul/Div/Pow/Min/Max/Equal/Less/Greater/Where and Neg/Abs/Floor/Ceil/Sqrt/Not — on
/// int64 (exact) or float32 values, following the ONNX operator definitions. It folds a node only when every
/// input it reads is a constant (Shape and Size only need the input's shape). A result may not have more elements
/// than <see cref="ShapeFolder.MaxFoldElements"/> or its largest input, so a hostile shape cannot make it allocate.
/// </summary>
internal static class ConstantEvaluator
{
    private sealed record V(int[] Dims, long[]? L, float[]? F)
    {
        public bool IsInt => L is not null;
        public int Count => L?.Length ?? F!.Length;
        public TensorShape Shape => new(Dims);
        public long[] Longs => L ?? ToLongs(F!);
        public float[] Floats => F ?? [.. L!.Select(v => (float)v)];

        public static V Of(GraphConstant c) => c.Type == ElementType.Int64 ? new([.. c.Shape], c.Int64s, null) : new([.. c.Shape], null, c.Floats);

        public GraphConstant ToConstant() => L is not null ? GraphConstant.Int64(Shape, L) : GraphConstant.Float32(Shape, F!);

        private static long[] ToLongs(float[] f)
        {
            var r = new long[f.Length];
            for (int i = 0; i < f.Length; i++)
            {
                if (f[i] != MathF.Truncate(f[i]) || float.IsInfinity(f[i]))
                    throw new InvalidModelException($"float value {f[i]} used where an integer (shape, axis or index) is required");
                r[i] = (long)f[i];
            }
            return r;
        }
    }

    private static readonly HashSet<string> Foldable = new(StringComparer.Ordinal)
    {
        "Identity", "Dropout", "Shape", "Size", "Gather", "Slice", "Concat", "Unsqueeze", "Squeeze", "Reshape", "Flatten", "Expand",
        "Cast", "Range", "ConstantOfShape", "Transpose", "Add", "Sub", "Mul", "Div", "Pow", "Min", "Max", "Equal", "Less", "Greater",
        "Where", "Neg", "Abs", "Floor", "Ceil", "Sqrt", "Not",
    };

    /// <summary>Whether the evaluator knows the op (it may still leave a node in place when an input is not constant).</summary>
    public static bool Knows(string opType) => Foldable.Contains(opType);

    public static GraphConstant[]? TryEvaluate(Node n, IReadOnlyList<TensorShape?> inputShapes, Func<string, GraphConstant?> constant)
    {
        if (!Foldable.Contains(n.OpType)) return null;
        if (n.OpType is "Shape" or "Size")
        {
            if (inputShapes.Count < 1 || inputShapes[0] is null) return null;
            var s = inputShapes[0]!;
            return [n.OpType == "Size" ? GraphConstant.Int64(TensorShape.Of(), [s.ElementCount]) : ShapeOf(n, s)];
        }
        if (n.OpType == "Dropout" && n.Outputs.Length > 1 && n.Outputs[1].Length > 0) return null; // the mask is wanted
        var inputs = new V?[n.Inputs.Length];
        for (int i = 0; i < n.Inputs.Length; i++)
        {
            if (n.Inputs[i].Length == 0) continue;
            var c = constant(n.Inputs[i]);
            if (c is null) return null;
            inputs[i] = V.Of(c);
        }
        if (inputs.Length == 0 && n.OpType != "ConstantOfShape") return null;
        long cap = Math.Max(ShapeFolder.MaxFoldElements, inputs.Max(v => (long?)v?.Count) ?? 0);
        V result = Evaluate(n, inputs, cap);
        if (result.Count > cap)
            throw new InvalidModelException($"{n.Describe()}: folding it would create {result.Count} elements (more than {cap}); the model is malformed");
        return [result.ToConstant()];
    }

    private static GraphConstant ShapeOf(Node n, TensorShape s)
    {
        int r = s.Rank;
        long start = n.GetInt("start", 0), end = n.GetInt("end", r);
        start = Math.Clamp(start < 0 ? start + r : start, 0, r);
        end = Math.Clamp(end < 0 ? end + r : end, 0, r);
        long[] dims = [.. s.Skip((int)start).Take((int)Math.Max(0, end - start)).Select(d => (long)d)];
        return GraphConstant.Int64(TensorShape.Of(dims.Length), dims);
    }

    private static V Req(V?[] inputs, int i, Node n) =>
        i < inputs.Length && inputs[i] is { } v ? v : throw new InvalidModelException($"{n.Describe()}: required input {i} is missing");

    private static V Evaluate(Node n, V?[] x, long cap)
    {
        switch (n.OpType)
        {
            case "Identity":
            case "Dropout":
                return Req(x, 0, n);
            case "Gather": return Gather(n, Req(x, 0, n), Req(x, 1, n));
            case "Slice": return Slice(n, x);
            case "Concat": return Concat(n, x);
            case "Unsqueeze":
                {
                    var d = Req(x, 0, n);
                    long[] axes = x.Length > 1 && x[1] is { } a ? a.Longs : n.GetInts("axes") ?? throw new InvalidModelException($"{n.Describe()}: no axes");
                    int rank = d.Dims.Length + axes.Length;
                    var isNew = new bool[rank];
                    foreach (long ax in axes)
                    {
                        int k = Axis(ax, rank, n);
                        if (isNew[k]) throw new InvalidModelException($"{n.Describe()}: axis {ax} repeated");
                        isNew[k] = true;
                    }
                    var dims = new int[rank];
                    for (int k = 0, j = 0; k < rank; k++) dims[k] = isNew[k] ? 1 : d.Dims[j++];
                    return d with { Dims = dims };
                }
            case "Squeeze":
                {
                    var d = Req(x, 0, n);
                    long[]? axes = x.Length > 1 && x[1] is { } a ? a.Longs : n.GetInts("axes");
                    var drop = new bool[d.Dims.Length];
                    if (axes is null)
                    {
                        for (int k = 0; k < drop.Length; k++) drop[k] = d.Dims[k] == 1;
                    }
                    else
                    {
                        foreach (long ax in axes)
                        {
                            int k = Axis(ax, d.Dims.Length, n);
                            if (d.Dims[k] != 1) throw new InvalidModelException($"{n.Describe()}: cannot squeeze axis {ax} of size {d.Dims[k]} in shape {d.Shape}");
                            drop[k] = true;
                        }
                    }
                    return d with { Dims = [.. d.Dims.Where((_, k) => !drop[k])] };
                }
            case "Reshape": return Reshape(n, Req(x, 0, n), Req(x, 1, n).Longs);
            case "Flatten":
                {
                    var d = Req(x, 0, n);
                    int axis = (int)n.GetInt("axis", 1);
                    int r = d.Dims.Length;
                    int a = axis < 0 ? axis + r : axis;
                    if (a < 0 || a > r) throw new InvalidModelException($"{n.Describe()}: axis {axis} outside [-{r}, {r}] for shape {d.Shape}");
                    long outer = 1;
                    for (int k = 0; k < a; k++) outer *= d.Dims[k];
                    return d with { Dims = [(int)outer, outer == 0 ? 0 : d.Count / (int)outer] };
                }
            case "Expand":
                {
                    var d = Req(x, 0, n);
                    var target = ShapeFrom(Req(x, 1, n).Longs, n);
                    var outShape = Broadcast.BroadcastShape(d.Shape, target, n.Describe());
                    Guard(outShape, cap, n);
                    return Map(outShape, [d], v => v[0], v => v[0]);
                }
            case "Cast":
                {
                    var d = Req(x, 0, n);
                    long to = n.GetInt("to", 1);
                    if (OnnxTensors.IsFloat((int)to)) return new V(d.Dims, null, d.Floats);
                    if (!OnnxTensors.IsIntegral((int)to)) throw new UnsupportedModelException([$"{n.Describe()} (opset {n.Opset}): Cast to {OnnxTensors.TypeName((int)to)}"]);
                    if (d.IsInt) return to == (int)global::Onnx.TensorProto.Types.DataType.Bool ? d with { L = [.. d.L!.Select(v => v != 0 ? 1L : 0L)] } : d;
                    return new V(d.Dims, [.. d.F!.Select(v => to == (int)global::Onnx.TensorProto.Types.DataType.Bool ? (v != 0 ? 1L : 0L) : (long)MathF.Truncate(v))], null);
                }
            case "Range":
                {
                    V s = Req(x, 0, n), l = Req(x, 1, n), dl = Req(x, 2, n);
                    if (s.IsInt && l.IsInt && dl.IsInt)
                    {
                        long a = s.L![0], b = l.L![0], step = dl.L![0];
                        if (step == 0) throw new InvalidModelException($"{n.Describe()}: delta is 0");
                        double cnt = Math.Max(Math.Ceiling(((double)b - a) / step), 0);
                        if (cnt > cap) throw new InvalidModelException($"{n.Describe()}: Range of {cnt} elements (more than {cap})");
                        var r = new long[(int)cnt];
                        for (int i = 0; i < r.Length; i++) r[i] = a + i * step;
                        return new V([r.Length], r, null);
                    }
                    else
                    {
                        float a = s.Floats[0], b = l.Floats[0], step = dl.Floats[0];
                        if (step == 0 || !float.IsFinite(a) || !float.IsFinite(b) || !float.IsFinite(step)) throw new InvalidModelException($"{n.Describe()}: bad range {a}..{b} step {step}");
                        double cnt = Math.Max(Math.Ceiling(((double)b - a) / step), 0);
                        if (cnt > cap) throw new InvalidModelException($"{n.Describe()}: Range of {cnt} elements (more than {cap})");
                        var r = new float[(int)cnt];
                        for (int i = 0; i < r.Length; i++) r[i] = a + i * step;
                        return new V([r.Length], null, r);
                    }
                }
            case "ConstantOfShape":
                {
                    var shape = ShapeFrom(x.Length > 0 && x[0] is { } sv ? sv.Longs : [], n);
                    Guard(shape, cap, n);
                    GraphConstant? value = n.Attributes.TryGetValue("value", out var a) ? a.Tensor : null;
                    if (value is not null && value.Shape.ElementCount != 1) throw new InvalidModelException($"{n.Describe()}: value must hold one element, has shape {value.Shape}");
                    if (value is null || value.Type == ElementType.Float32)
                        return new V([.. shape], null, Enumerable.Repeat(value?.Floats[0] ?? 0f, shape.ElementCount).ToArray());
                    return new V([.. shape], Enumerable.Repeat(value.Int64s[0], shape.ElementCount).ToArray(), null);
                }
            case "Transpose":
                {
                    var d = Req(x, 0, n);
                    int r = d.Dims.Length;
                    long[] perm = n.GetInts("perm") ?? [.. Enumerable.Range(0, r).Reverse().Select(i => (long)i)];
                    if (perm.Length != r || perm.Any(p => p < 0 || p >= r) || perm.Distinct().Count() != r)
                        throw new InvalidModelException($"{n.Describe()}: perm [{string.Join(",", perm)}] is not a permutation of rank {r}");
                    var outDims = perm.Select(p => d.Dims[p]).ToArray();
                    var inStrides = d.Shape.Strides();
                    var outShape = new TensorShape(outDims);
                    var idx = new int[outShape.ElementCount];
                    for (int f = 0; f < idx.Length; f++)
                    {
                        int rem = f, off = 0;
                        for (int k = r - 1; k >= 0; k--)
                        {
                            off += rem % outDims[k] * inStrides[perm[k]];
                            rem /= outDims[k];
                        }
                        idx[f] = off;
                    }
                    return d.IsInt ? new V(outDims, [.. idx.Select(i => d.L![i])], null) : new V(outDims, null, [.. idx.Select(i => d.F![i])]);
                }
            case "Where":
                {
                    V c = Req(x, 0, n), a = Req(x, 1, n), b = Req(x, 2, n);
                    var shape = Broadcast.BroadcastShape(Broadcast.BroadcastShape(c.Shape, a.Shape, n.Describe()), b.Shape, n.Describe());
                    Guard(shape, cap, n);
                    var cl = new V(c.Dims, c.Longs, null);
                    bool ints = a.IsInt && b.IsInt;
                    return ints
                        ? Map(shape, [cl, a, b], v => v[0] != 0 ? v[1] : v[2], null)
                        : Map(shape, [new V(c.Dims, null, c.Floats), new V(a.Dims, null, a.Floats), new V(b.Dims, null, b.Floats)], null, v => v[0] != 0 ? v[1] : v[2]);
                }
            case "Neg": return Unary(Req(x, 0, n), v => -v, v => -v);
            case "Abs": return Unary(Req(x, 0, n), Math.Abs, MathF.Abs);
            case "Floor": return Unary(Req(x, 0, n), v => v, MathF.Floor);
            case "Ceil": return Unary(Req(x, 0, n), v => v, MathF.Ceiling);
            case "Sqrt": return Unary(Req(x, 0, n), null, MathF.Sqrt);
            case "Not": return Unary(Req(x, 0, n), v => v == 0 ? 1 : 0, null);
            default:
                return Binary(n, Req(x, 0, n), Req(x, 1, n), cap);
        }
    }

    private static V Unary(V d, Func<long, long>? onInt, Func<float, float>? onFloat)
    {
        if (d.IsInt && onInt is not null) return d with { L = [.. d.L!.Select(onInt)] };
        if (onFloat is not null) return new V(d.Dims, null, [.. d.Floats.Select(onFloat)]);
        return new V(d.Dims, [.. d.Longs.Select(onInt!)], null);
    }

    private static V Binary(Node n, V a, V b, long cap)
    {
        var shape = Broadcast.BroadcastShape(a.Shape, b.Shape, n.Describe());
        Guard(shape, cap, n);
        string op = n.OpType;
        bool compare = op is "Equal" or "Less" or "Greater";
        if (a.IsInt && b.IsInt)
        {
            Func<long[], long> f = op switch
            {
                "Add" => v => v[0] + v[1],
                "Sub" => v => v[0] - v[1],
                "Mul" => v => v[0] * v[1],
                "Div" => v => v[1] == 0 ? throw new InvalidModelException($"{n.Describe()}: integer division by zero") : v[0] / v[1],
                "Pow" => v => (long)Math.Pow(v[0], v[1]),
                "Min" => v => Math.Min(v[0], v[1]),
                "Max" => v => Math.Max(v[0], v[1]),
                "Equal" => v => v[0] == v[1] ? 1 : 0,
                "Less" => v => v[0] < v[1] ? 1 : 0,
                _ => v => v[0] > v[1] ? 1 : 0,
            };
            return Map(shape, [a, b], f, null);
        }
        var fa = new V(a.Dims, null, a.Floats);
        var fb = new V(b.Dims, null, b.Floats);
        if (compare)
        {
            var r = Map(shape, [fa, fb], null, v => op == "Equal" ? (v[0] == v[1] ? 1 : 0) : op == "Less" ? (v[0] < v[1] ? 1 : 0) : (v[0] > v[1] ? 1 : 0));
            return new V(r.Dims, r.Longs, null);
        }
        Func<float[], float> g = op switch
        {
            "Add" => v => v[0] + v[1],
            "Sub" => v => v[0] - v[1],
            "Mul" => v => v[0] * v[1],
            "Div" => v => v[0] / v[1],
            "Pow" => v => MathF.Pow(v[0], v[1]),
            "Min" => v => MathF.Min(v[0], v[1]),
            _ => v => MathF.Max(v[0], v[1]),
        };
        return Map(shape, [fa, fb], null, g);
    }

    /// <summary>Element-wise over broadcast inputs (all int64 with <paramref name="fi"/>, or all float with <paramref name="ff"/>).</summary>
    private static V Map(TensorShape shape, V[] ins, Func<long[], long>? fi, Func<float[], float>? ff)
    {
        var strides = ins.Select(v => Broadcast.Strides(v.Shape, shape)).ToArray();
        int count = shape.ElementCount;
        if (fi is not null && ins.All(v => v.IsInt))
        {
            var r = new long[count];
            var args = new long[ins.Length];
            for (int i = 0; i < count; i++)
            {
                for (int k = 0; k < ins.Length; k++) args[k] = ins[k].L![Broadcast.Offset(i, shape, strides[k])];
                r[i] = fi(args);
            }
            return new V([.. shape], r, null);
        }
        var rf = new float[count];
        var fargs = new float[ins.Length];
        var fs = ins.Select(v => v.Floats).ToArray();
        for (int i = 0; i < count; i++)
        {
            for (int k = 0; k < ins.Length; k++) fargs[k] = fs[k][Broadcast.Offset(i, shape, strides[k])];
            rf[i] = ff!(fargs);
        }
        return new V([.. shape], null, rf);
    }

    private static void Guard(TensorShape shape, long cap, Node n)
    {
        if (shape.ElementCount > cap)
            throw new InvalidModelException($"{n.Describe()}: folding it would create shape {shape} ({shape.ElementCount} elements, more than {cap}); the model is malformed");
    }

    private static int Axis(long axis, int rank, Node n)
    {
        long a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank) throw new InvalidModelException($"{n.Describe()}: axis {axis} is outside [-{rank}, {rank - 1}]");
        return (int)a;
    }

    private static TensorShape ShapeFrom(long[] dims, Node n)
    {
        OnnxTensors.CheckedElementCount(dims, n.Describe(), ShapeFolder.MaxFoldElements);
        return new TensorShape([.. dims.Select(d => (int)d)]);
    }

    private static V Gather(Node n, V data, V indices)
    {
        int r = data.Dims.Length;
        if (r == 0) throw new InvalidModelException($"{n.Describe()}: data must have rank ≥ 1");
        int axis = Axis(n.GetInt("axis", 0), r, n);
        long[] idx = indices.Longs;
        int dimAxis = data.Dims[axis];
        int outer = data.Dims.Take(axis).Aggregate(1, (p, d) => p * d);
        int inner = data.Dims.Skip(axis + 1).Aggregate(1, (p, d) => p * d);
        int[] outDims = [.. data.Dims.Take(axis), .. indices.Dims, .. data.Dims.Skip(axis + 1)];
        long total = (long)outer * idx.Length * inner;
        if (total > Math.Max(ShapeFolder.MaxFoldElements, data.Count))
            throw new InvalidModelException($"{n.Describe()}: gathering would create {total} elements");
        var src = new int[total];
        int o = 0;
        for (int a = 0; a < outer; a++)
        {
            foreach (long i0 in idx)
            {
                long i = i0 < 0 ? i0 + dimAxis : i0;
                if (i < 0 || i >= dimAxis) throw new InvalidModelException($"{n.Describe()}: index {i0} is outside [-{dimAxis}, {dimAxis - 1}] on axis {axis} of shape {data.Shape}");
                for (int b = 0; b < inner; b++) src[o++] = (int)((a * dimAxis + i) * inner + b);
            }
        }
        return data.IsInt ? new V(outDims, [.. src.Select(s => data.L![s])], null) : new V(outDims, null, [.. src.Select(s => data.F![s])]);
    }

    private static V Slice(Node n, V?[] x)
    {
        var d = Req(x, 0, n);
        int r = d.Dims.Length;
        long[] starts = Req(x, 1, n).Longs, ends = Req(x, 2, n).Longs;
        long[] axes = x.Length > 3 && x[3] is { } ax ? ax.Longs : [.. Enumerable.Range(0, starts.Length).Select(i => (long)i)];
        long[] steps = x.Length > 4 && x[4] is { } st ? st.Longs : [.. Enumerable.Repeat(1L, starts.Length)];
        if (ends.Length != starts.Length || axes.Length != starts.Length || steps.Length != starts.Length)
            throw new InvalidModelException($"{n.Describe()}: starts, ends, axes and steps differ in length");
        var begin = new long[r];
        var step = Enumerable.Repeat(1L, r).ToArray();
        var outDims = d.Dims.ToArray();
        for (int k = 0; k < starts.Length; k++)
        {
            int a = Axis(axes[k], r, n);
            long dim = d.Dims[a], s = steps[k];
            if (s == 0) throw new InvalidModelException($"{n.Describe()}: step 0 on axis {a}");
            long b = starts[k] < 0 ? starts[k] + dim : starts[k];
            long e = ends[k] < 0 ? ends[k] + dim : ends[k];
            if (s > 0)
            {
                b = Math.Clamp(b, 0, dim);
                e = Math.Clamp(e, 0, dim);
                outDims[a] = (int)Math.Max(0, (e - b + s - 1) / s);
            }
            else
            {
                b = Math.Clamp(b, 0, dim - 1);
                e = Math.Clamp(e, -1, dim - 1);
                outDims[a] = (int)Math.Max(0, (b - e + (-s) - 1) / (-s));
            }
            begin[a] = b;
            step[a] = s;
        }
        var outShape = new TensorShape(outDims);
        var inStrides = d.Shape.Strides();
        var src = new int[outShape.ElementCount];
        for (int f = 0; f < src.Length; f++)
        {
            int rem = f;
            long off = 0;
            for (int k = r - 1; k >= 0; k--)
            {
                off += (begin[k] + rem % outDims[k] * step[k]) * inStrides[k];
                rem /= outDims[k];
            }
            src[f] = (int)off;
        }
        return d.IsInt ? new V(outDims, [.. src.Select(s => d.L![s])], null) : new V(outDims, null, [.. src.Select(s => d.F![s])]);
    }

    private static V Concat(Node n, V?[] x)
    {
        var parts = x.Where(v => v is not null).Select(v => v!).ToArray();
        if (parts.Length == 0) throw new InvalidModelException($"{n.Describe()}: no inputs");
        int r = parts[0].Dims.Length;
        if (r == 0) throw new InvalidModelException($"{n.Describe()}: cannot concatenate scalars");
        int axis = Axis(n.GetInt("axis", 0), r, n);
        foreach (var p in parts)
        {
            if (p.Dims.Length != r || Enumerable.Range(0, r).Any(k => k != axis && p.Dims[k] != parts[0].Dims[k]))
                throw new InvalidModelException($"{n.Describe()}: inputs of shapes {string.Join(", ", parts.Select(q => q.Shape))} cannot be concatenated on axis {axis}");
        }
        var outDims = parts[0].Dims.ToArray();
        outDims[axis] = parts.Sum(p => p.Dims[axis]);
        int outer = outDims.Take(axis).Aggregate(1, (a, b) => a * b);
        int inner = outDims.Skip(axis + 1).Aggregate(1, (a, b) => a * b);
        bool ints = parts.All(p => p.IsInt);
        var l = ints ? new List<long>() : null;
        var f = ints ? null : new List<float>();
        var fl = parts.Select(p => ints ? null : p.Floats).ToArray();
        for (int o = 0; o < outer; o++)
        {
            for (int k = 0; k < parts.Length; k++)
            {
                int len = parts[k].Dims[axis] * inner;
                if (ints) l!.AddRange(parts[k].L!.AsSpan(o * len, len));
                else f!.AddRange(fl[k]!.AsSpan(o * len, len));
            }
        }
        return ints ? new V(outDims, [.. l!], null) : new V(outDims, null, [.. f!]);
    }

    /// <summary>a·b for non-negative operands, saturating at long.MaxValue (hostile shapes must not wrap around).</summary>
    private static long SatMul(long a, long b) => a == 0 || b == 0 ? 0 : a > long.MaxValue / b ? long.MaxValue : a * b;

    private static V Reshape(Node n, V d, long[] shape)
    {
        bool allowZero = n.GetInt("allowzero", 0) != 0;
        var dims = new long[shape.Length];
        int infer = -1;
        long known = 1;
        for (int k = 0; k < shape.Length; k++)
        {
            long s = shape[k];
            if (s == 0 && !allowZero)
            {
                if (k >= d.Dims.Length) throw new InvalidModelException($"{n.Describe()}: shape [{string.Join(",", shape)}] copies dimension {k}, which input {d.Shape} lacks");
                s = d.Dims[k];
            }
            if (s == -1)
            {
                if (infer >= 0) throw new InvalidModelException($"{n.Describe()}: shape [{string.Join(",", shape)}] has more than one -1");
                infer = k;
                continue;
            }
            if (s < 0) throw new InvalidModelException($"{n.Describe()}: shape [{string.Join(",", shape)}] has a negative dimension");
            dims[k] = s;
            known = SatMul(known, s);
        }
        if (infer >= 0)
        {
            if (known == 0 || d.Count % known != 0)
                throw new InvalidModelException($"{n.Describe()}: cannot reshape {d.Shape} to [{string.Join(",", shape)}]");
            dims[infer] = d.Count / known;
        }
        long total = dims.Aggregate(1L, SatMul);
        if (total != d.Count)
            throw new InvalidModelException($"{n.Describe()}: cannot reshape {d.Shape} ({d.Count} elements) to [{string.Join(",", dims)}]");
        return d with { Dims = [.. dims.Select(v => (int)v)] };
    }
}
