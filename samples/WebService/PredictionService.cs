using System.Diagnostics;
using FastConv.Graphs;
using FastConv.Onnx;
using FastConv.Sessions;
using Microsoft.ML.OnnxRuntime;
// ONNX Runtime's SessionOptions collides with ASP.NET Core's under the web SDK's implicit usings (FastConv's options
// type is FastConvSessionOptions for that reason).
using OrtSessionOptions = Microsoft.ML.OnnxRuntime.SessionOptions;

namespace FastConv.Samples.WebService;

/// <summary>The body of POST /predict: the model's one input, flattened (row-major, the input's element count).</summary>
public sealed record PredictRequest(float[]? Input);

/// <summary>The answer: the output's name and values, the index of the largest, and the time inside the engine.</summary>
public sealed record PredictResponse(string Output, int Argmax, float[] Scores, double EngineMs);

/// <summary>One model behind the endpoints: FastConv's session or ONNX Runtime's, both thread-safe, both singletons.</summary>
public interface IPredictor
{
    string Engine { get; }
    string Model { get; }
    string Input { get; }
    int InputLength { get; }
    string Output { get; }

    float[] Predict(float[] input);
}

/// <summary>The minimal API: the endpoints over whichever <see cref="IPredictor"/> the engine names.</summary>
public static class PredictionService
{
    public const string FastConvEngine = "fastconv";
    public const string OrtEngine = "ort";

    /// <summary>The app for <paramref name="engine"/> (fastconv or ort), configured from appsettings.json, the environment and <paramref name="args"/>.</summary>
    public static WebApplication Build(string[] args, string engine, IEnumerable<KeyValuePair<string, string?>>? overrides = null)
    {
        // appsettings.json beside the binary, whatever the working directory (dotnet run from the repository root too).
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        if (overrides is not null)
        {
            builder.Configuration.AddInMemoryCollection(overrides);
        }
        IConfigurationSection section = builder.Configuration.GetSection("FastConv");
        switch (engine)
        {
            case FastConvEngine:
                // The session from configuration (model, backend, threads, memory limit), a singleton: FastConv.Extensions.
                builder.Services.AddFastConv(section);
                builder.Services.AddSingleton<IPredictor>(sp => new FastConvPredictor(sp.GetRequiredService<FastConvSession>(), section["Model"]!));
                break;
            case OrtEngine:
                builder.Services.AddSingleton<IPredictor>(_ => new OrtPredictor(section["Model"] ?? "builtin:mnist", section.GetValue<int?>("Threads") ?? 1));
                break;
            default:
                throw new ArgumentException($"--engine must be {FastConvEngine} or {OrtEngine}, got '{engine}'");
        }
        WebApplication app = builder.Build();
        // Load and plan now, not at the first request.
        IPredictor predictor = app.Services.GetRequiredService<IPredictor>();
        app.Logger.LogInformation("{Engine}: {Model}, input {Input}, output {Output}", predictor.Engine, predictor.Model, predictor.Input, predictor.Output);

        app.MapGet("/health", (IPredictor p) => Results.Ok(new { status = "ok", engine = p.Engine, model = p.Model, input = p.Input, output = p.Output }));
        app.MapPost("/predict", (PredictRequest request, IPredictor p) =>
        {
            if (request.Input is null || request.Input.Length != p.InputLength)
            {
                return Results.Problem($"input must hold {p.InputLength} floats ({p.Input}), got {request.Input?.Length ?? 0}", statusCode: StatusCodes.Status400BadRequest);
            }
            long t0 = Stopwatch.GetTimestamp();
            float[] scores = p.Predict(request.Input);
            double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            return Results.Ok(new PredictResponse(p.Output, Array.IndexOf(scores, scores.Max()), scores, ms));
        });
        return app;
    }
}

/// <summary>FastConv: one <see cref="FastConvSession"/> for every request (thread-safe), caller-owned input and output tensors.</summary>
public sealed class FastConvPredictor : IPredictor
{
    private readonly FastConvSession _session;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;

    public FastConvPredictor(FastConvSession session, string model)
    {
        _session = session;
        Model = model;
        _inputNames = [session.Inputs[0].Name];
        _outputNames = [session.Outputs[0].Name];
    }

    public string Engine => $"{PredictionService.FastConvEngine} ({_session.BackendName})";
    public string Model { get; }
    public string Input => _session.InputMetadata[0].ToString();
    public int InputLength => _session.Inputs[0].Shape.ElementCount;
    public string Output => _session.Outputs[0].Name;

    public float[] Predict(float[] input)
    {
        var output = new float[_session.Outputs[0].Shape.ElementCount];
        _session.Run(_inputNames, [Tensor.Wrap(input, _session.Inputs[0].Shape)], _outputNames, [Tensor.Wrap(output, _session.Outputs[0].Shape)]);
        return output;
    }
}

/// <summary>
/// ONNX Runtime: one InferenceSession for every request (its Run is thread-safe), CPU execution provider, every graph
/// optimization, the same intra-op thread count as FastConv. A builtin: model is exported to ONNX by FastConv first,
/// so both engines run the same graph and weights.
/// </summary>
public sealed class OrtPredictor : IPredictor, IDisposable
{
    private readonly OrtSessionOptions _options;
    private readonly InferenceSession _session;
    private readonly long[] _inputDims;
    private readonly long[] _outputDims;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;

    public OrtPredictor(string model, int threads)
    {
        Model = model;
        Graph graph = ModelLoader.Load(model);
        byte[] bytes = model.StartsWith(ModelLoader.BuiltinPrefix, StringComparison.Ordinal) ? OnnxExport.ToBytes(graph) : File.ReadAllBytes(model);
        _options = new OrtSessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
        };
        _session = new InferenceSession(bytes, _options);
        GraphValue input = graph.Inputs[0];
        GraphInfo info = GraphInfo.Analyze(graph);
        _inputDims = [.. input.Shape.Dims.ToArray().Select(d => (long)d)];
        _outputDims = [.. info.Shapes[graph.Outputs[0]].Dims.ToArray().Select(d => (long)d)];
        _inputNames = [input.Name];
        _outputNames = [graph.Outputs[0]];
        Input = $"{input.Name} {input.Shape}";
        InputLength = input.Shape.ElementCount;
    }

    public string Engine => PredictionService.OrtEngine;
    public string Model { get; }
    public string Input { get; }
    public int InputLength { get; }
    public string Output => _outputNames[0];

    public float[] Predict(float[] input)
    {
        var output = new float[_outputDims.Aggregate(1L, (a, b) => a * b)];
        using OrtValue x = OrtValue.CreateTensorValueFromMemory(input, _inputDims);
        using OrtValue y = OrtValue.CreateTensorValueFromMemory(output, _outputDims);
        using var runOptions = new RunOptions();
        _session.Run(runOptions, _inputNames, [x], _outputNames, [y]);
        return output;
    }

    public void Dispose()
    {
        _session.Dispose();
        _options.Dispose();
    }
}
