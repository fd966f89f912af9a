using Spectre.Console;

namespace FastConv.Cli;

/// <summary>
/// Progress for a step that may take a while (loading a big model, planning it): nothing when it ends within
/// <see cref="Delay"/>; past it, a Spectre.Console status spinner on standard error when that is a terminal, else
/// one line there (logs, CI). Never on standard output, so <c>--json</c> output stays a single JSON document.
/// The work runs on the calling thread (a GPU context stays on the thread that made it); only the display waits elsewhere.
/// </summary>
public sealed class SlowStep
{
    /// <summary>How long a step runs before it is shown.</summary>
    public static readonly TimeSpan DefaultDelay = TimeSpan.FromSeconds(1);

    private readonly TextWriter _error;
    private readonly bool _interactive;

    /// <param name="error">Where progress goes (standard error).</param>
    /// <param name="interactive">A terminal: a spinner that is cleared when the step ends; otherwise one plain line.</param>
    /// <param name="delay">How long a step runs before it is shown (<see cref="DefaultDelay"/>).</param>
    public SlowStep(TextWriter error, bool interactive, TimeSpan? delay = null)
    {
        _error = error;
        _interactive = interactive;
        Delay = delay ?? DefaultDelay;
    }

    public TimeSpan Delay { get; }

    /// <summary>Standard error, with a spinner when it is a terminal (and NO_COLOR/TERM allow Spectre to draw one).</summary>
    public static SlowStep ForStandardError(TextWriter? error)
        => error is null || ReferenceEquals(error, Console.Error)
            ? new SlowStep(Console.Error, !Console.IsErrorRedirected)
            : new SlowStep(error, interactive: false);

    public T Run<T>(string what, Func<T> work)
    {
        if (Delay <= TimeSpan.Zero && !_interactive)
        {
            // No delay: always shown, and before the work (a thread started for it might only run once the work is done).
            _error.WriteLine($"fastconv: {what}…");
            return work();
        }
        using var done = new ManualResetEventSlim();
        // A thread of its own, not the pool's: on a busy machine a pool thread could start only after the step ended.
        var display = new Thread(() => Show(what, done)) { IsBackground = true, Name = "fastconv-progress" };
        display.Start();
        try
        {
            return work();
        }
        finally
        {
            done.Set();
            display.Join();
        }
    }

    private void Show(string what, ManualResetEventSlim done)
    {
        if (done.Wait(Delay))
        {
            return;
        }
        if (!_interactive)
        {
            _error.WriteLine($"fastconv: {what}…");
            return;
        }
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(_error) });
        console.Status().Start(Markup.Escape(what) + "…", _ => done.Wait());
    }
}
