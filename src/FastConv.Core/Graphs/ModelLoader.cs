using FastConv.Networks;

namespace FastConv.Graphs;

/// <summary>
/// The one entry point from a model name to a <see cref="Graph"/>: <c>builtin:NAME</c> (see <see cref="Builtins"/>)
/// or a path to an <c>.onnx</c> file. The CLI, the tests and users go through here.
/// </summary>
public static partial class ModelLoader
{
    /// <summary>The prefix of built-in network names, as in <c>builtin:resnet18</c>.</summary>
    public const string BuiltinPrefix = "builtin:";

    /// <summary>
    /// Loads <paramref name="model"/>: <c>builtin:NAME</c> builds the network in code (batch from the shape given for
    /// its input, checked whole against the builtin's, see <see cref="Builtins.BatchFor"/>; else 1); anything else is read as an ONNX file, whose
    /// dynamic dimensions are fixed from <paramref name="inputShapes"/> (input name → full shape).
    /// Throws <see cref="InvalidModelException"/> or <see cref="UnsupportedModelException"/> (a FastConvException)
    /// for anything wrong, and <see cref="ModelNotFoundException"/> when the file or builtin does not exist.
    /// </summary>
    public static Graph Load(string model, IReadOnlyDictionary<string, TensorShape>? inputShapes = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(model);
        if (model.StartsWith(BuiltinPrefix, StringComparison.Ordinal))
        {
            string name = model[BuiltinPrefix.Length..];
            return Builtins.Create(name, Builtins.BatchFor(name, inputShapes));
        }
        if (!File.Exists(model))
        {
            throw new ModelNotFoundException($"model file '{model}' does not exist; give a path to an .onnx file or builtin:NAME ({string.Join(", ", Builtins.Names.Select(n => BuiltinPrefix + n))}).");
        }
        return LoadOnnx(model, inputShapes);
    }

    /// <summary>Reads an ONNX file into a graph (implemented in ModelLoader.Onnx.cs, the ONNX importer's seam).</summary>
    private static partial Graph LoadOnnx(string path, IReadOnlyDictionary<string, TensorShape>? inputShapes);
}

/// <summary>A model name that names no file and no built-in network.</summary>
public sealed class ModelNotFoundException : FastConvException
{
    public ModelNotFoundException(string message) : base(message) { }
}
