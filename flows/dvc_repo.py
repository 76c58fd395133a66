"""Every DVC call forgetflow makes, in one module: an upgrade of DVC has one place to land.

One way per operation, chosen for a reason:
- **Python API** (`dvc.repo.Repo`) where the answer is data we read: the `.dir` listing of a data
  version (~0.1 s at 70,000 files where `dvc status` costs ~3 s: it stats every file), status, add,
  push, the remote's config, the cache's object paths (asked of DVC, never hard-coded).
- **CLI** (`dvc repro|freeze|commit|gc|checkout`) where DVC runs a pipeline or collects garbage:
  `repro` runs stages that themselves call `forgetflow` and must run in a fresh process with this
  interpreter on PATH (`tool_env`), and `gc` reports what it removed only on its output.
- **dvc_data internals** only in `commit_removal` (writing a data version as the old record minus
  the forgotten files, without re-hashing 70,000 files as `dvc add` does: 7 s at 70k). The pinned
  versions it was checked against are `VERIFIED`; `tests/flows/test_dvc_repo.py` fails loudly when
  an upgrade changes them, so the internals get re-checked rather than silently trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from components.errors import BadInputError, DataValidationError, ForgetflowError
from flows.workspace import Workspace, commit, git, tool_env

REMOTE_NAME = "forgetflow"
VERIFIED = {"dvc": "3.67.1", "dvc-data": "3.18.3"}  # the versions commit_removal's internals were checked against


@contextmanager
def repo(ws: Workspace) -> Iterator:
    from dvc.repo import Repo

    with Repo(str(ws.root)) as opened:
        yield opened


def init(root: Path) -> None:
    """A new DVC repo whose `dvc add` stages its pointer files in git itself."""
    from dvc.repo import Repo

    with Repo.init(root) as opened, opened.config.edit() as config:
        config["core"]["autostage"] = True


def run(ws: Workspace, *args: str, stream: bool = False) -> str:
    """`dvc ARGS` in the workspace, in a fresh process; its stdout (streamed to the terminal instead
    with `stream`, for long `repro`s a person watches). A failure raises with DVC's own message."""
    done = subprocess.run(["dvc", *args], cwd=ws.root, env=tool_env(), capture_output=not stream, text=True, check=False)
    if done.returncode != 0:
        why = (done.stderr or done.stdout or "").strip()[-400:] if not stream else f"exit code {done.returncode}"
        raise ForgetflowError(f"`dvc {' '.join(args)}` failed: {why}")
    return done.stdout or ""


def add(ws: Workspace, paths: list[Path]) -> None:
    with repo(ws) as opened:
        opened.add([str(p) for p in paths])


def status(ws: Workspace, target: Path) -> dict:
    """DVC's own verdict on `target` (empty: the workspace matches the record)."""
    with repo(ws) as opened:
        return opened.status(targets=[str(target)])


def cache_dir(ws: Workspace) -> Path:
    with repo(ws) as opened:
        return Path(opened.cache.local.path)


def object_path(ws: Workspace, md5: str) -> Path:
    """Where the cache keeps object `md5` (DVC decides the layout)."""
    with repo(ws) as opened:
        return Path(opened.cache.local.oid_to_path(md5))


def cache_files(ws: Workspace) -> set[str]:
    """Every object in the cache, relative to it."""
    return {relpath for relpath, _ in files_under(cache_dir(ws))}


def read_object(ws: Workspace, md5: str) -> str:
    path = object_path(ws, md5)
    if not path.is_file():
        raise DataValidationError(f"DVC cache has no object {md5} (purged, or never added here)")
    return path.read_text(encoding="utf-8")


def configure_remote(ws: Workspace, url: str) -> str:
    """Make `url` the default remote (DVC's own config is the only source of truth). A local
    directory is stored as an absolute path, so a `git clone` of the workspace still finds it."""
    url = url.strip()
    if not url or any(c in url for c in "\n\r\0"):
        raise BadInputError(f"bad remote {url!r}: give a directory or a URL such as s3://bucket/path")
    if "://" not in url:
        url = str(Path(url).expanduser().resolve())
    with repo(ws) as opened, opened.config.edit() as config:
        config["remote"][REMOTE_NAME] = {"url": url}
        config["core"]["remote"] = REMOTE_NAME
    git(ws.root, "add", ".dvc/config")
    if git(ws.root, "diff", "--cached", "--quiet", "--", ".dvc/config") is None:  # exit 1: the config changed
        commit(ws.root, f"DVC remote: {url}", paths=[".dvc/config"])
    return url


def default_remote(ws: Workspace) -> tuple[str, str] | None:
    """(name, url) of the workspace's default DVC remote, if one is configured."""
    with repo(ws) as opened:
        name = opened.config["core"].get("remote")
        return (name, opened.config["remote"][name]["url"]) if name else None


def local_remote_dir(ws: Workspace) -> Path | None:
    """The default remote's directory when it is local (then its bytes can be counted)."""
    remote = default_remote(ws)
    if remote is None or ("://" in remote[1] and not remote[1].startswith("file://")):
        return None
    path = Path(remote[1].removeprefix("file://"))
    return path if path.is_absolute() else (ws.root / ".dvc" / path).resolve()


