"""The only module with a repository's git operations (git's own CLI, through
:func:`cpv._git.exec.git_exec`).

Everything here is in git terms (commits, refs, tags); the managers translate them to
versions.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cpv._git.errors import push_error, remote_error
from cpv._git.exec import (  # noqa: F401  (the adapter's one door: callers use cpv._git.repo)
    GitFailure,
    clone,
    find_root,
    git_bytes,
    git_error,
    git_exec,
    init_bare,
    ls_remote,
    network_env,
    refuse_option,
)
from cpv._git.history import HistoryMethods
from cpv.domain.errors import GitError, GitLockedError


@dataclass(frozen=True)
class TagRef:
    name: str  # without refs/tags/
    obj: str  # the tag object itself (differs between two tags of one name made apart)
    commit: str  # the commit the tag points to (peeled)
    contents: str  # the annotated tag's message ("" for lightweight tags)


class GitRepo(HistoryMethods):
    """A working-tree repository at ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def init(cls, root: Path) -> GitRepo:
        root.mkdir(parents=True, exist_ok=True)
        try:
            git_exec(["init", "-q", "--initial-branch=main"], cwd=root)
        except GitFailure as exc:
            raise git_error(exc, "git init") from exc
        return cls(root)

    def _git(
        self, *args: str, env: Mapping[str, str] | None = None, stdin: bytes | None = None
    ) -> str:
        """``git ARGS`` here; a failure stays a :class:`GitFailure` for the caller to read."""
        return git_exec(args, cwd=self.root, env=env, stdin=stdin)

    def run(self, *args: str, env: dict[str, str] | None = None, what: str | None = None) -> str:
        try:
            return self._git(*args, env=env)
        except GitFailure as exc:
            raise git_error(exc, what or f"git {args[0]}") from exc

    @property
    def git_dir(self) -> Path:
        return self.root / ".git"

    # --- commits -----------------------------------------------------------------
    def head_commit(self) -> str | None:
        try:
            return self.run("rev-parse", "--verify", "-q", "HEAD")
        except GitError:
            return None

    def resolve(self, ref: str) -> str | None:
        """The commit ``ref`` names here, or None when there is no such ref."""
        try:
            return self.run("rev-parse", "--verify", "-q", f"{ref}^{{commit}}")
        except GitError:
            return None

    def current_branch(self) -> str:
        try:
            return self.run("symbolic-ref", "--short", "-q", "HEAD")
        except GitError as exc:
            raise GitError(
                "HEAD is detached (not on a branch): a new version would belong to no branch",
                hint="Check out a branch first, e.g. `git checkout main`; use `cpv pull VERSION` "
                "or `cpv revert VERSION` to work with an older version.",
            ) from exc

    def identity(self) -> str:
        try:
            ident = self.run("var", "GIT_AUTHOR_IDENT")
        except GitError as exc:
            raise GitError(
                "git has no user identity",
                hint='Set one: git config --global user.name "You" && '
                "git config --global user.email you@example.com",
            ) from exc
        return ident.rsplit(" ", 2)[0]

    def commit_all(self, message: str) -> str:
        self.run("add", "-A")
        self.run("commit", "-q", "--no-verify", "-m", message, what="git commit")
        return self.run("rev-parse", "HEAD")

    def commit_paths(self, paths: Sequence[str], message: str) -> str:
        """Commit exactly ``paths`` (other staged changes stay staged, uncommitted)."""
        self.run("add", "--", *paths)
        self.run(
            "commit", "-q", "--no-verify", "--only", "-m", message, "--", *paths, what="git commit"
        )
        return self.run("rev-parse", "HEAD")

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        try:
            self._git("merge-base", "--is-ancestor", ancestor, descendant)
            return True
        except GitFailure:
            return False

    def show_file(self, rev: str, path: str) -> str | None:
        try:
            return self.run("show", f"{rev}:{path}")
        except GitError:
            return None

    def read_files(self, specs: Sequence[str]) -> list[str | None]:
        """What :meth:`show_file` gives for each ``REV:PATH`` of ``specs`` (None: no such
        file), read by one ``git cat-file --batch`` whatever their number."""
        if not specs:
            return []
        if any("\n" in s for s in specs):  # one spec a line: such a path is never a pointer
            return [None if "\n" in s else self.show_file(*s.split(":", 1)) for s in specs]
        try:
            out = git_bytes(
                ["cat-file", "--batch"],
                cwd=self.root,
                stdin="".join(f"{s}\n" for s in specs).encode(),
            )
        except GitFailure as exc:
            raise git_error(exc, "git cat-file") from exc
        found: list[str | None] = []
        at = 0
        for _ in specs:
            end = out.index(b"\n", at)
            header = out[at:end].split(b" ")
            at = end + 1
            if len(header) != 3 or not header[2].isdigit():  # "<spec> missing"
                found.append(None)
                continue
            size = int(header[2])
            body, at = out[at : at + size], at + size + 1
            if header[1] != b"blob":  # a folder or a submodule by that name: not a file
                found.append(None)
                continue
            text = body.decode("utf-8", "replace")
            found.append(text[:-1] if text.endswith("\n") else text)
        return found

    def changed_paths(self, paths: Sequence[str]) -> list[str]:
        """Tracked paths among ``paths`` that differ from HEAD (staged or not)."""
        out = self.run("status", "--porcelain", "--untracked-files=no", "--", *paths)
        return [line[3:] for line in out.splitlines() if line.strip()]

    def modified_tracked(self) -> list[str]:
        """Tracked paths whose index or working tree differs from HEAD (untracked excluded)."""
        out = self.run("status", "--porcelain", "-z", "--untracked-files=no")
        entries = iter(out.split("\0"))
        paths = []
        for entry in entries:
            if len(entry) > 3:
                paths.append(entry[3:])
                if entry[0] in "RC":
                    paths.append(next(entries, ""))  # a rename's source path comes next
        return sorted({p for p in paths if p})

    def committable(self, paths: Sequence[str]) -> list[str]:
        """Those of ``paths`` that are files on disk and either tracked or untracked but
        not ignored (``paths`` taken literally, never as patterns)."""
        if not paths:
            return []
        args = ["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *paths]
        listed = set(self.run("--literal-pathspecs", *args, what="git ls-files").split("\0"))
        return [p for p in paths if p in listed and (self.root / p).is_file()]

    def index_entries(self, paths: Sequence[str]) -> dict[str, str]:
        """path -> ``"<mode> <sha>"`` of its index entry, ``""`` when it has none."""
        entries = dict.fromkeys(paths, "")
        if paths:
            out = self.run(
                "--literal-pathspecs", "ls-files", "-z", "-s", "--", *paths, what="git ls-files"
            )
            for line in out.split("\0"):
                info, _, path = line.partition("\t")
                if path in entries and info:
                    mode, sha, _stage = info.split()
                    entries[path] = f"{mode} {sha}"
        return entries

    def set_index_entries(self, entries: Mapping[str, str]) -> None:
        """Put index entries back as :meth:`index_entries` read them; files are untouched."""
        for path, entry in entries.items():
            if len(entry.split()) == 2:
                mode, sha = entry.split()
                self.run("update-index", "--add", "--cacheinfo", f"{mode},{sha},{path}")
            elif not entry:
                self.run("update-index", "--force-remove", "--", path)

    def restore_paths(self, rev: str, paths: Sequence[str]) -> None:
        """Index and working tree of ``paths`` back to ``rev``; paths absent there are removed."""
        for path in paths:
            content = self.show_file(rev, path)
            if content is not None:
                try:
                    self.run("checkout", rev, "--", path)
                except GitLockedError:
                    # the index is locked: at least the working tree gets its bytes back
                    blob = self._plumb("cat-file", "blob", f"{rev}:{path}")
                    (self.root / path).write_bytes(blob)
            else:
                self.run("rm", "-q", "--cached", "--ignore-unmatch", "--", path)
                (self.root / path).unlink(missing_ok=True)

    def reset_branch(self, commit: str) -> None:
        """Move the current branch to ``commit`` without touching the working tree."""
        self.run("reset", "-q", "--soft", commit)

    def write_backup_commit(self, files: dict[str, str], message: str, ref: str) -> str:
        """Store ``files`` in a commit reachable from ``ref`` only (not on any branch)."""
        try:
            entries = []
            for name, content in files.items():
                blob = self._git("hash-object", "-w", "--stdin", stdin=content.encode("utf-8"))
                entries.append(f"100644 blob {blob}\t{name}")
            tree = self._git("mktree", stdin=("\n".join(entries) + "\n").encode())
            head = self.head_commit()
            parents = ["-p", head] if head else []
            sha = self._git("commit-tree", tree, *parents, "-m", message)
            self._git("update-ref", ref, sha, "0" * 40)  # create only: never overwrite a backup
            return sha
        except GitFailure as exc:
            raise git_error(exc, "writing a backup commit") from exc

    def commit_object(self, files: Mapping[str, str], message: str) -> str:
        """A parentless commit of ``files`` (name -> text) reachable from no ref: a token or
        a journal to push under a ref of cpv's own."""
        try:
            entries = []
            for name, content in sorted(files.items()):
                blob = self._git("hash-object", "-w", "--stdin", stdin=content.encode("utf-8"))
                entries.append(f"100644 blob {blob}\t{name}")
            tree = self._git("mktree", stdin=("\n".join(entries) + "\n").encode())
            return self._git("commit-tree", tree, "-m", message)
        except GitFailure as exc:
            raise git_error(exc, "writing a commit object") from exc

    def delete_refs_under(self, namespace: str) -> None:
        """Delete every ref under ``namespace`` (a private copy of a remote's refs)."""
        names = self.run("for-each-ref", "--format=%(refname)", namespace).split()
        if names:
            cmds = "".join(f"delete {n}\n" for n in names)
            try:
                self._git("update-ref", "--stdin", stdin=cmds.encode())
            except GitFailure as exc:
                raise git_error(exc, "deleting refs") from exc

    # --- tags --------------------------------------------------------------------
    def create_tag(self, name: str, message: str, commit: str) -> None:
        with tempfile.NamedTemporaryFile("w", delete=False, encoding="utf-8") as fh:
            fh.write(message)
        try:
            self.run(
                "tag",
                "-a",
                "--no-sign",
                "--cleanup=verbatim",
                "-F",
                fh.name,
                name,
                commit,
                what=f"creating tag {name}",
            )
        finally:
            os.unlink(fh.name)

    def delete_tag(self, name: str) -> None:
        self.run("tag", "-d", name)

    def tag_commit(self, name: str) -> str | None:
        try:
            return self.run("rev-parse", "--verify", "-q", f"refs/tags/{name}^{{commit}}")
        except GitError:
            return None

    def list_tags(
        self, *prefixes: str, namespace: str = "refs/tags", highest: int | None = None
    ) -> list[TagRef]:
        """Every tag under ``<namespace>/<prefix>`` with its message, in one git call
        (``namespace``: where a copy of another repository's tags was fetched; ``highest``:
        only that many, the highest names by git's version sort, ``v0.10`` above ``v0.9``)."""
        depth = namespace.count("/") + 1
        fmt = f"%(refname:strip={depth})%00%(objectname)%00%(*objectname)%00%(contents)%00%1e"
        top = ["--sort=-version:refname", f"--count={highest}"] if highest else []
        patterns = [f"{namespace}/{p}" for p in prefixes]
        out = self.run("for-each-ref", *top, f"--format={fmt}", *patterns)
        tags = []
        for chunk in out.split("\x1e"):
            chunk = chunk.lstrip("\n")
            if not chunk:
                continue
            parts = chunk.split("\x00")
            if len(parts) < 4:
                continue
            name, obj, peeled, contents = parts[0], parts[1], parts[2], parts[3]
            tags.append(TagRef(name=name, obj=obj, commit=peeled or obj, contents=contents))
        return tags

    # --- remotes -----------------------------------------------------------------
    def set_remote(self, name: str, url: str) -> None:
        refuse_option(url)
        action = "set-url" if name in self.run("remote").split() else "add"
        self.run("remote", action, name, url)

    def remote_url(self, name: str) -> str | None:
        try:
            return self.run("remote", "get-url", name)
        except GitError:
            return None

    def fetch(
        self, remote: str, *refspecs: str, depth: int | None = None, fetch_head: bool = True
    ) -> None:
        """``git fetch`` of ``refspecs`` (``depth``: shallow, that many commits of history;
        ``fetch_head=False``: not even ``FETCH_HEAD`` is written)."""
        shallow = [f"--depth={depth}"] if depth else []
        quiet = [] if fetch_head else ["--no-write-fetch-head"]
        try:
            self._git(
                "fetch", "-q", "--no-tags", *shallow, *quiet, remote, *refspecs, env=network_env()
            )
        except GitFailure as exc:
            raise remote_error(exc, self.remote_url(remote) or remote) from exc

    def push_atomic(
        self, remote: str, refspecs: Sequence[str], *, leases: Mapping[str, str] | None = None
    ) -> None:
        """``git push --atomic``: all refs or none. Never forces, except the refs in
        ``leases`` (ref -> the sha the remote must hold now, "" for none): those are set
        only if the remote still holds that value (a compare-and-swap on the server).

        Raises:
            PushRejectedError: the remote moved meanwhile (fetch, integrate, try again).
            HookRejectedError: a server-side hook refused the push (its text attached).
            RemoteError: the remote is missing, unreachable or refused us.
        """
        try:
            guard = [f"--force-with-lease={ref}:{sha}" for ref, sha in (leases or {}).items()]
            self._git(
                "push", "--atomic", "--porcelain", *guard, remote, *refspecs, env=network_env()
            )
        except GitFailure as exc:
            raise push_error(exc, self.remote_url(remote) or remote) from exc

    def merge(self, ref: str, message: str, *, ours_wins: Sequence[str] = ()) -> None:
        """Merge ``ref``; conflicts in ``ours_wins`` paths take our side, any other conflict
        aborts the merge (leaving the branch as it was) and raises."""
        try:
            self._git("merge", "-q", "--no-edit", "--no-ff", "-m", message, ref)
            return
        except GitFailure as exc:
            conflicted = self.run("diff", "--name-only", "--diff-filter=U").split()
            if conflicted and set(conflicted) <= set(ours_wins):
                self.run("checkout", "--ours", "--", *conflicted)
                self.run("add", "--", *conflicted)
                self.run("commit", "-q", "--no-edit", "--no-verify", what="git commit")
                return
            try:
                self._git("merge", "--abort")
            except GitFailure:
                pass
            if conflicted:
                raise GitError(
                    f"merging {ref} conflicts in {', '.join(conflicted)}",
                    hint=f"Someone else changed the same files: merge {ref} yourself "
                    "(git merge), then run the command again.",
                ) from exc
            raise git_error(exc, f"merging {ref}") from exc
