using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;

namespace FastConv.Samples.WebService;

/// <summary>
/// A bounded loopback load test: for each engine (FastConv, then ONNX Runtime) the service starts on 127.0.0.1 at a
/// free port, <c>--clients</c> clients (default 8, at most 64) post the same input to /predict back to back for
/// <c>--seconds</c> (default 3, at most 30; also at most 100,000 requests per client) after 400 uncounted requests
/// of the same load (at most 10 s; see the warm-up's comment), and the service stops. Prints
/// requests per second, p50 and p99 latency, errors, and whether the two engines answered alike. Clients and server share
/// this machine's cores, so the figures are for the whole loop, not the server alone.
/// </summary>
public static class LoadTest
{
    private const int MaxRequestsPerClient = 100_000;

    private sealed record Result(string Engine, int Requests, int Errors, double Seconds, double P50Ms, double P99Ms, float[] Scores);

    public static async Task<int> RunAsync(string[] args)
    {
        int seconds = Option(args, "--seconds", 3, 1, 30), clients = Option(args, "--clients", 8, 1, 64);
        Console.WriteLine($"loopback load test: {clients} clients, {seconds} s per engine, {Environment.ProcessorCount} cores shared by server and clients");
        var results = new List<Result>();
        foreach (string engine in (string[])[PredictionService.FastConvEngine, PredictionService.OrtEngine])
        {
            results.Add(await RunEngineAsync(engine, seconds, clients));
        }
        Console.WriteLine();
        Console.WriteLine($"{"engine",-16} {"req/s",9} {"p50 ms",8} {"p99 ms",8} {"requests",9} {"errors",7}");
        foreach (Result r in results)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Engine,-16} {r.Requests / r.Seconds,9:F0} {r.P50Ms,8:F2} {r.P99Ms,8:F2} {r.Requests,9} {r.Errors,7}"));
        }
        double worst = results[0].Scores.Zip(results[1].Scores, (a, b) => Math.Abs(a - b)).Max();
        bool agree = worst <= 1e-4 * Math.Max(1, results[1].Scores.Max(Math.Abs));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"outputs {(agree ? "agree" : "DISAGREE")}: largest difference {worst:G3}"));
        return results.All(r => r.Errors == 0) && agree ? 0 : 1;
    }

    private static async Task<Result> RunEngineAsync(string engine, int seconds, int clients)
    {
        await using WebApplication app = PredictionService.Build([], engine, [new("Logging:LogLevel:Default", "Warning")]);
        app.Urls.Clear();
        app.Urls.Add("http://127.0.0.1:0");
        await app.StartAsync();
        IPredictor predictor = app.Services.GetRequiredService<IPredictor>();
        var rng = new Random(7);
        float[] input = [.. Enumerable.Range(0, predictor.InputLength).Select(_ => rng.NextSingle())];
        byte[] body = JsonSerializer.SerializeToUtf8Bytes(new PredictRequest(input), JsonSerializerOptions.Web);

        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = clients };
        using var http = new HttpClient(handler) { BaseAddress = new Uri(app.Urls.First()) };
        Console.WriteLine($"{predictor.Engine} at {http.BaseAddress}: {await http.GetStringAsync(new Uri("/health", UriKind.Relative))}");
        // The first answer is kept to compare the engines. Then the same load, not counted, for 400 requests (at most
        // 10 s): .NET runs new methods unoptimized first and recompiles them optimized only after some 30 calls and a
        // pause (twice with profile-guided optimization), so FastConv's kernels start several times slower than they
        // run; ORT's are native code. Measured here on 2 cores: mnist at 14 ms per request before, 2 ms after.
        PredictResponse first = await PostAsync(http, body) ?? throw new InvalidOperationException("no answer from /predict");
        await LoadAsync(http, body, clients, TimeSpan.FromSeconds(10), total: 400);
        (List<double>[] latencies, int errors, double elapsed) = await LoadAsync(http, body, clients, TimeSpan.FromSeconds(seconds), total: clients * MaxRequestsPerClient);
        await app.StopAsync();

        double[] sorted = [.. latencies.SelectMany(l => l).Order()];
        return new Result(predictor.Engine, sorted.Length, errors, elapsed, Percentile(sorted, 0.50), Percentile(sorted, 0.99), first.Scores);
    }

    /// <summary><paramref name="clients"/> clients posting back to back until <paramref name="duration"/> has passed or <paramref name="total"/> requests are made.</summary>
    private static async Task<(List<double>[] Latencies, int Errors, double Seconds)> LoadAsync(HttpClient http, byte[] body, int clients, TimeSpan duration, int total)
    {
        var latencies = new List<double>[clients];
        int errors = 0, started = 0;
        var clock = Stopwatch.StartNew();
        Task[] workers = [.. Enumerable.Range(0, clients).Select(k => Task.Run(async () =>
        {
            var mine = latencies[k] = new List<double>(4096);
            for (int n = 0; n < MaxRequestsPerClient && clock.Elapsed < duration && Interlocked.Increment(ref started) <= total; n++)
            {
                long t0 = Stopwatch.GetTimestamp();
                using var content = new ByteArrayContent(body);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                using HttpResponseMessage response = await http.PostAsync(new Uri("/predict", UriKind.Relative), content);
                await response.Content.LoadIntoBufferAsync();
                mine.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                if (!response.IsSuccessStatusCode)
                {
                    Interlocked.Increment(ref errors);
                }
            }
        }))];
        await Task.WhenAll(workers);
        return (latencies, errors, clock.Elapsed.TotalSeconds);
    }

    private static async Task<PredictResponse?> PostAsync(HttpClient http, byte[] body)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using HttpResponseMessage response = await http.PostAsync(new Uri("/predict", UriKind.Relative), content);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<PredictResponse>(JsonSerializerOptions.Web);
    }

    private static double Percentile(double[] sorted, double q) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];

    private static int Option(string[] args, string name, int fallback, int min, int max)
    {
        int i = Array.IndexOf(args, name);
        if (i < 0)
        {
            return fallback;
        }
        if (i + 1 >= args.Length || !int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out int v) || v < min || v > max)
        {
            throw new ArgumentException($"{name} takes a whole number from {min} to {max}");
        }
        return v;
    }
}
