namespace FastConv.Graphs;

public static partial class ModelLoader
{
    // The ONNX importer (issue 5, item 3) replaces this body with its loader; the signature is the agreed seam.
    private static partial Graph LoadOnnx(string path, IReadOnlyDictionary<string, TensorShape>? inputShapes) =>
        throw new UnsupportedModelException([$"'{path}': ONNX import is not available yet in this build; use builtin:NAME."]);
}
