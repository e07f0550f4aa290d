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


def needed_libraries(data, sections):
    """The DT_NEEDED entries of the binary's `.dynamic` section (shared libraries the loader maps at start)."""
    offset, size = sections[".dynamic"]
    strings_offset, _ = sections[".dynstr"]
    names = []
    for i in range(0, size, 16):
        tag, value = struct.unpack_from("<qQ", data, offset + i)
        if tag == 0:  # DT_NULL
            break
        if tag == 1:  # DT_NEEDED
            start = strings_offset + value
            names.append(data[start:data.index(b"\0", start)].decode())
    return names


def test_libcurl_is_loaded_on_first_use_not_linked():
    """libcurl (and the LDAP, Kerberos, SSH and RTMP libraries it pulls in) is only for HTTP model sources: it is
    `dlopen`ed by the first HTTP client, so a server without one never maps it. The MLflow tests exercise the
    loaded path."""
    data, sections = elf_sections(sluice_bin())
    needed = needed_libraries(data, sections)
    assert "libssl.so.3" in needed and "libc.so.6" in needed, needed  # sanity: the table was read
    assert not [n for n in needed if n.startswith("libcurl")], f"libcurl is linked: {needed}"


def test_a_server_without_http_sources_does_not_map_libcurl(tmp_path):
    from conftest import SluiceProcess

    (tmp_path / "registry").mkdir()
    server = SluiceProcess([sluice_bin(), "serve", "--plaintext", "--insecure-no-auth", "--listen", "127.0.0.1:0",
                            "--models", str(tmp_path / "registry")], False).wait_ready()
    try:
        maps = open(f"/proc/{server.proc.pid}/maps").read()
        assert "libssl.so.3" in maps and "libcurl" not in maps
    finally:
        server.stop()
