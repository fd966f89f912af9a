using FastConv.Gpu;
using FastConv.Interop;

namespace FastConv.Tests.Robustness;

/// <summary>
/// The NVRTC kernel cache on disk: an entry is used only when its stored SHA-256 and length match (a truncated,
/// bit-flipped, padded or foreign file is deleted and compiled afresh, never handed to the driver), and the folder
/// is kept under a size cap by deleting the least recently used entries.
/// </summary>
[Category("Hostile")]
[Description("a damaged cache entry is ignored, deleted and recompiled; the cache stays under its cap")]
[NonParallelizable] // sets FASTCONV_KERNEL_CACHE for the process
public sealed class KernelCacheTests
{
    private static readonly byte[] Image = [.. Enumerable.Range(0, 1000).Select(i => (byte)(i * 7 + 3))];

    public static IEnumerable<TestCaseData> Damages()
    {
        TestCaseData Case(string what, Func<byte[], byte[]> damage) => new TestCaseData(damage).SetName($"kernel cache entry rejected: {what}");
        yield return Case("truncated by one byte", e => e[..^1]);
        yield return Case("truncated to its header", e => e[..48]);
        yield return Case("empty", _ => []);
        yield return Case("one payload bit flipped", e => Flip(e, 48 + 500));
        yield return Case("last payload byte changed", e => Flip(e, e.Length - 1));
        yield return Case("stored hash changed", e => Flip(e, 20));
        yield return Case("stored length changed", e => Flip(e, 8));
        yield return Case("magic changed", e => Flip(e, 0));
        yield return Case("a byte appended", e => [.. e, 0]);
        yield return Case("an old-format entry (the bare image)", _ => Image);
        yield return Case("the image with a hash of another image", e =>
        {
            byte[] other = KernelCacheEntry.Encode(Image.Reverse().ToArray());
            return [.. other[..48], .. e[48..]];
        });
    }

    private static byte[] Flip(byte[] e, int at)
    {
        byte[] copy = [.. e];
        copy[at] ^= 0x10;
        return copy;
    }

    [TestCaseSource(nameof(Damages))]
    public void ADamagedEntryIsRejected(Func<byte[], byte[]> damage)
    {
        byte[] entry = KernelCacheEntry.Encode(Image);
        Assert.That(KernelCacheEntry.TryDecode(entry, out byte[] back), Is.True);
        Assert.That(back, Is.EqualTo(Image));
        Assert.That(KernelCacheEntry.TryDecode(damage(entry), out byte[] damaged), Is.False);
        Assert.That(damaged, Is.Empty);

        using var files = new HostileFiles("fastconv-kcache-");
        string path = files.Write("k-sm_80-0123456789abcdef.cubin", damage(entry));
        Assert.That(KernelCompiler.TryRead(path, out _), Is.False);
        Assert.That(File.Exists(path), Is.False, "a damaged entry is deleted, so the compile that follows replaces it");
    }

    [Test]
    [Description("a cache entry that is a symbolic link: not read")]
    public void ALinkedEntryIsNotRead()
    {
        using var files = new HostileFiles("fastconv-kcache-");
        string real = files.Write("elsewhere.bin", KernelCacheEntry.Encode(Image));
        string path = files.Link("k-sm_80-0123456789abcdef.cubin", real);
        Assert.That(KernelCompiler.TryRead(path, out _), Is.False);
    }

