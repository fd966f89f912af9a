using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace FastConv.IO;

/// <summary>What a path names, from the file's type bits (never by opening it: opening a FIFO for reading blocks until a writer comes).</summary>
public enum FileKind
{
    Missing,
    Regular,
    Directory,
    SymbolicLink,
    CharacterDevice,
    BlockDevice,
    Fifo,
    Socket,
    Other,
}

/// <summary>
/// Reading and writing files a hostile user may have prepared: only regular files are read (a FIFO, <c>/dev/zero</c>
/// or a directory is named and refused before it is opened), reads are bounded by a cap checked against the size
/// before anything is allocated and again while reading, paths are resolved component by component as
/// <c>realpath(3)</c> does (so a symbolic link anywhere in a path is followed before a containment check, not after),
/// and output files are created anew without following a link planted in their place.
/// <para>
/// The file type comes from <c>statx(2)</c> on Linux. Elsewhere only directories and symbolic links can be told
/// apart from regular files (.NET exposes no file type), so there a FIFO is not refused.
/// </para>
/// </summary>
public static partial class SafeFile
{
    /// <summary>Most symbolic links followed while resolving one path (Linux's own limit, ELOOP beyond it).</summary>
    public const int MaxLinkHops = 40;

    /// <summary>The type of <paramref name="path"/>; with <paramref name="followLinks"/> false a final symbolic link is reported as such.</summary>
    public static FileKind KindOf(string path, bool followLinks)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (OperatingSystem.IsLinux() && Statx.Available)
        {
            const int AtSymlinkNoFollow = 0x100;
            if (Statx.TryGet(Statx.AtFdCwd, path, followLinks ? 0 : AtSymlinkNoFollow, out ushort mode, out _, out bool missing))
            {
                return FromMode(mode);
            }
            if (missing)
            {
                return FileKind.Missing;
            }
        }
        return ManagedKind(path, followLinks);
    }

    /// <summary>The type and size of an open file (what was opened, whatever the path names now).</summary>
    public static (FileKind Kind, long Length) KindOf(SafeFileHandle handle)
    {
        ArgumentNullException.ThrowIfNull(handle);
        if (OperatingSystem.IsLinux() && Statx.Available)
        {
            const int AtEmptyPath = 0x1000;
            bool added = false;
            try
            {
                handle.DangerousAddRef(ref added);
                if (Statx.TryGet((int)handle.DangerousGetHandle(), "", AtEmptyPath, out ushort mode, out ulong size, out _))
                {
                    return (FromMode(mode), size > long.MaxValue ? long.MaxValue : (long)size);
                }
            }
            finally
            {
                if (added)
                {
                    handle.DangerousRelease();
                }
            }
        }
        return (FileKind.Regular, RandomAccess.GetLength(handle));
    }

    /// <summary>
    /// The absolute path with every symbolic link resolved, in every component, and <c>.</c>/<c>..</c> applied after
    /// the links before them (as <c>realpath(3)</c>; a missing tail is kept as written). Throws <see cref="IOException"/>
    /// after <see cref="MaxLinkHops"/> links (a loop).
    /// </summary>
    public static string ResolvePath(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.IsPathRooted(path) ? path : Path.Join(Directory.GetCurrentDirectory(), path);
        string root = Path.GetPathRoot(full) ?? Path.DirectorySeparatorChar.ToString();
        var pending = new Stack<string>();
        PushComponents(pending, full[root.Length..]);
        string current = root;
        int hops = 0;
        while (pending.Count > 0)
        {
            string part = pending.Pop();
            if (part is "" or ".")
            {
                continue;
            }
            if (part == "..")
            {
                current = Path.GetDirectoryName(current) ?? root;
                continue;
            }
            string next = Path.Join(current, part);
            string? target = new FileInfo(next).LinkTarget;
            if (target is null)
            {
                current = next;
                continue;
            }
            if (++hops > MaxLinkHops)
            {
                throw new IOException($"'{path}': more than {MaxLinkHops} symbolic links (a loop?)");
            }
            if (Path.IsPathRooted(target))
            {
                current = Path.GetPathRoot(target) ?? root;
                target = target[current.Length..];
            }
            PushComponents(pending, target);
        }
        return current;
    }

    /// <summary>
    /// Resolves <paramref name="relative"/> inside <paramref name="folder"/> (both with every link followed) and
    /// returns the resolved path, or null when it leaves the folder.
    /// </summary>
    public static string? ResolveInside(string folder, string relative)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(relative);
        if (Path.IsPathRooted(relative))
        {
            return null;
        }
        string root = ResolvePath(folder);
        string resolved = ResolvePath(Path.Join(root, relative));
        string rootWithSeparator = Path.EndsInDirectorySeparator(root) ? root : root + Path.DirectorySeparatorChar;
        return resolved.StartsWith(rootWithSeparator, StringComparison.Ordinal) ? resolved : null;
    }

    /// <summary>
    /// Reads a whole regular file of at most <paramref name="maxBytes"/> bytes. Every refusal goes through
    /// <paramref name="error"/>: <paramref name="what"/> names the kind of file ("ONNX model"), <paramref name="limitHint"/>
    /// says how to raise the cap (e.g. "set FASTCONV_MAX_MODEL_BYTES").
    /// </summary>
    public static byte[] ReadAll(string path, long maxBytes, string what, string limitHint, Func<string, Exception?, FastConvException> error)
    {
        ArgumentNullException.ThrowIfNull(error);
        maxBytes = Math.Min(maxBytes, Array.MaxLength);
        using SafeFileHandle handle = OpenRegular(path, what, error);
        long length = KindOf(handle).Length;
        if (length > maxBytes)
        {
            throw error($"{what} '{path}' is {length:N0} bytes, more than the limit of {ByteSize.Format(maxBytes)}; {limitHint}", null);
        }
        var bytes = new byte[length];
        ReadExactly(handle, bytes, 0, path, what, error);
        return bytes;
    }

    /// <summary>
    /// Opens a regular file for reading after checking, without opening it, that it is one; then checks the opened
    /// file again (the path may have been swapped in between).
    /// </summary>
    public static SafeFileHandle OpenRegular(string path, string what, Func<string, Exception?, FastConvException> error)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(error);
        string resolved;
        try
        {
            resolved = ResolvePath(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw error($"cannot read {what} '{path}': {e.Message}", e);
        }
        RequireRegular(KindOf(resolved, followLinks: false), path, what, error);
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(resolved, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw error($"cannot read {what} '{path}': {e.Message}", e);
        }
        try
        {
            RequireRegular(KindOf(handle).Kind, path, what, error);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
        return handle;
    }

    /// <summary>Fills <paramref name="buffer"/> from <paramref name="offset"/>; a file that ends early (it shrank) is an error.</summary>
    public static void ReadExactly(SafeFileHandle handle, Span<byte> buffer, long offset, string path, string what, Func<string, Exception?, FastConvException> error)
    {
        ArgumentNullException.ThrowIfNull(error);
        int done = 0;
        try
        {
            while (done < buffer.Length)
            {
                int n = RandomAccess.Read(handle, buffer[done..], offset + done);
                if (n == 0)
                {
                    throw error($"{what} '{path}' ended after {offset + done:N0} bytes, expected {offset + buffer.Length:N0} (was it changed while being read?)", null);
                }
                done += n;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw error($"cannot read {what} '{path}': {e.Message}", e);
        }
    }

    /// <summary>
    /// Creates <paramref name="path"/> as a new file for writing, replacing a regular file of that name but never
    /// writing through a symbolic link (nor anything else that is not a regular file) planted there: the old file
    /// is removed and the new one created with <see cref="FileMode.CreateNew"/> (O_CREAT|O_EXCL, which fails on a
    /// link, even a dangling one, instead of following it).
    /// </summary>
    public static FileStream CreateNew(string path, string what, Func<string, Exception?, FastConvException> error)
    {
        FileKind kind = RequireReplaceable(path, what, error);
        try
        {
            if (kind == FileKind.Regular)
            {
                // Unlinking (not truncating) also leaves alone another name hard-linked to the old file.
                File.Delete(path);
            }
            return new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw error($"cannot write {what} '{path}': {e.Message}", e);
        }
    }

    /// <summary>
    /// Checks that <see cref="CreateNew"/> may create <paramref name="path"/>: nothing is there, or a regular file
    /// (not a symbolic link, whatever it points to, nor a directory, FIFO or device). Returns what is there.
    /// </summary>
    public static FileKind RequireReplaceable(string path, string what, Func<string, Exception?, FastConvException> error)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(error);
        FileKind kind = KindOf(path, followLinks: false);
        if (kind == FileKind.SymbolicLink)
        {
            string? target = new FileInfo(path).LinkTarget;
            throw error($"{what} '{path}' is a symbolic link (to '{target}'); refusing to write through it. Remove the link or choose another folder.", null);
        }
        if (kind is not (FileKind.Missing or FileKind.Regular))
        {
            throw error($"{what} '{path}' exists and is {Describe(kind)}, not a regular file; refusing to replace it.", null);
        }
        return kind;
    }

    /// <summary>"a FIFO (named pipe)", "a directory", ... for messages.</summary>
    public static string Describe(FileKind kind) => kind switch
    {
        FileKind.Missing => "missing",
        FileKind.Regular => "a regular file",
        FileKind.Directory => "a directory",
        FileKind.SymbolicLink => "a symbolic link",
        FileKind.CharacterDevice => "a character device",
        FileKind.BlockDevice => "a block device",
        FileKind.Fifo => "a FIFO (named pipe)",
        FileKind.Socket => "a socket",
        _ => "not a regular file",
    };

    private static void RequireRegular(FileKind kind, string path, string what, Func<string, Exception?, FastConvException> error)
    {
        if (kind == FileKind.Missing)
        {
            throw error($"{what} '{path}' does not exist.", null);
        }
        if (kind != FileKind.Regular)
        {
            throw error($"{what} '{path}' is {Describe(kind)}; FastConv reads only regular files. Give the path of a file.", null);
        }
    }

    private static void PushComponents(Stack<string> pending, string path)
    {
        string[] parts = path.Split([Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar]);
        for (int i = parts.Length - 1; i >= 0; i--)
        {
            pending.Push(parts[i]);
        }
    }

    private static FileKind FromMode(ushort mode) => (mode & 0xF000) switch
    {
        0x8000 => FileKind.Regular,
        0x4000 => FileKind.Directory,
        0xA000 => FileKind.SymbolicLink,
        0x2000 => FileKind.CharacterDevice,
        0x6000 => FileKind.BlockDevice,
        0x1000 => FileKind.Fifo,
        0xC000 => FileKind.Socket,
        _ => FileKind.Other,
    };

    private static FileKind ManagedKind(string path, bool followLinks)
    {
        var info = new FileInfo(path);
        if (!followLinks && info.LinkTarget is not null)
        {
            return FileKind.SymbolicLink;
        }
        if (Directory.Exists(path))
        {
            return FileKind.Directory;
        }
        return File.Exists(path) ? FileKind.Regular : FileKind.Missing;
    }

    /// <summary>
    /// statx(2) through glibc (2.28 and later): its struct has one layout on every architecture, unlike struct stat,
    /// so the two fields needed (stx_mode at byte 28, stx_size at byte 40) are read at fixed offsets.
    /// </summary>
    private static unsafe partial class Statx
    {
        public const int AtFdCwd = -100;
        private const uint MaskTypeAndSize = 0x1 | 0x200; // STATX_TYPE | STATX_SIZE
        private const int ENOENT = 2, ENOTDIR = 20, ENOSYS = 38;
        private static int s_state; // 0 unknown, 1 available, -1 not available

        public static bool Available => s_state >= 0;

        public static bool TryGet(int dirfd, string path, int flags, out ushort mode, out ulong size, out bool missing)
        {
            mode = 0;
            size = 0;
            missing = false;
            byte* buffer = stackalloc byte[256];
            int rc;
            try
            {
                rc = NativeStatx(dirfd, path, flags, MaskTypeAndSize, buffer);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                s_state = -1;
                return false;
            }
            if (rc != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == ENOSYS)
                {
                    s_state = -1;
                }
                missing = errno is ENOENT or ENOTDIR;
                return false;
            }
            s_state = 1;
            mode = *(ushort*)(buffer + 28);
            size = *(ulong*)(buffer + 40);
            return true;
        }

        [LibraryImport("libc.so.6", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int NativeStatx(int dirfd, string path, int flags, uint mask, byte* buffer);
    }
}
