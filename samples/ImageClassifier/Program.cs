// Classifies images with FastConv and a trained ResNet-18, preprocessing with SkiaSharp (decode, resize, NCHW floats).
//
//   dotnet run --project samples/ImageClassifier                               synthetic shapes: learn, then classify
//   dotnet run --project samples/ImageClassifier -- --examples DIR photo.jpg   DIR/LABEL/*.jpg|png teach the labels
//   dotnet run --project samples/ImageClassifier -- --model builtin:resnet18 photo.jpg   ImageNet-style top-5
//
// The trained model of the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 (MIT) is a featurizer: 512 features
// per image, no ImageNet head. So this classifies by the nearest class centroid of those features, learned from a few
// labelled examples (a folder of them, or shapes drawn here). builtin:resnet18 does have a 1000-class head, but its
// weights are seeded random, not trained: its top-5 shows the pipeline, not a prediction.
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using FastConv;
using FastConv.Sessions;
using SkiaSharp;

var images = new List<string>();
string? examples = null, model = null;
string backend = "auto";
int? threads = null;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--examples": examples = args[++i]; break;
        case "--model": model = args[++i]; break;
        case "--backend": backend = args[++i]; break;
        case "--threads": threads = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        default: images.Add(args[i]); break;
    }
}
var options = new FastConvSessionOptions { Backend = backend, Threads = threads };

if (model is not null)
{
    // A classifier with its own head (1000 ImageNet classes): mean/std normalization, softmax, top-5.
    using FastConvSession classifier = FastConvSession.Load(model, options);
    Console.WriteLine($"{model} on {classifier.BackendName}{(model.StartsWith("builtin:", StringComparison.Ordinal) ? " (seeded random weights: the classes mean nothing)" : "")}");
    foreach (string path in images.Count > 0 ? images : [SyntheticImage.Save("circle", 1)])
    {
        using SKBitmap bitmap = Preprocess.Decode(path);
        Tensor x = Preprocess.ToNchw(bitmap, 224, imageNetNormalize: true);
        float[] logits = classifier.Run(new Dictionary<string, Tensor> { [classifier.Inputs[0].Name] = x }).Values.First().ToArray();
        float max = logits.Max();
        double[] p = [.. logits.Select(v => Math.Exp(v - max))];
        double sum = p.Sum();
        string top = string.Join(", ", Enumerable.Range(0, p.Length).OrderByDescending(k => p[k]).Take(5)
            .Select(k => string.Create(CultureInfo.InvariantCulture, $"class {k} {p[k] / sum:P1}")));
        Console.WriteLine($"{path}: {top}");
    }
    return 0;
}

string featurizerPath = Metadata("ResNet18Onnx"), preprocessPath = Metadata("ResNetPreprocessOnnx");
using FastConvSession preprocess = FastConvSession.Load(preprocessPath, options);
using FastConvSession featurizer = FastConvSession.Load(featurizerPath, options);
Console.WriteLine($"ResNet-18 featurizer (trained; {Path.GetFileName(featurizerPath)}) on {featurizer.BackendName}, input {featurizer.InputMetadata[0]}, output {featurizer.OutputMetadata[0]}");

// The labelled examples: a folder of LABEL/ sub-folders, or shapes drawn here (8 of each to learn, 8 more to test).
List<(string Label, string Path)> train, test;
if (examples is not null)
{
    train = [.. Directory.GetDirectories(examples).SelectMany(d => Directory.GetFiles(d).Select(f => (Path.GetFileName(d), f)))];
    test = [];
}
else
{
    string[] shapes = ["circle", "square", "triangle", "stripes"];
    train = [.. shapes.SelectMany(s => Enumerable.Range(0, 8).Select(k => (s, SyntheticImage.Save(s, k))))];
    test = [.. shapes.SelectMany(s => Enumerable.Range(100, 8).Select(k => (s, SyntheticImage.Save(s, k))))];
}
if (train.Count == 0)
{
    Console.Error.WriteLine($"no example images under {examples}/LABEL/");
    return 2;
}

var clock = Stopwatch.StartNew();
Dictionary<string, float[]> centroids = train.GroupBy(e => e.Label).ToDictionary(g => g.Key, g => Normalize(Mean([.. g.Select(e => Embed(e.Path))])));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"learned {centroids.Count} classes from {train.Count} images in {clock.Elapsed.TotalSeconds:F1} s"));

int right = 0;
foreach ((string label, string path) in test)
{
    string guess = Classify(path).First().Label;
    right += guess == label ? 1 : 0;
}
if (test.Count > 0)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"held-out synthetic images: {right}/{test.Count} right ({100.0 * right / test.Count:F0} %)"));
}
foreach (string path in images)
{
    Console.WriteLine($"{path}: {string.Join(", ", Classify(path).Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Label} {c.Similarity:F3}")))}");
}
return 0;

