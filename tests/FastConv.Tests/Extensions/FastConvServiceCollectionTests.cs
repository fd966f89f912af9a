using FastConv.Extensions;
using FastConv.Sessions;
using FastConv.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FastConv.Tests.Extensions;

/// <summary>
/// FastConv.Extensions: sessions registered from configuration (one unkeyed, a named set keyed), their settings as the
/// section wrote them, singletons disposed with the provider, and every bad value an <see cref="InvalidSettingException"/>
/// naming its configuration key.
/// </summary>
public sealed class FastConvServiceCollectionTests
{
    private static IConfigurationRoot Config(params (string Key, string Value)[] entries)
        => new ConfigurationBuilder().AddInMemoryCollection(entries.Select(e => new KeyValuePair<string, string?>(e.Key, e.Value))).Build();

    [Test]
    public void SectionBecomesASingletonSessionWithItsSettings()
    {
        IConfigurationRoot config = Config(
            ("FastConv:Model", "builtin:mnist"), ("FastConv:Backend", "cpu"), ("FastConv:Threads", "1"),
            ("FastConv:MemoryLimit", "512M"), ("FastConv:MaxShapePlans", "3"), ("FastConv:Exact", "true"),
            ("FastConv:InputShapes:input", "2x1x28x28"));
        using ServiceProvider provider = new ServiceCollection().AddFastConv(config.GetSection("FastConv")).BuildServiceProvider();

        FastConvSession session = provider.GetRequiredService<FastConvSession>();
        Assert.Multiple(() =>
        {
            Assert.That(provider.GetRequiredService<FastConvSession>(), Is.SameAs(session), "one session per provider");
            Assert.That(session.BackendName, Is.EqualTo("cpu"));
            Assert.That(session.Options.Threads, Is.EqualTo(1));
            Assert.That(session.Options.MemoryLimitBytes, Is.EqualTo(512L << 20));
            Assert.That(session.Options.MaxShapePlans, Is.EqualTo(3));
            Assert.That(session.Options.Exact, Is.True);
            Assert.That(session.Inputs[0].Shape, Is.EqualTo(TensorShape.Of(2, 1, 28, 28)), "InputShapes fix the builtin's batch");
        });

        // It runs, and the provider disposes it.
        Tensor x = TestData.Floats(new Random(3), session.Inputs[0].Shape);
        IReadOnlyDictionary<string, Tensor> y = session.Run(new Dictionary<string, Tensor> { [session.Inputs[0].Name] = x });
        Assert.That(y.Values.Single().Span.ToArray(), Has.All.Matches<float>(float.IsFinite));
        provider.Dispose();
        Assert.Throws<ObjectDisposedException>(() => session.Run(new Dictionary<string, Tensor> { [session.Inputs[0].Name] = x }));
    }

    [Test]
    public void ModelsChildrenBecomeKeyedSessions()
    {
        IConfigurationRoot config = Config(
            ("FastConv:Models:digits:Model", "builtin:mnist"), ("FastConv:Models:digits:Backend", "cpu"),
            ("FastConv:Models:lenet:Model", "builtin:lenet5"), ("FastConv:Models:lenet:Backend", "reference"));
        using ServiceProvider provider = new ServiceCollection().AddFastConv(config.GetSection("FastConv")).BuildServiceProvider();

        FastConvSession digits = provider.GetRequiredKeyedService<FastConvSession>("digits");
        FastConvSession lenet = provider.GetRequiredKeyedService<FastConvSession>("lenet");
        Assert.Multiple(() =>
        {
            Assert.That(digits.BackendName, Is.EqualTo("cpu"));
            Assert.That(lenet.BackendName, Is.EqualTo("reference"));
            Assert.That(digits.Inputs[0].Shape, Is.EqualTo(TensorShape.Of(1, 1, 28, 28)));
            Assert.That(lenet.Inputs[0].Shape, Is.EqualTo(TensorShape.Of(1, 1, 32, 32)));
            Assert.That(provider.GetService<FastConvSession>(), Is.Null, "no unkeyed session when the section names no Model");
        });
    }

    [Test]
    public void CodeOptionsAndNamedSections()
    {
        IConfigurationRoot config = Config(("Vision:Model", "builtin:lenet5"), ("Vision:Backend", "cpu"));
        using ServiceProvider provider = new ServiceCollection()
            .AddFastConv(o => { o.Model = "builtin:mnist"; o.Backend = "reference"; })
            .AddFastConv("vision", config.GetSection("Vision"))
            .AddFastConv("coded", o => o.Model = "builtin:lenet5")
            .BuildServiceProvider();
        Assert.Multiple(() =>
        {
            Assert.That(provider.GetRequiredService<FastConvSession>().BackendName, Is.EqualTo("reference"));
            Assert.That(provider.GetRequiredKeyedService<FastConvSession>("vision").BackendName, Is.EqualTo("cpu"));
            Assert.That(provider.GetRequiredKeyedService<FastConvSession>("coded").Inputs[0].Shape, Is.EqualTo(TensorShape.Of(1, 1, 32, 32)));
        });
    }

