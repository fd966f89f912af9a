using FastConv;
using FastConv.Extensions;
using FastConv.Sessions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

// In the DI namespace, as Microsoft.Extensions' own registrations are: AddFastConv is found wherever services are.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers FastConv sessions with a service collection, each logging through the host's <see cref="ILoggerFactory"/>
/// (category FastConv.Sessions.FastConvSession) when one is registered. A session is thread-safe and holds the planned model (packed
/// weights, arenas), so it is a singleton: made on first use from its options, disposed with the service provider.
/// Resolve it once at start-up to load and plan before the first request.
/// </summary>
public static class FastConvServiceCollectionExtensions
{
    /// <summary>The child section whose entries become keyed sessions (<c>"FastConv": { "Models": { "digits": { … } } }</c>).</summary>
    public const string ModelsSection = "Models";

    /// <summary>
    /// Registers the sessions <paramref name="configuration"/> describes (e.g. <c>configuration.GetSection("FastConv")</c>):
    /// when the section names a <c>Model</c>, a <see cref="FastConvSession"/> singleton from its settings (see
    /// <see cref="FastConvModelOptions"/>); and for each entry of its <c>Models</c> child, a keyed singleton under the
    /// entry's name (<c>[FromKeyedServices("digits")] FastConvSession</c>). A section with neither is an
    /// <see cref="InvalidSettingException"/> now, not at the first request.
    /// </summary>
    public static IServiceCollection AddFastConv(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        string path = configuration is IConfigurationSection s ? s.Path : "configuration";
        bool single = configuration[nameof(FastConvModelOptions.Model)] is not null;
        IConfigurationSection[] named = [.. configuration.GetSection(ModelsSection).GetChildren()];
        if (!single && named.Length == 0)
        {
            throw new InvalidSettingException(path, $"{path} names no model: give {path}:Model (an .onnx path or builtin:NAME), or {path}:{ModelsSection}:NAME:Model for each named session.");
        }
        if (single)
        {
            Register(services, null, configuration, path);
        }
        foreach (IConfigurationSection entry in named)
        {
            Register(services, entry.Key, entry, entry.Path);
        }
        return services;
    }

    /// <summary>Registers a <see cref="FastConvSession"/> singleton from options set in code.</summary>
    public static IServiceCollection AddFastConv(this IServiceCollection services, Action<FastConvModelOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<FastConvModelOptions>(Options.Options.DefaultName).Configure(configure).PostConfigure(o => o.Source = "FastConv");
        AddSession(services, null);
        return services;
    }

    /// <summary>Registers a keyed <see cref="FastConvSession"/> singleton <paramref name="name"/> from <paramref name="configuration"/> (a section with Model, Backend, …).</summary>
    public static IServiceCollection AddFastConv(this IServiceCollection services, string name, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(configuration);
        Register(services, name, configuration, configuration is IConfigurationSection s ? s.Path : name);
        return services;
    }

    /// <summary>Registers a keyed <see cref="FastConvSession"/> singleton <paramref name="name"/> from options set in code.</summary>
    public static IServiceCollection AddFastConv(this IServiceCollection services, string name, Action<FastConvModelOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<FastConvModelOptions>(OptionsName(name)).Configure(configure).PostConfigure(o => o.Source = $"FastConv:{name}");
        AddSession(services, name);
        return services;
    }

    private static void Register(IServiceCollection services, string? name, IConfiguration section, string path)
    {
        services.AddOptions<FastConvModelOptions>(OptionsName(name)).Bind(section).PostConfigure(o => o.Source = path);
        AddSession(services, name);
    }

    private static void AddSession(IServiceCollection services, string? name)
    {
        if (name is null)
        {
            services.AddSingleton(sp => Create(sp, null));
        }
        else
        {
            services.AddKeyedSingleton(name, (sp, _) => Create(sp, name));
        }
    }

    /// <summary>Named options per keyed session; the unkeyed one uses the default name.</summary>
    private static string OptionsName(string? name) => name is null ? Options.Options.DefaultName : "FastConv:" + name;

    private static FastConvSession Create(IServiceProvider services, string? name)
    {
        FastConvModelOptions options;
        try
        {
            options = services.GetRequiredService<IOptionsMonitor<FastConvModelOptions>>().Get(OptionsName(name));
        }
        catch (InvalidOperationException e)
        {
            // The binder's own message names the key and the value it could not convert.
            string what = name is null ? "FastConv" : $"FastConv:{name}";
            throw new InvalidSettingException(what, $"the settings of {(name is null ? "the FastConv session" : $"FastConv session '{name}'")} could not be read: {e.Message}", e);
        }
        // The host's logging: load, plan and backend choice (with why) go where the application's logs go.
        FastConvSessionOptions session = options.ToSessionOptions(services.GetService<ILoggerFactory>());
        return FastConvSession.Load(options.RequireModel(), session, options.ParseInputShapes());
    }
}
