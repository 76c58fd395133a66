"""The documentation: every `forgetflow …` example in README.md, docs/, benchmarks/README.md and the
commands' docstrings parses with the real command line, and the docs site (mkdocs.yml) builds with
--strict. A few seconds in all."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.main import get_command

from flows.cli import app

ROOT = Path(__file__).resolve().parents[1]
# HISTORY.md is a record of past runs, not instructions; docs/index.md etc. only include files listed here
DOCS = [ROOT / "README.md", ROOT / "benchmarks" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
SPAN = re.compile(r"`((?:[\w.~-]*/)*forgetflow\s[^`]+)`")  # also `.venv/bin/forgetflow …`
INVOCATION = re.compile(r"(^|[\s;&|/])forgetflow\s")


def _commands(line: str) -> list[list[str]]:
    """The forgetflow invocations on one shell line (split at &&, ||, ;, | and &; comments dropped)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split, lexer.commenters = True, "#"
    commands, current = [], []
    for token in [*lexer, ";"]:
        if token and set(token) <= set(";&|"):
            if current and (current[0] == "forgetflow" or current[0].endswith("/forgetflow")):
                commands.append(current[1:])
            current = []
        else:
            current.append(token)
    return commands


def documented_commands() -> list[tuple[str, list[str], bool]]:
    """(where, arguments, complete): code blocks and table cells are complete commands to run; a code
    span in prose may only name one (`forgetflow checkout` with its REV left out)."""
    found = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for block in FENCE.findall(text):
            for line in block.replace("\\\n", " ").splitlines()[1:]:
                if INVOCATION.search(line):
                    found += [
                        (f"{path.relative_to(ROOT)}: {' '.join(line.split())}", args, True) for args in _commands(line.strip())
                    ]
        for line in FENCE.sub("", text).split("\n\n"):  # paragraphs, table rows
            for span in SPAN.findall(line):
                span = " ".join(span.split())
                found += [
                    (f"{path.relative_to(ROOT)}: `{span}`", args, line.lstrip().startswith("|")) for args in _commands(span)
                ]
    return found


COMMANDS = documented_commands()


def docstring_examples() -> dict[str, list[list[str]]]:
    """command -> the invocations in the `Example:` of its docstring (what its --help shows)."""
    return {
        name: _commands(command.help.partition("Example:")[2].strip()) if "Example:" in (command.help or "") else []
        for name, command in get_command(app).commands.items()
    }


EXAMPLES = [(f"flows/cli.py: {name}'s Example", args, True) for name, found in docstring_examples().items() for args in found]


def _command_name(args: list[str]) -> str | None:
    while args[:1] in (["-w"], ["--workspace"]):
        args = args[2:]
    return args[0] if args else None


def test_the_docs_show_examples_of_every_command():
    shown = {_command_name(args) for _, args, _ in COMMANDS}
    assert set(get_command(app).commands) <= shown, sorted(set(get_command(app).commands) - shown)


def test_every_command_docstring_has_an_example_of_itself():
    assert {name for name, found in docstring_examples().items() if [_command_name(args) for args in found] != [name]} == set()


@pytest.mark.parametrize("where, args, complete", COMMANDS + EXAMPLES, ids=[where for where, _, _ in COMMANDS + EXAMPLES])
def test_a_documented_command_parses(where, args, complete):
    """The command, its options, arguments and their types, as the CLI parses them (nothing runs); a
    mention in prose may leave out required arguments. Docstrings' `Example:` lines too."""
    group = get_command(app)
    try:
        with group.make_context("forgetflow", list(args)) as ctx:
            name, command, rest = group.resolve_command(ctx, [*getattr(ctx, "_protected_args", []), *ctx.args])
            command.make_context(name, rest, parent=ctx).close()
    except Exception as exc:  # typer's usage errors (it vendors its own click)
        if not complete and type(exc).__name__ == "MissingParameter":
            return
        message = exc.format_message() if hasattr(exc, "format_message") else repr(exc)
        pytest.fail(f"{where}\n  forgetflow {shlex.join(args)}: {message}", pytrace=False)


def _build(root: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=120,
    )


def test_the_docs_site_builds_strict(tmp_path):
    built = _build(ROOT, tmp_path / "site")
    assert built.returncode == 0, built.stderr
    home = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    # the README's links to docs/… and benchmarks/… lead to the site's pages
    assert 'href="evidence/"' in home and 'href="benchmarks/"' in home and 'href="history/"' in home
    assert "<code>--remote DIR|URL</code>" in home  # GitHub's escaped pipe in a table cell, without the backslash


@pytest.mark.parametrize(
    "path, old, new",
    [
        ("README.md", "(docs/evidence.md)", "(docs/evidense.md)"),  # a page that does not exist
        ("README.md", "(benchmarks/HISTORY.md)", "(benchmarks/results)"),  # a repo file outside the site
        ("docs/history.md", '"benchmarks/HISTORY.md"', '"benchmarks/HISTORY2.md"'),  # a missing include
    ],
)
def test_a_broken_link_or_include_fails_the_strict_build(tmp_path, path, old, new):
    copy = tmp_path / "repo"
    for name in ["mkdocs.yml", "README.md", "docs", "benchmarks/README.md", "benchmarks/HISTORY.md", "scripts/mkdocs_hooks.py"]:
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, copy / name)
    text = (copy / path).read_text(encoding="utf-8")
    assert old in text
    (copy / path).write_text(text.replace(old, new), encoding="utf-8")
    built = _build(copy, tmp_path / "site")
    assert built.returncode != 0
    assert new.strip('()"') in built.stderr
