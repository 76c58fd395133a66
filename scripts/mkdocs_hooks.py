"""mkdocs hook (mkdocs.yml `hooks:`): Markdown written for GitHub reads the same in the site.

The Markdown files are written to be read on GitHub, so their relative links are relative to the
file's place in the repo: README.md links `docs/evidence.md`, docs/batches.md links
`../benchmarks/README.md`. In the site, README.md, benchmarks/README.md and benchmarks/HISTORY.md
are pages only through a stub in docs/ that includes the whole file (`--8<-- "README.md"`, with
pymdownx.snippets), so those links would point nowhere. This hook resolves every relative link
against the repo path of the file it was written in and, when the target is a page of the site
(a file under docs/, or a file a stub includes), rewrites it to that page. Anything else is left as
written, so mkdocs reports it and `mkdocs build --strict` fails: nothing is silenced.

Also: in a table, GitHub needs a `|` inside a code span escaped (`--remote DIR\\|URL`) and shows it
without the backslash; Python-Markdown keeps the backslash, so it is dropped here.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from markdown import Extension
from markdown.treeprocessors import Treeprocessor
from mkdocs.plugins import get_plugin_logger

log = get_plugin_logger(__name__)

# A page that is nothing but one include (HTML comments and blank lines aside) stands for that file.
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_INCLUDE = re.compile(r'^-{1,}8<-{1,}\s+"([^"]+)"\s*$')

_state: dict = {"docs_prefix": "docs/", "included": {}, "files": set(), "source": None, "page": None}


def included_file(markdown: str) -> str | None:
    """The repo path a stub page includes, or None when the page has content of its own."""
    lines = [line.strip() for line in _COMMENT.sub("", markdown).splitlines() if line.strip()]
    if len(lines) == 1 and (match := _INCLUDE.match(lines[0])):
        return posixpath.normpath(match.group(1))
    return None


def on_config(config, **kwargs):
    root = Path(config.config_file_path).resolve().parent
    docs = Path(config.docs_dir).resolve()
    _state["docs_prefix"] = docs.relative_to(root).as_posix().rstrip("/") + "/"
    config.markdown_extensions.append(_GitHubLinks())
    return config


def on_files(files, config, **kwargs):
    """Which repo file each stub page stands for (known before any page renders)."""
    _state["included"] = {}
    _state["files"] = set(files.src_uris)
    for file in files.documentation_pages():
        source = included_file(Path(file.abs_src_path).read_text(encoding="utf-8"))
        if source is not None:
            _state["included"][source] = file.src_uri
    return files


def on_page_markdown(markdown, page, config, files, **kwargs):
    """Remember the page about to render and the repo path its links were written relative to."""
    source = included_file(markdown)
    _state["page"] = page.file.src_uri
    _state["source"] = source if source is not None else _state["docs_prefix"] + page.file.src_uri
    return markdown


def site_link(url: str, source: str, page: str, included: dict[str, str], docs_prefix: str) -> str:
    """`url`, written in the repo file `source`, as a link from the site page `page` (unchanged
    when it is not a relative link into the site: mkdocs then reports it)."""
    scheme, netloc, path, query, fragment = urlsplit(url)
    if scheme or netloc or not path or path.startswith("/"):
        return url
    target = posixpath.normpath(posixpath.join(posixpath.dirname(source), unquote(path)))
    if target in included:
        target = included[target]
    elif target.startswith(docs_prefix):
        target = target[len(docs_prefix) :]
    else:
        return url
    relative = posixpath.relpath(target, posixpath.dirname(page) or ".")
    return urlunsplit(("", "", relative, query, fragment))


def _link(url: str) -> str:
    page, source = _state["page"], _state["source"]
    scheme, netloc, path, _, _ = urlsplit(url)
    if scheme or netloc or not path:  # external, mailto: or an anchor on the same page
        return url
    new = site_link(url, source, page, _state["included"], _state["docs_prefix"])
    own = source == _state["docs_prefix"] + page
    if new == url and own:
        return url  # a docs/ page's own link into docs/: mkdocs checks it
    if new != url and posixpath.normpath(posixpath.join(posixpath.dirname(page), unquote(urlsplit(new).path))) in _state["files"]:
        return new
    where = source if own else f"{source} (the page {page})"
    # mkdocs reports it too (strict fails on either); this line names the file the link is written in
    log.warning(f"{where} links '{url}', which is no file of the site")
    return url


class _Rewrite(Treeprocessor):
    def run(self, root):
        for cell in (element for element in root.iter() if element.tag in ("td", "th")):
            for code in cell.iter("code"):
                if code.text:
                    code.text = type(code.text)(code.text.replace("\\|", "|"))  # keeps it an AtomicString
        if _state["page"] is None:
            return
        for element in root.iter():
            attribute = {"a": "href", "img": "src"}.get(element.tag)
            if attribute and element.get(attribute):
                element.set(attribute, _link(element.get(attribute)))


class _GitHubLinks(Extension):
    def extendMarkdown(self, md):
        # after the inline patterns made the links (20), before mkdocs validates them ("relpath", 0)
        md.treeprocessors.register(_Rewrite(md), "github_links", 2)
