"""The workspace's DVC remote: where data/ and the checkpoints go so a clone can `dvc pull` them.

DVC's own config is the only source of truth (`.dvc/config`, committed with the workspace), so
`dvc remote` commands and `forgetflow init --remote` agree. Every promoted batch pushes after its
purge: the remote then holds the current data and checkpoints, and (purge runs `dvc gc --cloud`)
no object that only forgotten data used.
"""

from __future__ import annotations

from pathlib import Path

from components.errors import BadInputError
from flows.workspace import Workspace, commit, git

NAME = "forgetflow"


def configure(ws: Workspace, url: str) -> str:
    """Make `url` the default remote. A local directory is stored as an absolute path, so a
    `git clone` of the workspace anywhere on this machine still finds it."""
    from dvc.repo import Repo

    url = url.strip()
    if not url or any(c in url for c in "\n\r\0"):
        raise BadInputError(f"bad remote {url!r}: give a directory or a URL such as s3://bucket/path")
    if "://" not in url:
        url = str(Path(url).expanduser().resolve())
    with Repo(str(ws.root)) as repo, repo.config.edit() as config:
        config["remote"][NAME] = {"url": url}
        config["core"]["remote"] = NAME
    git(ws.root, "add", ".dvc/config")
    if git(ws.root, "diff", "--cached", "--quiet", "--", ".dvc/config") is None:  # exit 1: the config changed
        commit(ws.root, f"DVC remote: {url}", paths=[".dvc/config"])
    return url


def default(ws: Workspace) -> tuple[str, str] | None:
    """(name, url) of the workspace's default DVC remote, if one is configured."""
    from dvc.repo import Repo

    with Repo(str(ws.root)) as repo:
        name = repo.config["core"].get("remote")
        return (name, repo.config["remote"][name]["url"]) if name else None


def local_dir(ws: Workspace) -> Path | None:
    """The default remote's directory when it is local (then its bytes can be counted)."""
    remote = default(ws)
    if remote is None or ("://" in remote[1] and not remote[1].startswith("file://")):
        return None
    path = Path(remote[1].removeprefix("file://"))
    return path if path.is_absolute() else (ws.root / ".dvc" / path).resolve()


def push(ws: Workspace) -> tuple[int, str] | None:
    """`dvc push` everything the workspace tracks now: (objects pushed, remote url); None without a remote."""
    from dvc.repo import Repo

    remote = default(ws)
    if remote is None:
        return None
    with Repo(str(ws.root)) as repo:
        return repo.push(), remote[1]
