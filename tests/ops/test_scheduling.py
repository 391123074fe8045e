"""The scheduling recipes (examples/scheduling/: crontab, systemd units) run real commands under one lock.

Every ``workbench`` command line in them parses with the CLI's own parser; the crontab has five
time fields per job and wraps each command in ``flock -n``; the units parse, their timers name
their services, and systemd's own ``systemd-analyze`` accepts them. The overlap protection is
shown with real processes: while one process holds the project's lock, the crontab's command line
run verbatim by /bin/sh (as cron runs it), and every unit's ``ExecStart``, are refused at once by
flock, and the workbench never starts; once the lock is free the same line runs the workbench.
"""

from __future__ import annotations

import configparser
import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import BIN, REPO
from tests.ops.commands import Command, command_error, commands

RECIPES = REPO / "examples" / "scheduling"
CRONTAB = RECIPES / "crontab"
UNITS = sorted(RECIPES.glob("*.service")) + sorted(RECIPES.glob("*.timer"))
CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
_ENV_LINE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")


def parse_crontab(text: str) -> tuple[dict[str, str], list[tuple[list[str], str]]]:
    """The crontab's variables and its jobs as (five time fields, command)."""
    env: dict[str, str] = {}
    jobs = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if match := _ENV_LINE.match(line):
            env[match.group(1)] = match.group(2).strip()
            continue
        *fields, command = line.split(maxsplit=5)
        jobs.append((fields, command))
    return env, jobs


def cron_field_error(text: str, name: str, low: int, high: int) -> str | None:
    """None when ``text`` is a valid cron time field (lists of *, N, N-M, each with an optional /STEP) within [low, high]."""
    for part in text.split(","):
        match = re.fullmatch(r"(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?", part)
        if match is None:
            return f"{name} field {text!r} is not cron syntax"
        numbers = [int(g) for g in match.group(2, 3) if g is not None]
        if any(not low <= n <= high for n in numbers) or numbers != sorted(numbers) or match.group(4) == "0":
            return f"{name} field {text!r} is outside {low}-{high}"
    return None


def expand(text: str, env: dict[str, str]) -> str:
    """``$NAME`` and ``${NAME}`` replaced from ``env`` (cron passes its variables to the command's shell)."""
    return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: env.get(m.group(1), m.group(0)), text)


def the_workbench_command(script: str) -> Command:
    """The one ``workbench`` command of a recipe line (the others may only be ``cd``)."""
    found = commands(script)
    assert [c.program for c in found if c.program != "workbench"] in ([], ["cd"]), script
    (workbench,) = [c for c in found if c.program == "workbench"]
    return workbench


