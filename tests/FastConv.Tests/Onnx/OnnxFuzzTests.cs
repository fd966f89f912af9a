using System.Diagnostics;
using FastConv.Onnx;
using FastConv.Tests.Support;
using static FastConv.Tests.Support.OnnxModelBuilder;

namespace FastConv.Tests.Onnx;

/// <summary>
/// Random byte mutations of valid models: every case either loads or throws a <see cref="FastConvException"/>;
/// anything else (IndexOutOfRange, NullReference, OutOfMemory, Overflow, …) fails the test with the seed and the
/// case number to replay it. 10,000 cases in CI (about a second); <c>FASTCONV_FUZZ_CASES=N</c> runs more,
/// <c>FASTCONV_FUZZ_SEED=S</c> another seed.
/// </summary>
[Category("Hostile")]
[Description("every mutated model loads or throws a FastConvException (10,000 seeded mutations in CI; FASTCONV_FUZZ_CASES for more)")]
public class OnnxFuzzTests
{
    private const int DefaultCases = 10_000;

    /// <summary>Small models covering the importer's paths (kilobytes each, so a case costs microseconds).</summary>
    internal static IReadOnlyList<byte[]> Seeds()
    {
        var conv = new OnnxModelBuilder(seed: 1, opset: 13);
        string x = conv.Input("x", -1, 2, 6, 6);
        string y = conv.MaxPool(conv.Relu(conv.BatchNorm(conv.Conv(x, 2, 3, 3, 3), 3)), 2, 2);
        y = conv.TorchFlatten(y);
        conv.Output(conv.Softmax(conv.Linear(y, 27, 4)));

        var mobile = new OnnxModelBuilder(seed: 2, opset: 17) { WeightsAsConstantNodes = true, RawData = false };
        x = mobile.Input("x", 1, 4, 6, 6);
        y = mobile.Clip(mobile.Conv(x, 4, 4, 3, 3, 2, 1, group: 4), 0f, 6f);
        string se = mobile.Op("HardSigmoid", [mobile.Conv(mobile.Op("GlobalAveragePool", [y]), 4, 4, 1, 1)], Attr("alpha", 0.2f), Attr("beta", 0.5f));
        y = mobile.HardSwish(mobile.Op("Mul", [y, se]));
        string up = mobile.Op("Resize", [y, "", mobile.Float("s", [1f, 1f, 2f, 1f], 4)], Attr("mode", "nearest"));
        string dec = mobile.Op("ConvTranspose", [y, mobile.Float("dw", mobile.HeUniform(4 * 2 * 2 * 1, 4), 4, 2, 2, 1)], Attr("kernel_shape", 2L, 1L), Attr("strides", 2L, 1L));
        mobile.Output(mobile.Op("Concat", [up, dec], Attr("axis", 1L)));

        return [conv.ToBytes(), mobile.ToBytes(), OnnxTestNets.OldOpsets().Model];
    }

    [Test]
    public void Mutated_models_load_or_throw_a_typed_error()
    {
        int cases = int.TryParse(Environment.GetEnvironmentVariable("FASTCONV_FUZZ_CASES"), out int n) && n > 0 ? n : DefaultCases;
        int seed = int.TryParse(Environment.GetEnvironmentVariable("FASTCONV_FUZZ_SEED"), out int s) ? s : 20260524;
        var seeds = Seeds();
        foreach (var m in seeds) Assert.DoesNotThrow(() => OnnxModel.Load(m), "every fuzz seed is a valid model");

        var failures = new List<string>();
        int loaded = 0, typed = 0;
        var slowest = TimeSpan.Zero;
        int slowestCase = -1;
        var clock = Stopwatch.StartNew();
        for (int c = 0; c < cases; c++)
        {
            // Not HashCode.Combine: it is salted per process, so a failing case could not be replayed from its numbers.
            byte[] bytes = Mutate(seeds[c % seeds.Count], new Random(unchecked((seed * 1_000_003) ^ c)));
            long t0 = Stopwatch.GetTimestamp();
            try
            {
                OnnxModel.Load(bytes);
                loaded++;
            }
            catch (FastConvException)
            {
                typed++;
            }
            catch (Exception e)
            {
                failures.Add($"seed {seed} case {c}: {e.GetType().Name}: {e.Message}{Environment.NewLine}{e.StackTrace?.Split(Environment.NewLine).FirstOrDefault()}");
                if (failures.Count >= 10) break;
            }
            var dt = Stopwatch.GetElapsedTime(t0);
            if (dt > slowest)
            {
                slowest = dt;
                slowestCase = c;
            }
        }
        TestContext.Out.WriteLine($"{cases} cases (seed {seed}) in {clock.Elapsed.TotalSeconds:F2} s: {loaded} loaded, {typed} typed errors; slowest case {slowestCase} took {slowest.TotalMilliseconds:F1} ms");
        Assert.That(failures, Is.Empty, "replay with FASTCONV_FUZZ_SEED and the case number:" + Environment.NewLine + string.Join(Environment.NewLine, failures));
    }

    /// <summary>Cases a long run found (seed, case): each must stay a typed error or a load.</summary>
    [TestCase(7, 519797)] // Softmax without inputs in an opset-12 model: IndexOutOfRange in OpsetNormalizer
    public void Cases_found_by_long_runs_stay_fixed(int seed, int c)
    {
        var seeds = Seeds();
        byte[] bytes = Mutate(seeds[c % seeds.Count], new Random(unchecked((seed * 1_000_003) ^ c)));
        try
        {
            OnnxModel.Load(bytes);
        }
        catch (FastConvException)
        {
        }
    }

    /// <summary>One to three mutations: bit flips, random bytes, truncation, insertion, deletion, 0xFF runs (huge varints), duplicated slices.</summary>
    internal static byte[] Mutate(byte[] source, Random rng)
    {
        var b = new List<byte>(source);
        int count = rng.Next(1, 4);
        for (int k = 0; k < count && b.Count > 0; k++)
        {
            int at = rng.Next(b.Count);
            switch (rng.Next(7))
            {
                case 0:
                    b[at] ^= (byte)(1 << rng.Next(8));
                    break;
                case 1:
                    b[at] = (byte)rng.Next(256);
                    break;
                case 2:
                    b.RemoveRange(at, b.Count - at);
                    break;
                case 3:
                    {
                        var extra = new byte[rng.Next(1, 9)];
                        rng.NextBytes(extra);
                        b.InsertRange(at, extra);
                        break;
                    }
                case 4:
                    b.RemoveRange(at, Math.Min(rng.Next(1, 33), b.Count - at));
                    break;
                case 5:
                    for (int i = at; i < Math.Min(b.Count, at + rng.Next(1, 10)); i++) b[i] = 0xFF;
                    break;
                default:
                    {
                        int len = Math.Min(rng.Next(1, 64), b.Count - at);
                        b.InsertRange(rng.Next(b.Count), b.GetRange(at, len));
                        break;
                    }
            }
        }
        return [.. b];
    }
}