    [Test]
    [Description("entries over the cap: the least recently used go first; the newest and non-entries stay")]
    public void EvictionRemovesTheLeastRecentlyUsedFirst()
    {
        using var files = new HostileFiles("fastconv-kcache-");
        DateTime start = DateTime.UtcNow.AddDays(-1);
        string[] names = ["a-sm_80-1.cubin", "b-sm_80-2.cubin", "c-compute_80-3.ptx", "d-sm_90-4.cubin"];
        for (int i = 0; i < names.Length; i++)
        {
            string p = files.Write(names[i], new byte[1000]);
            File.SetLastWriteTimeUtc(p, start.AddMinutes(i));
        }
        string choices = files.Write("algorithms.tsv", new byte[5000]);
        File.SetLastWriteTimeUtc(choices, start.AddYears(-1));
        // Use "a": it becomes the most recently used, so "b" and "c" are the oldest now.
        File.WriteAllBytes(files.Path("a-sm_80-1.cubin"), KernelCacheEntry.Encode(new byte[1000 - 48]));
        Assert.That(KernelCompiler.TryRead(files.Path("a-sm_80-1.cubin"), out _), Is.True);

        IReadOnlyList<string> deleted = KernelCompiler.EvictLeastRecentlyUsed(files.Root, maxBytes: 2000, keep: files.Path("d-sm_90-4.cubin"));
        Assert.That(deleted.Select(Path.GetFileName), Is.EqualTo(new[] { "b-sm_80-2.cubin", "c-compute_80-3.ptx" }));
        Assert.That(File.Exists(files.Path("a-sm_80-1.cubin")) && File.Exists(files.Path("d-sm_90-4.cubin")) && File.Exists(choices), Is.True);

        deleted = KernelCompiler.EvictLeastRecentlyUsed(files.Root, maxBytes: 10, keep: files.Path("d-sm_90-4.cubin"));
        Assert.That(deleted.Select(Path.GetFileName), Is.EqualTo(new[] { "a-sm_80-1.cubin" }), "the entry just written stays even alone over the cap");
    }

    [TestCase("lots")]
    [TestCase("-1")]
    public void ABadCacheCapIsATypedError(string value)
    {
        using var env = new EnvironmentVariable(KernelCompiler.CacheMaxBytesVariable, value);
        var e = Assert.Throws<InvalidSettingException>(() => _ = KernelCompiler.CacheMaxBytes);
        Assert.That(e!.Setting, Is.EqualTo(KernelCompiler.CacheMaxBytesVariable));
    }

    /// <summary>The whole path through NVRTC: compile, corrupt the stored entry, compile again (recompiled, entry repaired), then a hit.</summary>
    [TestCase("flip")]
    [TestCase("truncate")]
    public void ACorruptedEntryIsRecompiledByNvrtc(string damage)
    {
        var (nvrtc, _) = NativeLibraries.Probe(NativeLibraryKind.Nvrtc);
        if (nvrtc is null)
        {
            Assert.Ignore("NVRTC is not installed here (scripts/bootstrap.sh installs libnvrtc11.2)");
        }
        using var files = new HostileFiles("fastconv-kcache-");
        using var env = new EnvironmentVariable(KernelCompiler.CacheVariable, files.Root);
        CompiledKernel first = KernelCompiler.Compile("support.cu", 8, 0);
        Assert.That(first.FromDiskCache, Is.False);
        string path = first.CachePath!;
        byte[] stored = File.ReadAllBytes(path);
        File.WriteAllBytes(path, damage == "flip" ? Flip(stored, stored.Length / 2) : stored[..(stored.Length / 2)]);

        CompiledKernel second = KernelCompiler.Compile("support.cu", 8, 0);
        Assert.That(second.FromDiskCache, Is.False, "a damaged entry is never used");
        Assert.That(second.Image.Bytes, Is.EqualTo(first.Image.Bytes));
        CompiledKernel third = KernelCompiler.Compile("support.cu", 8, 0);
        Assert.That(third.FromDiskCache, Is.True, "the recompile rewrote the entry");
        Assert.That(third.Image.Bytes, Is.EqualTo(first.Image.Bytes));
    }

    [Test]
    [Description("a cap smaller than one kernel: the cache keeps only the entry just compiled")]
    public void TheCapHoldsAcrossCompiles()
    {
        var (nvrtc, _) = NativeLibraries.Probe(NativeLibraryKind.Nvrtc);
        if (nvrtc is null)
        {
            Assert.Ignore("NVRTC is not installed here");
        }
        using var files = new HostileFiles("fastconv-kcache-");
        using var dir = new EnvironmentVariable(KernelCompiler.CacheVariable, files.Root);
        using var cap = new EnvironmentVariable(KernelCompiler.CacheMaxBytesVariable, "1");
        KernelCompiler.Compile("support.cu", 8, 0);
        CompiledKernel second = KernelCompiler.Compile("support.cu", 9, 0);
        Assert.That(Directory.GetFiles(files.Root).Select(Path.GetFileName), Is.EqualTo(new[] { Path.GetFileName(second.CachePath) }));
    }
}
