using System.CommandLine;
using FastConv.Cli.Commands;
using Spectre.Console;

namespace FastConv.Cli;

/// <summary>The <c>fastconv</c> command: one verb per file under Commands/ (info, check, run, summary, bench).</summary>
public static class Cli
{
    /// <summary>The root command with every verb; tests walk it to check each verb's help.</summary>
    public static RootCommand BuildRoot(IAnsiConsole console)
    {
        var root = new RootCommand("FastConv: convolutional neural networks, fast, on NVIDIA GPUs and on the CPU.");
        root.Subcommands.Add(InfoCommand.Create(console));
        root.Subcommands.Add(CheckCommand.Create(console));
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(SummaryCommand.Create(console));
        root.Subcommands.Add(BenchCommand.Create(console));
        return root;
    }

    /// <summary>
    /// Parses and runs <paramref name="args"/>; output goes to <paramref name="console"/> (the terminal by default),
    /// or to <paramref name="output"/>, and errors and progress to <paramref name="error"/> (else to <paramref name="output"/>).
    /// </summary>
    public static int Run(string[] args, IAnsiConsole? console = null, TextWriter? output = null, TextWriter? error = null)
    {
        ParseResult parsed = BuildRoot(console ?? AnsiConsole.Console).Parse(args);
        // Our own handler below turns a FastConvException into one line; anything else is a bug and keeps its stack.
        var config = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
        if (output is not null)
        {
            config.Output = output;
            config.Error = output;
        }
        if (error is not null)
        {
            config.Error = error;
        }
        try
        {
            return parsed.Invoke(config);
        }
        catch (FastConvException e)
        {
            // Every deliberate error is a FastConvException: one clear line, non-zero exit.
            (error ?? output ?? Console.Error).WriteLine($"fastconv: {e.Message}");
            return 2;
        }
    }
}
