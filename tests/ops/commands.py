"""Command lines in CI and scheduler files, split as a shell would and checked against the real CLI and Makefile.

A workflow's ``run:`` script, a crontab line and a systemd ``ExecStart=`` hold shell command
lines. :func:`simple_commands` splits them into simple commands (words, with the operators,
redirections and leading assignments removed); :func:`unwrap` takes off the wrappers the
recipes use (``flock``, ``env``, ``nice``); :func:`workbench_error` parses a ``workbench``
command line with the parser ``workbench.cli.main`` builds, and :func:`make_error` asks GNU
make itself (``make --dry-run``) whether the targets exist.

Written by hand on top of :mod:`shlex`: the files checked here are ours and use only simple
commands joined by ``&&``/``;``/``|`` with redirections (no loops or functions); a full shell
parser (bashlex) would be a new dependency for that.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

OPERATORS = {"&&", "||", ";", ";;", "|", "|&", "&", "(", ")"}
REDIRECTIONS = {">", ">>", "<", "<<", "<<<", ">|", "<>", ">&", "<&", "&>", "&>>"}
KEYWORDS = {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "for", "case", "esac", "!", "{", "}", "time"}
BUILTINS = {"cd", "echo", "export", "set", "test", "[", "true", "false", "exit", "printf", "read", ":", "exec", "."}
_FD_PREFIX = re.compile(r"(?<![^\s])\d+(?=[<>])")  # the 2 of 2>&1 or 2> file: a file descriptor, not a word
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")

# flock(1) from util-linux: options that take a value, and flags.
_FLOCK_VALUE = {"-E", "--conflict-exit-code", "-w", "--wait", "--timeout"}
_FLOCK_FLAGS = {"-n", "--nb", "--nonblock", "-s", "--shared", "-x", "-e", "--exclusive", "-u", "--unlock", "-o", "--close",
                "-F", "--no-fork", "--verbose", "--fcntl"}


def strip_comment(line: str) -> str:
    """``line`` without its shell comment: a ``#`` that starts a word outside quotes (``a#b`` is a word)."""
    quote, escaped = "", False
    for i, char in enumerate(line):
        if escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def logical_lines(script: str) -> list[str]:
    """The script's lines with ``\\``-newline continuations joined and comments removed."""
    joined = re.sub(r"\\\n", " ", script)
    return [text for text in (strip_comment(line).strip() for line in joined.splitlines()) if text]


def simple_commands(script: str) -> list[list[str]]:
    """Every simple command in ``script``, as its words (assignments before the program dropped)."""
    commands: list[list[str]] = []
    for line in logical_lines(script):
        lexer = shlex.shlex(_FD_PREFIX.sub("", line), posix=True, punctuation_chars=True)
        lexer.whitespace_split, lexer.commenters = True, ""
        words: list[str] = []
        tokens = iter(lexer)
        for token in tokens:
            if token in OPERATORS:
                commands.append(words)
                words = []
            elif token in REDIRECTIONS:
                next(tokens, None)  # the file or descriptor it redirects to
            else:
                words.append(token)
        commands.append(words)
    return [c for c in (_drop_prefix(words) for words in commands) if c]


def _drop_prefix(words: list[str]) -> list[str]:
    i = 0
    while i < len(words) and (words[i] in KEYWORDS or _ASSIGNMENT.match(words[i])):
        i += 1
    return words[i:]


@dataclass
class Command:
    """One simple command: its wrappers (``flock``...) taken off, and the lock file ``flock`` holds."""

    words: list[str]
    wrappers: list[list[str]] = field(default_factory=list)
    lock: str | None = None

    @property
    def program(self) -> str:
        """The program's name, without its folder (``/srv/app/.venv/bin/workbench`` is ``workbench``)."""
        return Path(self.words[0]).name if self.words else ""

    @property
    def args(self) -> list[str]:
        """The arguments after the program."""
        return self.words[1:]

    def flock_options(self) -> list[str]:
        """The options of the ``flock`` wrapping this command (empty when none does)."""
        return next((w[1:] for w in self.wrappers if Path(w[0]).name == "flock"), [])