def push(ws: Workspace) -> tuple[int, str] | None:
    """`dvc push` everything the workspace tracks now: (objects pushed, remote url); None without a remote."""
    remote = default_remote(ws)
    if remote is None:
        return None
    with repo(ws) as opened:
        return opened.push(), remote[1]


def commit_pointers(ws: Workspace, message: str) -> None:
    """Commit the pointer files a `dvc repro`/`dvc add`/purge changed (and only those) in git."""
    paths = [
        p
        for p in ("dvc.yaml", "dvc.lock", "models/unlearned.dvc", "metrics/featurenet.json", "models/.gitignore")
        if (ws.root / p).exists()
    ]
    if (
        paths
        and git(ws.root, "add", "--", *paths) is not None
        and git(ws.root, "diff", "--cached", "--quiet", "--", *paths) is None
    ):
        commit(ws.root, message, paths=paths)


def listing(ws: Workspace) -> dict[str, str]:
    """relpath -> md5 of every file of the data version data.dvc names, from the DVC cache."""
    md5 = ws.data_version()
    if md5 is None:
        raise DataValidationError("no data.dvc: run `forgetflow prepare`")
    path = object_path(ws, md5)
    try:
        return {entry["relpath"]: entry["md5"] for entry in json.loads(path.read_text())}
    except (OSError, ValueError, KeyError) as exc:
        raise DataValidationError(f"DVC's listing of {md5} is missing or unreadable ({exc}): `dvc checkout data.dvc`") from exc


def files_on_disk(ws: Workspace) -> set[str]:
    return {relpath for relpath, _ in files_under(ws.data_dir)}


def files_under(root: Path) -> Iterator[tuple[str, str]]:
    """(relpath, path) of every file under `root` (none if it does not exist), as strings:
    Path.rglob / os.path.relpath per file cost 1-1.5 s at 70,000 files, this 0.1 s."""
    top = str(root)
    for directory, _, names in os.walk(top):
        prefix = directory[len(top) + 1 :]
        for name in names:
            yield (f"{prefix}/{name}" if prefix else name), os.path.join(directory, name)


def md5_file(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def commit_removal(ws: Workspace, removed: set[str], rewritten: set[str]) -> str:
    """Write the data version that is DVC's current one minus `removed`, with the `rewritten` files
    (the manifest) re-hashed: the `.dir` listing and objects into DVC's cache, the new md5, size
    and file count into data.dvc. The record `dvc add data` would write (a test checks `dvc status`
    and the size and file count), without re-adding every file: `dvc add` took 7 s at 70,000 files.

    data/ on disk must be exactly that version: same file names, and every other file unchanged
    (by DVC's own state: a file whose inode, mtime or size changed is re-hashed). If not, nothing
    is written and DataValidationError names the differences. Returns the new md5."""
    from dvc_data.hashfile.hash_info import HashInfo
    from dvc_data.hashfile.meta import Meta
    from dvc_data.hashfile.tree import Tree

    with repo(ws) as opened, opened.lock:  # as `dvc add` holds it: no `dvc gc` in between
        odb, fs = opened.cache.local, opened.fs
        old = Tree.load(odb, HashInfo("md5", ws.data_version()))
        stats = _stats(ws)
        new = Tree()
        for key, meta, hash_info in old:
            relpath = "/".join(key)
            if relpath not in removed:
                new.add(key, meta, hash_info)
        for relpath in rewritten:
            path = str(ws.data_dir / relpath)
            digest = md5_file(Path(path))
            odb.add(path, fs, digest)
            new.add(tuple(relpath.split("/")), Meta(size=stats[relpath]["size"]), HashInfo("md5", digest))
        problems = _differences(opened, new, stats, rewritten)
        if problems:
            raise DataValidationError(
                f"data/ changed outside this batch ({'; '.join(problems)}); nothing committed (run `forgetflow audit`)"
            )
        new.digest()
        odb.add(new.path, new.fs, new.oid)
        stage = opened.stage.collect(str(ws.data_dvc))[0]
        out = stage.outs[0]
        out.hash_info = new.hash_info
        out.meta = Meta(isdir=True, size=sum(s["size"] for s in stats.values()), nfiles=len(stats))
        stage.dump()
    return new.oid


def _stats(ws: Workspace) -> dict[str, dict]:
    """relpath -> the stat fields DVC's state keys on, for every file under data/."""
    stats = {}
    for relpath, path in files_under(ws.data_dir):
        st = os.stat(path)
        stats[relpath] = {"name": path, "type": "file", "size": st.st_size, "mtime": st.st_mtime, "ino": st.st_ino}
    return stats


def _differences(opened, record, stats: dict[str, dict], rewritten: set[str]) -> list[str]:
    expected = {"/".join(key): hash_info.value for key, _, hash_info in record}
    problems = [f"added {p}" for p in sorted(set(stats) - set(expected))][:5]
    problems += [f"missing {p}" for p in sorted(set(expected) - set(stats))][:5]
    untouched = {stats[p]["name"]: p for p in (set(stats) & set(expected)) - rewritten}
    infos = {path: stats[rel] for path, rel in untouched.items()}
    for path, _, hash_info in opened.state.get_many(list(untouched), opened.fs, infos):
        rel = untouched[path]
        md5 = hash_info.value if hash_info and hash_info.name == "md5" else md5_file(Path(path))  # not md5-dos2unix
        if md5 != expected[rel] and len(problems) < 15:
            problems.append(f"changed {rel}")
    return problems
