namespace FastConv;

// Lives in the core, below the native bindings, so that errors raised at the native boundary (a missing
// library, a CUDA status) share one root with the rest of the engine's errors.
/// <summary>
/// Root of every error FastConv raises on purpose. Catch this to catch them all; the subclasses say
/// which kind of mistake it was, and every message names the offending value and the whole shape.
/// </summary>
public class FastConvException : Exception
{
    public FastConvException(string message) : base(message) { }
    public FastConvException(string message, Exception? inner) : base(message, inner) { }
}
