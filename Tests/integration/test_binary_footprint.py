"""Issue 15 (memory): the `sluice` binary links FoundationEssentials only, not Foundation, CoreFoundation,
FoundationInternationalization or ICU and its 30 MB data table (see BENCHMARKS.md, "Foundation out of the binary").

Reads the ELF section headers and the static symbol table of $SLUICE_BIN directly (no binutils needed): a target
that imports `Foundation` again brings back the `.cfstr.data` section, `$s10Foundation…` symbols, CoreFoundation's
`CFRelease`, the ICU wrappers (`swift_ucol_open`) and the ICU data (`icudt…_dat`).
"""
import os
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


def resident_code_kib(pid, binary):
    """Resident KiB of `binary`'s executable mapping(s) in process `pid` (from /proc/PID/smaps)."""
    target = os.path.realpath(binary)
    total, inside = 0, False
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            fields = line.split()
            if fields and "-" in fields[0] and not fields[0].endswith(":"):
                inside = len(fields) >= 6 and fields[1] == "r-xp" and os.path.realpath(fields[5]) == target
            elif inside and fields[0] == "Rss:":
                total += int(fields[1])
    return total


def serve_and_measure_code(tmp_path, sluice_server, proto_modules, *extra):
    """Starts a server on a registry with the Spark churn forest, answers 200 Predicts (checking the labels) and
    returns the binary's resident code in KiB."""
    from modelfixtures import SHARED_MODELS, Fixture, feature_value, register, wait_serving

    pb, pb_grpc = proto_modules.inference_pb2, proto_modules.inference_pb2_grpc
    churn = SHARED_MODELS / "spark_churn_rf"
    registry = tmp_path / "registry"
    if not registry.exists():
        register(sluice_bin(), registry, "churn", churn / "model.onnx")
    server = wait_serving(sluice_server("--models", registry, *extra), proto_modules)
    stub = pb_grpc.InferenceStub(server.channel())
    fixture = Fixture(churn)
    for i in range(200):
        features = {k: feature_value(pb, v) for k, v in fixture.row(i).items()}
        reply = stub.Predict(pb.PredictRequest(model="churn", features=features))
        assert reply.label_int == fixture.labels[i], i
    resident = resident_code_kib(server.proc.pid, sluice_bin())
    server.stop()
    return resident


def test_start_up_code_leaves_the_resident_set_once_serving(tmp_path, sluice_server, proto_modules):
    """The kernel maps code 64 KiB around each page fault, so code run once (argument parsing, TLS set-up, the
    ONNX decoder and plan compiler) stayed resident: about 85 % of the binary's `.text` after a model load. The
    server unmaps its read-only segments before the first load and after it, and serving maps back only what it
    uses: Predicts still answer (the pages come back), and the binary's resident code stays well under half of
    its `.text`. `--keep-code-pages` turns the releases off."""
    _, sections = elf_sections(sluice_bin())
    text_kib = sections[".text"][1] // 1024
    released = serve_and_measure_code(tmp_path, sluice_server, proto_modules)
    kept = serve_and_measure_code(tmp_path, sluice_server, proto_modules, "--keep-code-pages")
    assert 0 < released < text_kib * 0.45, f"{released} KiB of code resident, .text is {text_kib} KiB"
    assert kept > released, f"resident code: {kept} KiB kept, {released} KiB released"
