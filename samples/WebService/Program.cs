// An ASP.NET Core minimal API serving one model: POST /predict {"input": [floats]} and GET /health.
//
//   dotnet run --project samples/WebService                         FastConv (appsettings.json: FastConv section)
//   dotnet run --project samples/WebService -- --engine ort         the same service on ONNX Runtime
//   dotnet run --project samples/WebService -- loadtest [--seconds 3] [--clients 8]
//                                                                   both services on loopback, 8 clients each: req/s, p50, p99
using FastConv.Samples.WebService;

if (args.Length > 0 && args[0] == "loadtest")
{
    return await LoadTest.RunAsync(args[1..]);
}
string engine = args.SkipWhile(a => a != "--engine").Skip(1).FirstOrDefault() ?? PredictionService.FastConvEngine;
WebApplication app = PredictionService.Build([.. args.Where(a => a != "--engine" && a != engine)], engine);
await app.RunAsync();
return 0;
