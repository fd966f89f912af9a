using System.Diagnostics;

namespace FastConv.Tests.Robustness;

/// <summary>
/// A scratch folder and the special files a hostile user can plant (symbolic links, FIFOs), plus a guard that turns
/// a call that would block forever (reading a FIFO) into a test failure instead of a hung test run.
/// </summary>
public sealed class HostileFiles : IDisposable
{
    public HostileFiles(string prefix) => Root = Directory.CreateTempSubdirectory(prefix).FullName;

    public string Root { get; }

    public string Path(params string[] parts) => System.IO.Path.Join([Root, .. parts]);

    public string Write(string name, byte[] bytes)
    {
        string p = Path(name);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(p)!);
        File.WriteAllBytes(p, bytes);
        return p;
    }

    public string Link(string name, string target)
    {
        string p = Path(name);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(p)!);
        File.CreateSymbolicLink(p, target);
        return p;
    }

    /// <summary>A FIFO (named pipe) at <paramref name="name"/>; the test is ignored where mkfifo is missing.</summary>
    public string Fifo(string name)
    {
        string p = Path(name);
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("FIFOs are created with mkfifo on Linux only");
        }
        using var process = Process.Start(new ProcessStartInfo("mkfifo", [p]) { RedirectStandardError = true })!;
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            Assert.Ignore($"mkfifo failed: {process.StandardError.ReadToEnd()}");
        }
        return p;
    }

    /// <summary>
    /// Runs <paramref name="action"/> with a deadline. A call still blocked after it (a read of a FIFO with no writer)
    /// fails the test; the FIFOs given are then opened for writing and closed, so the blocked reader sees the end of
    /// the file and its thread does not outlive the test.
    /// </summary>
    public static Exception? WithinDeadline(Action action, TimeSpan deadline, params string[] fifos)
    {
        Exception? caught = null;
        var thread = new Thread(() =>
        {
            try
            {
                action();
            }
            catch (Exception e)
            {
                caught = e;
            }
        })
        { IsBackground = true };
        thread.Start();
        if (thread.Join(deadline))
        {
            return caught;
        }
        foreach (string f in fifos)
        {
            try
            {
                using var w = new FileStream(f, FileMode.Open, FileAccess.Write);
            }
            catch (IOException)
            {
            }
        }
        thread.Join(TimeSpan.FromSeconds(10));
        Assert.Fail($"still blocked after {deadline.TotalSeconds:F0} s (a FIFO was opened for reading)");
        return null;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
