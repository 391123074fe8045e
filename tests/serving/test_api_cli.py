"""``workbench api`` refuses what it cannot serve safely before it starts: exit 2 with the fix, exit 1 without a model."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.conftest import free_port, workbench, write_config


def test_a_public_address_needs_a_token(tmp_path: Path) -> None:
    write_config(tmp_path)
    proc = workbench("api", "--ip", "0.0.0.0", cwd=tmp_path, timeout=60)
    assert proc.returncode == 2 and "without a token" in proc.stderr and "--token" in proc.stderr
    assert not (tmp_path / ".workbench").exists()  # refused before the store is touched


def test_a_taken_port_is_named(tmp_path: Path) -> None:
    write_config(tmp_path)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        proc = workbench("api", "--port", str(port), cwd=tmp_path, timeout=60)
    assert proc.returncode == 2 and f"cannot bind 127.0.0.1:{port}" in proc.stderr and "--port" in proc.stderr


def test_no_registered_model_says_to_run_first(tmp_path: Path) -> None:
    write_config(tmp_path)
    port = free_port()
    proc = workbench("api", "--port", str(port), cwd=tmp_path, timeout=120)
    assert proc.returncode == 1 and "no champion or baseline to serve" in proc.stderr and "workbench run" in proc.stderr


def test_export_without_predictions_explains(tmp_path: Path) -> None:
    write_config(tmp_path)
    proc = workbench("predictions", "export", cwd=tmp_path, timeout=60)
    assert proc.returncode == 2 and "no predictions logged" in proc.stderr
