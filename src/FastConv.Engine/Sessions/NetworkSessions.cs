using FastConv.Networks;

namespace FastConv.Sessions;

/// <summary>Sessions straight from a built <see cref="Network"/> (the network lives in the core; sessions here, above the backends).</summary>
public static class NetworkSessions
{
    /// <summary>Plans a session on <paramref name="network"/>.</summary>
    public static FastConvSession CreateSession(this Network network, FastConvSessionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        return new(network.Graph, options);
    }

    /// <summary>Shorthand for the common case: a session on backend <paramref name="backend"/>.</summary>
    public static FastConvSession CreateSession(this Network network, string backend) => network.CreateSession(new FastConvSessionOptions { Backend = backend });
}
