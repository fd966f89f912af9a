using FastConv.Onnx;

namespace FastConv.Graphs;

public static partial class ModelLoader
{
    // The seam to the ONNX importer (src/FastConv.Core/Onnx): external data is read beside the file.
    private static partial Graph LoadOnnx(string path, IReadOnlyDictionary<string, TensorShape>? inputShapes) =>
        OnnxModel.Load(path, inputShapes);
}
