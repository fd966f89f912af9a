using System.Collections;

namespace FastConv;

/// <summary>
/// An immutable list of dimensions, outermost first (NCHW for images). Dimensions are non-negative;
/// the element count must fit in an <see cref="int"/> because tensors live in one span.
/// </summary>
public sealed class TensorShape : IEquatable<TensorShape>, IReadOnlyList<int>
{
    private readonly int[] _dims;

    public TensorShape(params ReadOnlySpan<int> dims)
    {
        _dims = dims.ToArray();
        long count = 1;
        foreach (int d in _dims)
        {
            if (d < 0)
            {
                throw new InvalidShapeException($"Dimension {d} is negative in shape {Format(_dims)}; every dimension must be >= 0.");
            }
            count *= d;
            if (count > Array.MaxLength)
            {
                throw new InvalidShapeException($"Shape {Format(_dims)} has more than {Array.MaxLength} elements; FastConv tensors are held in one span.");
            }
        }
        ElementCount = (int)count;
    }

    /// <summary>Shorthand for <c>new TensorShape(dims)</c>.</summary>
    public static TensorShape Of(params ReadOnlySpan<int> dims) => new(dims);

    public int Rank => _dims.Length;
    public int ElementCount { get; }
    public int Count => _dims.Length;
    public int this[int axis] => _dims[axis];
    public ReadOnlySpan<int> Dims => _dims;

    /// <summary>Row-major (C order) element strides.</summary>
    public int[] Strides()
    {
        var strides = new int[_dims.Length];
        int s = 1;
        for (int i = _dims.Length - 1; i >= 0; i--)
        {
            strides[i] = s;
            s *= _dims[i];
        }
        return strides;
    }

    /// <summary>Throws <see cref="InvalidShapeException"/> unless the rank is <paramref name="rank"/>.</summary>
    public void RequireRank(int rank, string what, string op)
    {
        if (Rank != rank)
        {
            throw new InvalidShapeException($"{op}: {what} must have rank {rank}, got rank {Rank} shape {this}.");
        }
    }

    /// <summary>Maps a possibly negative axis (NumPy style) into [0, rank), or throws.</summary>
    public int NormalizeAxis(int axis, string op, int? rankOverride = null)
    {
        int rank = rankOverride ?? Rank;
        int a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank)
        {
            throw new InvalidHyperparameterException($"{op}: axis {axis} is outside [-{rank}, {rank - 1}] for shape {this}.");
        }
        return a;
    }

    public bool Equals(TensorShape? other) => other is not null && _dims.AsSpan().SequenceEqual(other._dims);
    public override bool Equals(object? obj) => Equals(obj as TensorShape);
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (int d in _dims)
        {
            h.Add(d);
        }
        return h.ToHashCode();
    }

    public static bool operator ==(TensorShape? a, TensorShape? b) => a is null ? b is null : a.Equals(b);
    public static bool operator !=(TensorShape? a, TensorShape? b) => !(a == b);

    public override string ToString() => Format(_dims);

    private static string Format(int[] dims) => "[" + string.Join(",", dims) + "]";

    public IEnumerator<int> GetEnumerator() => ((IEnumerable<int>)_dims).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => _dims.GetEnumerator();
}