    [Test]
    public void SessionsLogThroughTheHostsLoggerFactory()
    {
        var provider = new CapturingLoggerProvider();
        IConfigurationRoot config = Config(("FastConv:Model", "builtin:mnist"), ("FastConv:Backend", "cpu"), ("FastConv:MaxConcurrency", "3"));
        using ServiceProvider services = new ServiceCollection()
            .AddLogging(b => b.AddProvider(provider).SetMinimumLevel(LogLevel.Trace))
            .AddFastConv(config.GetSection("FastConv"))
            .BuildServiceProvider();
        FastConvSession session = services.GetRequiredService<FastConvSession>();
        Assert.Multiple(() =>
        {
            Assert.That(session.Options.MaxConcurrency, Is.EqualTo(3));
            Assert.That(session.Options.Logger, Is.Not.Null, "the host's ILoggerFactory reaches the session's options");
            // The session logs its load, plan and backend choice through it.
            Assert.That(provider.Messages.Where(m => m.Category == typeof(FastConvSession).FullName), Is.Not.Empty);
        });

        // Without a logger factory in the container the session has none (and logs nowhere).
        using ServiceProvider bare = new ServiceCollection().AddFastConv(config.GetSection("FastConv")).BuildServiceProvider();
        Assert.That(bare.GetRequiredService<FastConvSession>().Options.Logger, Is.Null);
    }

    [Test]
    public void ASectionWithoutAModelFailsAtRegistration()
    {
        IConfigurationRoot config = Config(("FastConv:Backend", "cpu"));
        var e = Assert.Throws<InvalidSettingException>(() => new ServiceCollection().AddFastConv(config.GetSection("FastConv")));
        Assert.That(e!.Setting, Is.EqualTo("FastConv"));
        Assert.That(e.Message, Does.Contain("FastConv:Model"));
    }

    private static IEnumerable<TestCaseData> BadValues()
    {
        yield return new TestCaseData("Threads", "0", "FastConv:Threads").SetName("threads zero");
        yield return new TestCaseData("Threads", "two", "FastConv").SetName("threads not a number");
        yield return new TestCaseData("MemoryLimit", "lots", "FastConv:MemoryLimit").SetName("memory limit not a size");
        yield return new TestCaseData("MemoryLimit", "-5M", "FastConv:MemoryLimit").SetName("memory limit negative");
        yield return new TestCaseData("MaxShapePlans", "0", "FastConv:MaxShapePlans").SetName("no shape plans");
        yield return new TestCaseData("MaxConcurrency", "0", "FastConv:MaxConcurrency").SetName("no concurrency");
        yield return new TestCaseData("InputShapes:input", "1x0x28x28", "FastConv:InputShapes:input").SetName("shape with a zero");
        yield return new TestCaseData("InputShapes:input", "1,1,28,28", "FastConv:InputShapes:input").SetName("shape with commas");
        yield return new TestCaseData("Backend", " ", "FastConv:Backend").SetName("empty backend");
    }

    [TestCaseSource(nameof(BadValues))]
    public void ABadValueNamesItsKey(string key, string value, string setting)
    {
        IConfigurationRoot config = Config(("FastConv:Model", "builtin:mnist"), ($"FastConv:{key}", value));
        using ServiceProvider provider = new ServiceCollection().AddFastConv(config.GetSection("FastConv")).BuildServiceProvider();
        var e = Assert.Throws<InvalidSettingException>(() => provider.GetRequiredService<FastConvSession>());
        Assert.That(e!.Setting, Is.EqualTo(setting));
        Assert.That(e.Message, Does.Contain(setting));
    }

    [Test]
    public void AnUnknownBackendOrModelIsTheEnginesTypedError()
    {
        IConfigurationRoot config = Config(("FastConv:Model", "builtin:nosuchnet"));
        using ServiceProvider provider = new ServiceCollection().AddFastConv(config.GetSection("FastConv")).BuildServiceProvider();
        Assert.Throws(Is.InstanceOf<FastConvException>(), () => provider.GetRequiredService<FastConvSession>());

        config = Config(("FastConv:Model", "builtin:mnist"), ("FastConv:Backend", "tpu"));
        using ServiceProvider other = new ServiceCollection().AddFastConv(config.GetSection("FastConv")).BuildServiceProvider();
        Assert.Throws(Is.InstanceOf<FastConvException>(), () => other.GetRequiredService<FastConvSession>());
    }

    /// <summary>Keeps every message with its category.</summary>
    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        private readonly List<(string Category, string Message)> _messages = [];

        public IReadOnlyList<(string Category, string Message)> Messages
        {
            get
            {
                lock (_messages)
                {
                    return [.. _messages];
                }
            }
        }

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                lock (owner._messages)
                {
                    owner._messages.Add((category, formatter(state, exception)));
                }
            }
        }
    }
}
