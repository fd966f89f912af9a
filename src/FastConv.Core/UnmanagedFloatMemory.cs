using System.Buffers;

namespace FastConv;

/// <summary>
/// A span of unmanaged floats (page-locked host memory from a device backend) as <see cref="Memory{T}"/>, so a view of it
/// is a <see cref="Tensor"/> like any other. It does not own the memory: whoever allocated it frees it, after the last use.
/// </summary>
internal sealed unsafe class UnmanagedFloatMemory(nint pointer, int length) : MemoryManager<float>
{
    public nint Pointer => pointer;

    public override Span<float> GetSpan() => new((void*)pointer, length);

    public override MemoryHandle Pin(int elementIndex = 0) => new((float*)pointer + elementIndex);

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
    }
}
