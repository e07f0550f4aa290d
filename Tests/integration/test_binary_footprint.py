"""Issue 15 (memory): the `sluice` binary links FoundationEssentials only, not Foundation, CoreFoundation,
FoundationInternationalization or ICU and its 30 MB data table (see BENCHMARKS.md, "Foundation out of the binary").

Reads the ELF section headers and the static symbol table of $SLUICE_BIN directly (no binutils needed): a target
that imports `Foundation` again brings back the `.cfstr.data` section, `$s10Foundation…` symbols, CoreFoundation's
`CFRelease`, the ICU wrappers (`swift_ucol_open`) and the ICU data (`icudt…_dat`).
"""
import struct

from conftest import sluice_bin


def elf_sections(path):
    """{name: (offset, size)} of a 64-bit little-endian ELF file's sections."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, "not a 64-bit little-endian ELF file"
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names_offset = headers[shstrndx][4]

    def name(h):
        start = names_offset + h[0]
        return data[start:data.index(b"\0", start)].decode()

    return data, {name(h): (h[4], h[5]) for h in headers}


def test_binary_links_no_foundation_corefoundation_or_icu():
    data, sections = elf_sections(sluice_bin())
    assert ".cfstr.data" not in sections, "CoreFoundation string constants are linked in"
    assert ".strtab" in sections, "the binary is stripped; this check needs its symbol table"
    offset, size = sections[".strtab"]
    names = data[offset:offset + size]
    # Sanity: the table is the real one (FoundationEssentials and the server's own code are in it).
    assert b"20FoundationEssentials" in names and b"SluiceServer" in names
    for marker in (b"$s10Foundation", b"\0CFRelease\0", b"swift_ucol_open", b"icudt"):
        assert marker not in names, f"{marker.decode()} is linked in: a target imports Foundation"
    rodata = sections[".rodata"][1]
    assert rodata < 16 * 1024 * 1024, f".rodata is {rodata / 1e6:.1f} MB (ICU data is 30 MB)"