def unwrap(words: list[str]) -> Command:
    """Take ``flock [options] LOCK``, ``env NAME=VALUE`` and ``nice [-n N]`` off the front of a command."""
    command = Command(list(words))
    while command.words:
        name, rest = Path(command.words[0]).name, command.words[1:]
        if name == "flock":
            options, i = [], 0
            while i < len(rest) and rest[i].startswith("-"):
                options.append(rest[i])
                if rest[i] in _FLOCK_VALUE:
                    options.append(rest[i + 1])
                    i += 1
                elif rest[i] not in _FLOCK_FLAGS:
                    raise ValueError(f"flock option {rest[i]!r} is not one these tests know (in {shlex.join(words)})")
                i += 1
            if i >= len(rest):
                raise ValueError(f"flock without a lock file: {shlex.join(words)}")
            command.lock = rest[i]
            command.wrappers.append([command.words[0], *options, rest[i]])
            command.words = rest[i + 1:]
        elif name == "env":
            i = 0
            while i < len(rest) and _ASSIGNMENT.match(rest[i]):
                i += 1
            command.wrappers.append(command.words[: i + 1])
            command.words = rest[i:]
        elif name == "nice":
            i = 2 if rest[:1] == ["-n"] else 0
            command.wrappers.append(command.words[: i + 1])
            command.words = rest[i:]
        else:
            break
    return command


def commands(script: str) -> list[Command]:
    """Every simple command of ``script``, unwrapped."""
    return [unwrap(words) for words in simple_commands(script)]


def workbench_error(args: list[str]) -> str | None:
    """None when ``workbench ARGS`` parses with the CLI's own parser, else argparse's message."""
    from workbench.cli import _parser

    parser, handlers = _parser()
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            parsed: argparse.Namespace = parser.parse_args(args)
    except SystemExit as exc:
        return err.getvalue().strip().splitlines()[-1] if err.getvalue().strip() else f"argparse exited {exc.code}"
    if parsed.command not in handlers:
        return f"no handler for {parsed.command!r}"
    return None


def _make(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}  # not an outer make's
    return subprocess.run(["make", "--directory", str(root), *args], capture_output=True, text=True, env=env, timeout=60)


@functools.cache
def make_rules(root: Path) -> frozenset[str]:
    """The targets the Makefile in ``root`` has a rule for, from GNU make's own data base (``make -p``; nothing runs).

    A name that is only a file or folder (``tests``) is listed by make as "Not a target": `make tests`
    would say "Nothing to be done" and succeed without running anything, so it does not count.
    """
    lines = _make(root, "--print-data-base", "--question", "--no-builtin-rules", "--no-builtin-variables", ":").stdout.splitlines()
    rules, in_files = set(), False
    for before, line in zip([""] + lines, lines, strict=False):
        in_files = (in_files or line == "# Files") and not line.startswith("# Finished Make data base")
        match = re.match(r"([^\s#][^:=]*):(?!=)", line)
        if in_files and match and before != "# Not a target:":
            rules.update(match.group(1).split())
    return frozenset(rules - {".PHONY", ".SUFFIXES", ".DEFAULT", ".PRECIOUS", ".INTERMEDIATE", ".SECONDARY"})


def make_error(root: Path, args: list[str]) -> str | None:
    """None when the Makefile has a rule for every target in ``args`` and make accepts the line (``--dry-run``: nothing runs)."""
    missing = [t for t in make_targets(args) if t not in make_rules(root)]
    if missing:
        return f"no make target {', '.join(missing)} in {root / 'Makefile'} (targets: {', '.join(sorted(make_rules(root)))})"
    proc = _make(root, "--dry-run", *args)
    return None if proc.returncode == 0 else (proc.stderr.strip() or f"make exited {proc.returncode}")


def make_targets(args: list[str]) -> list[str]:
    """The targets among ``make`` arguments (not options, not ``NAME=VALUE``)."""
    return [a for a in args if not a.startswith("-") and "=" not in a]


def program_error(command: Command) -> str | None:
    """None when the program is a shell builtin or found on PATH, else a message naming it."""
    name = command.program
    if name in BUILTINS or name in ("make", "workbench") or shutil.which(name):
        return None
    return f"program {name!r} is neither a shell builtin nor on PATH"


def command_error(command: Command, root: Path) -> str | None:
    """What is wrong with one command (unknown program, make target or workbench command line), or None."""
    error = program_error(command)
    if error is None and command.program == "make":
        error = make_error(root, command.args)
    if error is None and command.program == "workbench":
        error = workbench_error(command.args)
    return None if error is None else f"{shlex.join(command.words)}: {error}"


def check(script: str, root: Path) -> list[str]:
    """Problems with the commands of ``script``: unknown programs, make targets or workbench command lines."""
    return [error for command in commands(script) if (error := command_error(command, root)) is not None]
