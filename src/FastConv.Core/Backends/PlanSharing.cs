using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace FastConv.Backends;

/// <summary>
/// Immutable data that plans derive from constant weights (packed or transformed copies), shared by every plan made in
/// one scope: the execution contexts of a session plan the same compiled graph once per concurrent run, and without
/// sharing each would hold its own packed copy of every weight (two callers of MNIST would stream two 12.8 MB copies of
/// its first FC layer through one L3). <see cref="Compilation.ExecutionPlan"/> opens a scope per compiled graph around planning;
/// outside a scope (a backend's plan made directly) nothing is shared, so a caller may change a weight tensor and plan
/// again. Within a scope the weights must not change: a session's graph constants do not.
/// </summary>
public sealed class PlanSharing
{
    [ThreadStatic]
    private static PlanSharing? t_current;

    private readonly ConcurrentDictionary<object, Lazy<object>> _shared = new();

    /// <summary>Shared entries so far (for tests and reports).</summary>
    public int Count => _shared.Count;

    /// <summary>Makes this the scope of plans made on the calling thread until the returned handle is disposed.</summary>
    public Scope Enter()
    {
        PlanSharing? outer = t_current;
        t_current = this;
        return new Scope(outer);
    }

    /// <summary>
    /// The value derived from <paramref name="weights"/> under <paramref name="key"/> (what else it depends on: SIMD level,
    /// shape, options): made once per scope by <paramref name="create"/>, or made fresh outside a scope or when the weights
    /// are not an array's (nothing identifies them then).
    /// </summary>
    public static T Get<T>(ReadOnlyMemory<float> weights, object key, Func<T> create) where T : class
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(create);
        if (t_current is not { } scope || !MemoryMarshal.TryGetArray(weights, out ArraySegment<float> segment) || segment.Array is null)
        {
            return create();
        }
        var full = new Key(segment.Array, segment.Offset, segment.Count, typeof(T), key);
        return (T)scope._shared.GetOrAdd(full, _ => new Lazy<object>(() => create(), LazyThreadSafetyMode.ExecutionAndPublication)).Value;
    }

    /// <summary>Leaves the scope (restoring the one that was current before).</summary>
    public readonly struct Scope(PlanSharing? outer) : IDisposable
    {
        public void Dispose() => t_current = outer;
    }

    // The array by reference (two equal weight tensors are still two weights), then where in it, and what was derived.
    private sealed record Key(float[] Array, int Offset, int Count, Type Kind, object Detail)
    {
        public bool Equals(Key? other) => other is not null && ReferenceEquals(Array, other.Array) && Offset == other.Offset && Count == other.Count
            && Kind == other.Kind && Detail.Equals(other.Detail);

        public override int GetHashCode() => HashCode.Combine(System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(Array), Offset, Count, Kind, Detail);
    }
}
