using FastConv.Graphs;
using FastConv.IO;

namespace FastConv.Onnx;

/// <summary>
/// ONNX import: an <c>.onnx</c> file (opsets 7 to 21, default domain) → <see cref="Graph"/>, ready for the optimizer
/// and the session. At load the importer
/// <list type="bullet">
/// <item>reads initializers (raw and typed fields, external data beside the model), <c>Constant</c> nodes and
/// initializers that are also listed as graph inputs, all as constants;</item>
/// <item>fixes every dynamic input dimension: from <c>inputShapes</c> when given, else a symbolic <em>first</em>
/// dimension (the batch) becomes 1; any other symbolic dimension without a given shape is an error naming it;</item>
/// <item>rewrites opset differences into the latest form (Clip min/max, Squeeze/Unsqueeze/Reduce*/Split axes,
/// Slice and Pad as inputs; Upsample and Resize-10 as Resize-11+ with their old coordinate rules; Softmax
/// before 13 on its coerced 2-D view), so later stages read one form;</item>
/// <item>propagates shapes and folds shape sub-graphs (Shape, Gather, Slice, Concat, Unsqueeze, Squeeze, Cast,
/// Range, ConstantOfShape, Reshape and int64 arithmetic, …) to constants.</item>
/// </list>
/// Every problem surfaces before any work: a malformed file throws <see cref="InvalidModelException"/>; a
/// well-formed model using what FastConv cannot run throws one <see cref="UnsupportedModelException"/> listing every
/// offending node. Node <see cref="Node.Opset"/> is the model's default-domain opset (as errors name it); inputs
/// and attributes are already in the latest opset's form.
/// </summary>
public static class OnnxModel
{
    /// <summary>
    /// Loads a model file; external data files are looked up beside it. Only a regular file is read (a FIFO, a
    /// device or a directory is refused before it is opened), and only up to <paramref name="maxBytes"/>
    /// (default: <c>FASTCONV_MAX_MODEL_BYTES</c>, else <see cref="FileLimits.DefaultMaxModelBytes"/>).
    /// </summary>
    /// <param name="path">The <c>.onnx</c> file.</param>
    /// <param name="inputShapes">Optional shapes for graph inputs by name (fixes symbolic dimensions; must agree with fixed ones).</param>
    /// <param name="maxBytes">Largest model file accepted; null uses the setting.</param>
    public static Graph Load(string path, IReadOnlyDictionary<string, TensorShape>? inputShapes = null, long? maxBytes = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (maxBytes is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxBytes), maxBytes, "the model size cap must be at least one byte");
        }
        string hint = maxBytes is null
            ? $"raise the cap with {FileLimits.MaxModelBytesVariable}=SIZE (e.g. 4G), or keep the weights in external data files"
            : "raise the maxBytes given to OnnxModel.Load, or keep the weights in external data files";
        byte[] bytes = SafeFile.ReadAll(path, maxBytes ?? FileLimits.MaxModelBytes, "ONNX model", hint,
            (message, inner) => new InvalidModelException(message, inner));
        string dir = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        return new OnnxImporter(inputShapes, dir).Import(bytes, Path.GetFileName(path));
    }

    /// <summary>Loads a model from its serialized bytes.</summary>
    /// <param name="model">The serialized <c>ModelProto</c>.</param>
    /// <param name="inputShapes">Optional shapes for graph inputs by name.</param>
    /// <param name="externalDataDirectory">Folder holding external data files; null forbids external data.</param>
    public static Graph Load(byte[] model, IReadOnlyDictionary<string, TensorShape>? inputShapes = null, string? externalDataDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new OnnxImporter(inputShapes, externalDataDirectory).Import(model, "model");
    }
}
