"""Fd-level output of a sibling kernel keeps multi-byte characters whole (see utf8_pipe.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Iterable, List

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lagent_nb.kernels import KernelSessions
from lagent_nb.kernels.utf8_pipe import (
    WholeCharacterReader,
    install,
    split_incomplete_tail,
    startup_arguments,
)

SAMPLE = "aé你😀𠜎z"  # 1-, 2-, 3- and 4-byte sequences


def reader_over(chunks: Iterable[bytes]) -> WholeCharacterReader:
    """A reader whose underlying pipe delivers ``chunks`` one per read, then ends."""
    pending = [chunk for chunk in chunks if chunk]  # a pipe returns b"" only at its end

    def read(fd: int, size: int) -> bytes:
        assert fd == 7
        return pending.pop(0) if pending else b""

    return WholeCharacterReader(read)


def read_all(reader: WholeCharacterReader) -> List[bytes]:
    """Every chunk up to the end of the pipe (the final b"" excluded)."""
    out = []
    while chunk := reader(7, 1000):
        out.append(chunk)
    return out


def decoded_per_chunk(chunks: Iterable[bytes]) -> str:
    """What ipykernel makes of the chunks: each decoded on its own."""
    return "".join(chunk.decode("utf-8", "replace") for chunk in chunks)


@pytest.mark.parametrize("cut", range(1, len(SAMPLE.encode())))
def test_a_character_cut_anywhere_comes_out_whole(cut):
    data = SAMPLE.encode()
    chunks = read_all(reader_over([data[:cut], data[cut:]]))
    assert b"".join(chunks) == data
    assert [c.decode("utf-8") for c in chunks]  # every chunk decodes strictly on its own
    assert decoded_per_chunk(chunks) == SAMPLE


@pytest.mark.parametrize("cut", [1, 2, 3])
def test_a_four_byte_emoji_keeps_its_start_back(cut):
    emoji = "😀".encode()
    assert split_incomplete_tail(b"ok" + emoji[:cut]) == (b"ok", emoji[:cut])
    assert split_incomplete_tail(b"ok" + emoji) == (b"ok" + emoji, b"")


def test_a_read_of_only_part_of_a_character_reads_on_instead_of_returning_nothing():
    reader = reader_over([bytes([b]) for b in "😀".encode()] + [b"!"])
    assert reader(7, 1) == "😀".encode()
    assert reader(7, 1) == b"!"
    assert reader(7, 1) == b""


@pytest.mark.parametrize(
    "data",
    [b"\xff\xfe", b"x\x80y", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe4\xbdz", b"\xf5\x80\x80\x80"],
    ids=["ff-fe", "lone-continuation", "overlong", "surrogate", "truncated", "beyond-unicode"],
)
def test_invalid_bytes_still_become_replacement_characters(data):
    for cut in range(len(data) + 1):
        chunks = read_all(reader_over([data[:cut], data[cut:]]))
        assert b"".join(chunks) == data
        text = decoded_per_chunk(chunks)
        assert text == data.decode("utf-8", "replace") and "\ufffd" in text


def test_bytes_held_at_the_end_of_the_pipe_are_given_back_before_it_ends():
    reader = reader_over([b"ok\xe4\xbd"])
    assert reader(7, 1000) == b"ok"
    assert reader(7, 1000) == b"\xe4\xbd"  # the writer stopped inside a character
    assert reader(7, 1000) == b""
    assert reader(7, 1000) == b""


def test_each_fd_keeps_its_own_tail():
    pipes = {3: [b"\xe4", b"\xbd\xa0"], 4: [b"\xf0\x9f", b"\x98\x80"]}
    reader = WholeCharacterReader(lambda fd, size: pipes[fd].pop(0) if pipes[fd] else b"")
    assert reader(3, 10) == "你".encode() and reader(4, 10) == "😀".encode()
    assert reader(3, 10) == reader(4, 10) == b""


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(st.one_of(st.text().map(str.encode), st.binary(max_size=8)), max_size=12),
    sizes=st.lists(st.integers(1, 9), min_size=1, max_size=20),
)
def test_chunked_decoding_equals_decoding_the_whole_stream(pieces, sizes):
    data = b"".join(pieces)
    chunks, start, i = [], 0, 0
    while start < len(data):
        size = sizes[i % len(sizes)]
        chunks.append(data[start : start + size])
        start, i = start + size, i + 1
    out = read_all(reader_over(chunks))
    assert b"".join(out) == data
    assert decoded_per_chunk(out) == data.decode("utf-8", "replace")


def test_a_real_pipe_read_in_tiny_pieces():
    r, w = os.pipe()
    try:
        os.write(w, SAMPLE.encode() * 3)
        os.close(w)
        reader = WholeCharacterReader(os.read)
        chunks = []
        while chunk := reader(r, 2):
            chunks.append(chunk)
        assert decoded_per_chunk(chunks) == SAMPLE * 3
    finally:
        os.close(r)


def test_install_outside_a_kernel_changes_nothing():
    from ipykernel import iostream

    assert install(wake_timeout=0.1) is False
    assert iostream.os is os


def test_startup_arguments_only_for_ipykernel_kernels():
    assert startup_arguments(["/usr/bin/R", "--slave", "-f", "{connection_file}"]) == []
    (arg,) = startup_arguments([sys.executable, "-m", "ipykernel_launcher", "-f", "x.json"])
    assert arg.startswith("--IPKernelApp.exec_lines=exec(")


def test_the_startup_code_needs_nothing_from_lagent_nb(tmp_path):
    """The kernel may run as another user with another Python: run the code in isolated mode
    from a directory where lagent_nb cannot be found."""
    (arg,) = startup_arguments(["python", "-m", "ipykernel_launcher"])
    listing = "import sys\nprint(sorted(m for m in sys.modules if 'lagent' in m))"
    code = arg.split("=", 1)[1] + "\n" + listing
    done = subprocess.run(
        [sys.executable, "-I", "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.slow
def test_fd_output_split_inside_a_character_reaches_the_caller_whole():
    # ipykernel watches fds 1 and 2 only when it does not see pytest
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    code = (
        "import os, time\n"
        "os.write(1, b'\\xe4\\xbd'); time.sleep(0.3); os.write(1, b'\\xa0\\n')\n"
        "os.write(2, b'\\xf0\\x9f'); time.sleep(0.3); os.write(2, b'\\x98\\x80\\n')\n"
        "sorted(k for k in globals() if 'lagent' in k or k.startswith('_lnb'))"
    )
    with KernelSessions(spare=False, env=env) as kernels:
        result = kernels.execute(code, timeout=30)
    assert result.ok, result.error
    assert (result.logs.stdout, result.logs.stderr) == ("你\n", "😀\n")
    assert result.text == "[]"  # the start-up code left the user's namespace alone
