"""The Cython walker under AddressSanitizer: no read outside a datagram's buffer, ever.

ext/decoder.pyx is cythonized with its own directives (bounds checks off: it checks every read
against the block end itself) and compiled with -fsanitize=address into a temporary directory
as ``_decoder_asan``.  A subprocess (libasan preloaded) puts that module in place of
``gateway.decoder._decoder`` and decodes the fuzz corpus one datagram per call, so each
datagram ends exactly where its buffer ends:

* as the bytes object Decoder.decode receives (with PYTHONMALLOC=malloc every object is its
  own allocation; CPython keeps one NUL after a bytes object's data, so this mode sees reads
  of 2 or more bytes past the end), and
* copied into a numpy array of exactly its size handed to the walker, where even one byte
  read past the end is outside the allocation.

ASan aborts the subprocess with a report on any out-of-bounds access; the test asserts a
clean exit and that decoding really ran.  Two canaries prove the harness catches over-reads.
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import numpy
import pytest
from asterix_samples import fuzz_corpus

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow

RUNNER = textwrap.dedent('''
    import ctypes, pickle, sys, types
    import numpy as np

    build, mode = sys.argv[1], sys.argv[2]
    sys.path.insert(0, build)
    import _decoder_asan as asan
    assert asan.__file__.startswith(build), asan.__file__

    if mode == "canary-array":  # one byte past an exact numpy allocation
        a = np.empty(37, dtype=np.uint8)
        ctypes.string_at(a.ctypes.data, 38)
        sys.exit(0)
    if mode == "canary-bytes":  # two bytes past a bytes object's data
        b = bytes(range(37))
        ctypes.string_at(np.frombuffer(b, dtype=np.uint8).ctypes.data, 39)
        sys.exit(0)

    import gateway.decoder as gd
    from gateway import _decoder as installed
    assert tuple(asan.PROBLEMS) == tuple(installed.PROBLEMS)
    from gateway.asterix.codec import ICAO_CHARS
    asan.set_icao_chars(ICAO_CHARS.encode("ascii"))

    def exact_walk(buf, starts, *rest):
        exact = np.empty(buf.shape[0], dtype=np.uint8)  # exactly the data, no slack
        exact[:] = buf
        return asan.walk(exact, starts, *rest)

    with open(sys.argv[3], "rb") as f:
        corpus = pickle.load(f)
    decoder = gd.Decoder()
    records = problems = 0
    for walker in (asan, types.SimpleNamespace(walk=exact_walk, PROBLEMS=asan.PROBLEMS)):
        gd._decoder = walker
        for payload in corpus:
            batches, found = decoder.decode(payload)  # one datagram, one buffer
            records += sum(len(b) for b in batches.values())
            problems += found.total
    print(f"datagrams={len(corpus)} records={records} problems={problems}")
''')


def _libasan() -> str | None:
    if shutil.which("gcc") is None:
        return None
    out = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True)
    path = out.stdout.strip()
    return path if out.returncode == 0 and os.path.isabs(path) and os.path.exists(path) else None


@pytest.fixture(scope="module")
def asan_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed: cannot build the AddressSanitizer extension")
    libasan = _libasan()
    if libasan is None:
        pytest.skip("libasan.so not found (gcc -print-file-name=libasan.so): install libasan")
    build = tmp_path_factory.mktemp("asan")
    pyx = build / "_decoder_asan.pyx"
    shutil.copyfile(ROOT / "ext" / "decoder.pyx", pyx)
    c_file = build / "_decoder_asan.c"
    # The directives are the file's own (its "# cython:" header); setup.py adds language 3.
    subprocess.run([sys.executable, "-m", "cython", "-3", str(pyx), "-o", str(c_file)],
                   check=True, capture_output=True)
    paths = sysconfig.get_paths()
    so = build / ("_decoder_asan" + sysconfig.get_config_var("EXT_SUFFIX"))
    subprocess.run(
        ["gcc", "-fsanitize=address", "-fno-omit-frame-pointer", "-O1", "-g", "-shared", "-fPIC",
         "-DNPY_NO_DEPRECATED_API=NPY_1_7_API_VERSION",
         f"-I{numpy.get_include()}", f"-I{paths['include']}", f"-I{paths['platinclude']}",
         str(c_file), "-o", str(so)],
        check=True, capture_output=True)
    (build / "runner.py").write_text(RUNNER)
    return build, libasan


def run(build: Path, libasan: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LD_PRELOAD=libasan, ASAN_OPTIONS="detect_leaks=0",
               PYTHONMALLOC="malloc")
    return subprocess.run([sys.executable, str(build / "runner.py"), str(build), *args],
                          capture_output=True, text=True, env=env, cwd=build, timeout=600)


@pytest.mark.parametrize("mode", ["canary-array", "canary-bytes"])
def test_the_harness_catches_an_overread(asan_build: tuple[Path, str], mode: str) -> None:
    build, libasan = asan_build
    result = run(build, libasan, mode)
    assert result.returncode != 0
    assert "AddressSanitizer: heap-buffer-overflow" in result.stderr


def test_fuzz_corpus_under_asan(asan_build: tuple[Path, str]) -> None:
    build, libasan = asan_build
    corpus = fuzz_corpus()
    with open(build / "corpus.pickle", "wb") as f:
        pickle.dump(corpus, f)
    result = run(build, libasan, "corpus", str(build / "corpus.pickle"))
    assert result.returncode == 0, result.stderr[-6000:]
    assert "AddressSanitizer" not in result.stderr
    counts = dict(kv.split("=") for kv in result.stdout.split())
    assert int(counts["datagrams"]) == len(corpus)
    assert int(counts["records"]) > 1000  # decoding really ran, in both modes
    assert int(counts["problems"]) > 1000