def read_unit(path: Path) -> configparser.ConfigParser:
    """A systemd unit file read with configparser; strict, so a key given twice (the second silently wins in a dict) is an error."""
    parser = configparser.ConfigParser(strict=True, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(path.read_text(), source=str(path))
    return parser


def services() -> dict[str, configparser.ConfigParser]:
    """Every .service unit of the recipes, by file name."""
    return {p.name: read_unit(p) for p in UNITS if p.suffix == ".service"}


# --- crontab -------------------------------------------------------------------------------------------


def test_crontab_jobs_have_five_time_fields_and_a_workbench_command_under_flock_n() -> None:
    env, jobs = parse_crontab(CRONTAB.read_text())
    assert len(jobs) == 3
    for fields, command in jobs:
        assert [e for f, spec in zip(fields, CRON_FIELDS, strict=True) if (e := cron_field_error(f, *spec))] == []
        assert "%" not in command, "cron turns % into a newline"
        workbench = the_workbench_command(command)
        assert command_error(workbench, REPO) is None, command_error(workbench, REPO)
        assert "-n" in workbench.flock_options(), f"not wrapped in flock -n: {command}"
        assert expand(workbench.lock or "", env) == env["WORKBENCH_LOCK"], "every job must hold the project's one lock file"


def test_crontab_schedules_monitoring_and_both_retrain_triggers_with_the_gate() -> None:
    _, jobs = parse_crontab(CRONTAB.read_text())
    lines = {" ".join(the_workbench_command(command).args) for _, command in jobs}
    assert lines == {"monitor --config workbench.yaml", "retrain --trigger event --gate --config workbench.yaml",
                     "retrain --trigger scheduled --gate --config workbench.yaml"}


@pytest.mark.parametrize(("field", "text"), [("minute", "60"), ("hour", "*/0"), ("day of week", "mon-fri"), ("month", "3-1")])
def test_a_bad_cron_field_is_named(field: str, text: str) -> None:
    spec = next(s for s in CRON_FIELDS if s[0] == field)
    assert field in (cron_field_error(text, *spec) or "")


# --- systemd -------------------------------------------------------------------------------------------


def test_every_service_is_a_oneshot_workbench_command_under_the_crontabs_lock() -> None:
    env, _ = parse_crontab(CRONTAB.read_text())
    seen = set()
    for name, unit in services().items():
        service = unit["Service"]
        assert service["Type"] == "oneshot", name
        (command,) = commands(service["ExecStart"])
        assert command.program == "workbench" and Path(command.words[0]).is_absolute(), name
        assert command_error(command, REPO) is None, command_error(command, REPO)
        options = command.flock_options()
        assert "-n" in options and command.lock == env["WORKBENCH_LOCK"], f"{name}: not under flock -n on the project's lock"
        conflict = options[options.index("-E") + 1]
        assert conflict in service["SuccessExitStatus"].split(), f"{name}: a run skipped for a held lock (exit {conflict}) would count as failed"
        seen.add(" ".join(command.args[: command.args.index("--config")]))
    assert seen == {"monitor", "retrain --trigger scheduled --gate", "retrain --trigger event --gate"}


def test_every_timer_names_its_service_and_every_service_has_a_timer() -> None:
    timers = {p.stem: read_unit(p) for p in UNITS if p.suffix == ".timer"}
    assert set(timers) == {Path(name).stem for name in services()}
    for stem, unit in timers.items():
        assert unit["Timer"]["Unit"] == f"{stem}.service"
        assert unit["Install"]["WantedBy"] == "timers.target"
        assert unit["Timer"]["OnCalendar"]


def test_a_key_given_twice_in_a_unit_is_an_error(tmp_path: Path) -> None:
    unit = tmp_path / "twice.service"
    unit.write_text("[Service]\nExecStart=/bin/true\nExecStart=/bin/false\n")
    with pytest.raises(configparser.DuplicateOptionError):
        read_unit(unit)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_the_units_and_their_calendars(tmp_path: Path) -> None:
    proc = subprocess.run(["systemd-analyze", "verify", "--man=no", *map(str, UNITS)], capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stderr) == (0, "")
    calendars = [read_unit(p)["Timer"]["OnCalendar"] for p in UNITS if p.suffix == ".timer"]
    proc = subprocess.run(["systemd-analyze", "calendar", *calendars], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    # and it does refuse a bad one, so the check above means something
    bad = tmp_path / "bad.timer"
    bad.write_text(UNITS[-1].read_text().replace("OnCalendar=", "OnCalendar=25:61 ", 1))
    proc = subprocess.run(["systemd-analyze", "verify", "--man=no", str(bad)], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "Failed to parse calendar" in proc.stderr, proc.stderr


# --- overlap protection, with real processes -----------------------------------------------------------


def _stop(holder: subprocess.Popen, lock: Path) -> None:
    """Kill the holder's process group and wait until the lock is free (its sleep holds the lock until it dies)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(holder.pid, signal.SIGKILL)
    holder.wait(timeout=10)
    deadline = time.monotonic() + 10
    while subprocess.run(["flock", "-n", "-E", "75", str(lock), "true"], timeout=10).returncode == 75:
        assert time.monotonic() < deadline, f"{lock} still held after the first run was killed"
        time.sleep(0.02)


@pytest.mark.skipif(shutil.which("flock") is None, reason="util-linux flock is not installed")
def test_a_second_run_is_refused_while_the_first_holds_the_lock(tmp_path: Path) -> None:
    env, jobs = parse_crontab(CRONTAB.read_text())
    project, logs = tmp_path / "project", tmp_path / "logs"
    project.mkdir()
    logs.mkdir()
    env.update(WORKBENCH_PROJECT=str(project), WORKBENCH_LOCK=str(project / ".workbench.lock"), WORKBENCH_LOGS=str(logs),
               PATH=f"{BIN}:/usr/bin:/bin", HOME=str(tmp_path), PYTHONPATH=os.environ.get("PYTHONPATH", ""))
    monitor = next(command for _, command in jobs if " monitor " in command)
    log, held = logs / "monitor.log", logs / "held"
    # The first run: the same cron line, with a tiny command holding the lock instead of the workbench;
    # it says when it holds the lock (the marker file), so the test never races it for the lock.
    tiny = """sh -c 'touch "$WORKBENCH_LOGS/held"; exec sleep 60' """
    holder = subprocess.Popen(["/bin/sh", "-c", re.sub(r"workbench [^>]*", lambda _: tiny, monitor)], env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while not held.exists():
            assert holder.poll() is None and time.monotonic() < deadline, "the first run never took the lock"
            time.sleep(0.02)
        for _, command in jobs:  # every cron job, run verbatim by /bin/sh as cron runs it
            started = time.monotonic()
            proc = subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True, text=True, timeout=30)
            assert (proc.returncode, proc.stdout, proc.stderr) == (75, "", ""), command
            assert time.monotonic() - started < 5, "flock -n must not wait for the lock"
        for name, unit in services().items():  # the systemd units share the lock: refused too
            exec_start = unit["Service"]["ExecStart"].replace("/srv/churn", str(project))
            proc = subprocess.run(exec_start.split(), env=env, capture_output=True, text=True, timeout=30)
            assert proc.returncode == 75, f"{name}: {proc.stderr}"
        assert log.read_text() == "", "the workbench ran although the lock was held"
    finally:
        _stop(holder, project / ".workbench.lock")
    # The lock is free: the same line now runs the real workbench (exit 2: this empty project has no config).
    proc = subprocess.run(["/bin/sh", "-c", monitor], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, log.read_text()
    assert "workbench.yaml: config file not found" in log.read_text()
