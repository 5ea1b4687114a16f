"""Every file the gateway reads whole is read with a ceiling (``gateway.files``): a path
that names a device, a pipe or a huge file by mistake is one line and exit 2, never a
process that reads until memory runs out."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.files import AIRSPACE_MAX, InputFileError, read_limited

ROOT = Path(__file__).resolve().parent.parent
CAPTURE = ROOT / "captures" / "decoder-sample.pcap"


def _limit_memory() -> None:
    # Without the ceiling the gateway would read /dev/zero until MemoryError: make that
    # quick and harmless (2 GiB of address space is ample for a replay).
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def replay(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "replay", str(CAPTURE), "--config", str(config),
         "--out", str(config.parent / "out.jsonl"), "--speed", "max"],
        capture_output=True, text=True, timeout=120, preexec_fn=_limit_memory)


def border(tmp_path: Path, airspace: str,
           extra: str = 'url = "mqtt://127.0.0.1:1883"\n') -> Path:
    text = (ROOT / "captures" / "border.toml").read_text()
    path = tmp_path / "gw.toml"
    path.write_text(text.replace('airspace = "border-airspace.geojson"', f'airspace = "{airspace}"')
                    .replace('url = "mqtt://127.0.0.1:1883"\n', extra))
    return path


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr[-2000:]
    err = result.stderr.strip()
    assert "\n" not in err and "Traceback" not in err, err
    return err


def test_an_endless_airspace_file_is_one_line(tmp_path: Path) -> None:
    err = one_line(replay(border(tmp_path, "/dev/zero")))
    assert "/dev/zero: larger than 10 MiB; not an airspace file" in err


def test_an_endless_configuration_file_is_one_line(tmp_path: Path) -> None:
    err = one_line(replay(Path("/dev/zero")))
    assert err.endswith("/dev/zero: larger than 1 MiB; not a configuration file"), err


def test_the_ca_file_is_read_with_a_ceiling_and_checked_at_start(tmp_path: Path) -> None:
    airspace = ROOT / "captures" / "border-airspace.geojson"
    mqtt = 'url = "mqtts://127.0.0.1:8883"\nca_file = "{}"\n'
    err = one_line(replay(border(tmp_path, str(airspace), mqtt.format("/dev/zero"))))
    assert "ca_file" in err and "/dev/zero: larger than 1 MiB; not a CA file" in err
    (tmp_path / "ca.pem").write_text("not a certificate\n")
    err = one_line(replay(border(tmp_path, str(airspace), mqtt.format(tmp_path / "ca.pem"))))
    assert "ca.pem: not PEM certificates" in err
    err = one_line(replay(border(tmp_path, str(airspace), mqtt.format(tmp_path / "none.pem"))))
    assert "none.pem: cannot read: No such file or directory" in err


def test_the_ceiling_is_exact(tmp_path: Path) -> None:
    path = tmp_path / "a.geojson"
    path.write_bytes(b" " * AIRSPACE_MAX)
    assert len(read_limited(path, AIRSPACE_MAX, "an airspace file")) == AIRSPACE_MAX
    path.write_bytes(b" " * (AIRSPACE_MAX + 1))
    with pytest.raises(InputFileError, match="a.geojson: larger than 10 MiB"):
        read_limited(path, AIRSPACE_MAX, "an airspace file")