// The image's 512 ResNet-18 features, L2-normalized: SkiaSharp decodes and resizes, the package's own preprocessing
// model turns RGB 0..255 into BGR minus the training set's mean image, the featurizer pools the last block.
float[] Embed(string path)
{
    using SKBitmap bitmap = Preprocess.Decode(path);
    Tensor rgb = Preprocess.ToNchw(bitmap, 224, imageNetNormalize: false);
    Tensor bgr = preprocess.Run(new Dictionary<string, Tensor> { [preprocess.Inputs[0].Name] = rgb }).Values.Single();
    Tensor features = featurizer.Run(new Dictionary<string, Tensor> { [featurizer.Inputs[0].Name] = bgr }).Values.Single();
    return Normalize(features.ToArray());
}

IEnumerable<(string Label, double Similarity)> Classify(string path)
{
    float[] f = Embed(path);
    return centroids.Select(c => (c.Key, Dot(c.Value, f))).OrderByDescending(c => c.Item2);
}

static string Metadata(string key) => typeof(Preprocess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value
    ?? throw new InvalidOperationException($"no {key} path compiled in");

static float[] Mean(IReadOnlyList<float[]> xs) => [.. Enumerable.Range(0, xs[0].Length).Select(i => xs.Average(x => x[i]))];

static float[] Normalize(float[] x)
{
    float norm = MathF.Sqrt(x.Sum(v => v * v));
    return [.. x.Select(v => v / Math.Max(norm, 1e-12f))];
}

static double Dot(float[] a, float[] b) => a.Zip(b, (x, y) => (double)x * y).Sum();

/// <summary>SkiaSharp preprocessing: decode, resize (bilinear with mipmaps), and lay the pixels out as NCHW floats.</summary>
internal static class Preprocess
{
    public static SKBitmap Decode(string path)
        => SKBitmap.Decode(path) ?? throw new InvalidDataException($"'{path}' is not an image SkiaSharp can decode (PNG, JPEG, WebP, GIF, BMP).");

    /// <summary>
    /// [1, 3, size, size], channels R, G, B: values 0..255, or with <paramref name="imageNetNormalize"/> (x/255 − mean)/std
    /// with ImageNet's mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225).
    /// </summary>
    public static Tensor ToNchw(SKBitmap bitmap, int size, bool imageNetNormalize)
    {
        using SKBitmap resized = bitmap.Resize(new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Unpremul), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear))
            ?? throw new InvalidDataException("SkiaSharp could not resize the image");
        ReadOnlySpan<float> mean = [0.485f, 0.456f, 0.406f], std = [0.229f, 0.224f, 0.225f];
        var x = new float[3 * size * size];
        ReadOnlySpan<byte> pixels = resized.GetPixelSpan();
        int plane = size * size;
        for (int p = 0; p < plane; p++)
        {
            for (int c = 0; c < 3; c++)
            {
                float v = pixels[4 * p + c];
                x[c * plane + p] = imageNetNormalize ? (v / 255f - mean[c]) / std[c] : v;
            }
        }
        return Tensor.Wrap(x, TensorShape.Of(1, 3, size, size));
    }
}

/// <summary>Labelled shapes drawn with SkiaSharp (seeded: the same images every run), saved as PNGs in the temp folder.</summary>
internal static class SyntheticImage
{
    public static string Save(string shape, int seed)
    {
        var rng = new Random(HashCode.Combine(shape.Length, shape[0], seed));
        using var surface = SKSurface.Create(new SKImageInfo(256, 256));
        SKCanvas canvas = surface.Canvas;
        canvas.Clear(new SKColor((byte)rng.Next(160, 256), (byte)rng.Next(160, 256), (byte)rng.Next(160, 256)));
        using var paint = new SKPaint { Color = new SKColor((byte)rng.Next(0, 120), (byte)rng.Next(0, 120), (byte)rng.Next(0, 120)), IsAntialias = true };
        float cx = rng.Next(90, 166), cy = rng.Next(90, 166), r = rng.Next(45, 80);
        switch (shape)
        {
            case "circle":
                canvas.DrawCircle(cx, cy, r, paint);
                break;
            case "square":
                canvas.DrawRect(cx - r, cy - r, 2 * r, 2 * r, paint);
                break;
            case "triangle":
                using (var path = new SKPath())
                {
                    path.MoveTo(cx, cy - r);
                    path.LineTo(cx + r, cy + r);
                    path.LineTo(cx - r, cy + r);
                    path.Close();
                    canvas.DrawPath(path, paint);
                }
                break;
            default:
                for (int k = 0; k < 256; k += 32)
                {
                    canvas.DrawRect(k, 0, 16, 256, paint);
                }
                break;
        }
        string file = Path.Combine(Path.GetTempPath(), $"fastconv-sample-{shape}-{seed}.png");
        using SKImage image = surface.Snapshot();
        using SKData png = image.Encode(SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(file, png.ToArray());
        return file;
    }
}
