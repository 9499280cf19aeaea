"""Adapter: git plumbing that rewrites unpublished history, mixed into :class:`cpv._git.repo.GitRepo`.

Objects are read and written byte for byte (``cat-file``, ``hash-object``, ``mktree``,
``commit-tree``, ``mktag``); refs move together in one ``update-ref --stdin`` transaction.
Nothing here knows about versions: :mod:`cpv.core.renumber` decides what changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cpv._git.exec import GitFailure, git_bytes
from cpv.domain.errors import GitError

ZERO = "0" * 40


@dataclass(frozen=True)
class CommitObject:
    """A commit as stored: ``author``/``committer`` are ``Name <email> <epoch> <tz>``."""

    tree: str
    parents: tuple[str, ...]
    author: str
    committer: str
    message: bytes


def _ident_env(role: str, ident: str) -> dict[str, str]:
    """``GIT_<ROLE>_NAME/EMAIL/DATE`` recreating ``ident`` exactly."""
    who, epoch, tz = ident.rsplit(" ", 2)
    name, _, email = who.partition(" <")
    return {
        f"GIT_{role}_NAME": name,
        f"GIT_{role}_EMAIL": email.removesuffix(">"),
        f"GIT_{role}_DATE": f"{epoch} {tz}",
    }


class HistoryMethods:
    """Mixed into :class:`cpv._git.repo.GitRepo` (whose ``root`` is the working tree)."""

    root: Path

    def _plumb(
        self, *args: str, stdin: bytes | None = None, env: Mapping[str, str] | None = None
    ) -> bytes:
        """Run git on bytes; its stdout untouched."""
        try:
            return git_bytes(args, cwd=self.root, env=env, stdin=stdin)
        except GitFailure as exc:
            lines = (exc.stderr or "").strip().splitlines()
            raise GitError(
                f"git {args[0]} failed: {lines[-1] if lines else exc.returncode}"
            ) from None

    def commits_to_rewrite(
        self, head: str, published: Sequence[str], *, remote: str | None = None
    ) -> list[str]:
        """Commits reachable from ``head`` but from none of ``published`` (nor from any
        remote-tracking branch of ``remote``), parents first."""
        tracking = [f"--remotes={remote}"] if remote else []
        out = self._plumb(
            "rev-list", "--reverse", "--topo-order", head, "--not", *published, *tracking
        )
        return out.decode().split()

    def read_commit(self, sha: str) -> CommitObject:
        raw = self._plumb("cat-file", "commit", sha)
        header, _, message = raw.partition(b"\n\n")
        fields: dict[str, list[str]] = {}
        for line in header.decode("utf-8", "surrogateescape").split("\n"):
            key, _, value = line.partition(" ")
            if not line.startswith(" "):  # a continuation line (gpgsig) is not kept
                fields.setdefault(key, []).append(value)
        return CommitObject(
            tree=fields["tree"][0],
            parents=tuple(fields.get("parent", [])),
            author=fields["author"][0],
            committer=fields["committer"][0],
            message=message,
        )

    def write_commit(self, commit: CommitObject) -> str:
        """``commit-tree`` with the commit's own authorship and dates; its new sha."""
        parents = [arg for p in commit.parents for arg in ("-p", p)]
        env = {**_ident_env("AUTHOR", commit.author), **_ident_env("COMMITTER", commit.committer)}
        out = self._plumb("commit-tree", commit.tree, *parents, stdin=commit.message, env=env)
        return out.decode().strip()

    def read_blob(self, sha: str) -> bytes:
        return self._plumb("cat-file", "blob", sha)

    def root_blob(self, tree: str, name: str) -> str | None:
        """The blob sha of the file ``name`` at the root of ``tree`` (None: not there)."""
        for entry in self._plumb("ls-tree", "-z", tree).split(b"\0"):
            info, _, path = entry.partition(b"\t")
            if path == name.encode() and info.split()[1] == b"blob":
                return info.split()[2].decode()
        return None

    def tree_with_blob(self, tree: str, name: str, content: bytes) -> str:
        """``tree`` with its root file ``name`` holding ``content`` (mode kept)."""
        blob = self._plumb("hash-object", "-w", "--no-filters", "--stdin", stdin=content)
        entries = []
        for entry in self._plumb("ls-tree", "-z", tree).split(b"\0"):
            info, _, path = entry.partition(b"\t")
            if path == name.encode():
                mode, kind, _sha = info.split()
                info = b" ".join([mode, kind, blob.strip()])
            if entry:
                entries.append(info + b"\t" + path)
        return self._plumb("mktree", "-z", stdin=b"\0".join(entries) + b"\0").decode().strip()

    def retarget_tag(
        self, tag_object: str, commit: str, *, name: str | None = None, message: str | None = None
    ) -> str:
        """A new annotated tag object like ``tag_object`` (same tagger and date) pointing at
        ``commit``, optionally under another ``name`` and ``message``; no ref is written."""
        raw = self._plumb("cat-file", "tag", tag_object).decode("utf-8", "surrogateescape")
        header, _, old_message = raw.partition("\n\n")
        tagger = [line for line in header.split("\n") if line.startswith("tagger ")]
        old_name = next(line[4:] for line in header.split("\n") if line.startswith("tag "))
        text = (
            f"object {commit}\ntype commit\ntag {name or old_name}\n"
            + "".join(f"{line}\n" for line in tagger)
            + f"\n{old_message if message is None else message}"
        )
        return self._plumb("mktag", stdin=text.encode("utf-8", "surrogateescape")).decode().strip()

    def update_refs(self, updates: Sequence[tuple[str, str, str]]) -> None:
        """Move refs all together or not at all: ``(ref, new, old)``, ``new`` empty deletes,
        ``old`` empty means the ref must not exist yet."""
        lines = []
        for ref, new, old in updates:
            lines.append(f"update {ref} {new or ZERO} {old or ZERO}\n")
        self._plumb("update-ref", "--stdin", stdin="".join(lines).encode())

    def switch_tree(self, old: str, new: str) -> None:
        """Index and working tree from commit ``old``'s tree to ``new``'s, as a checkout does:
        only the paths that differ change; refused (nothing changed) if one has local edits."""
        try:
            self._plumb("update-index", "-q", "--refresh")
        except GitError:
            pass  # it fails when files are modified: the merge below judges them
        self._plumb("read-tree", "-m", "-u", old, new)
