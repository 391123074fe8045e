"""The service module stays light: Feast (seconds, and environment side effects) is imported only when a worker opens the online store."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_service_does_not_import_feast() -> None:
    code = "import sys, workbench.serving.app, workbench.serving.features, workbench.cli.api; print('feast' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
