"""The SSH key cpv hands to git (``GIT_SSH_COMMAND``, built in :mod:`cpv._git.repo`).

cpv checks that the key exists and is private, and can create an ed25519 key with
``ssh-keygen``. Host keys are never accepted silently (``StrictHostKeyChecking=yes``).
"""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

from pydantic import BaseModel

from cpv.domain.errors import SshKeyError, UsageError


class SshKeyStatus(BaseModel):
    path: str
    ok: bool
    message: str
    hint: str = ""
    mode: str | None = None
    public_key: str | None = None


def default_key_path() -> Path:
    return Path.home() / ".ssh" / "id_ed25519"


def check_key(path: str | Path) -> SshKeyStatus:
    """Whether ``path`` is a private key that only its owner can read."""
    key = Path(path).expanduser()
    if not key.is_file():
        return SshKeyStatus(
            path=str(key),
            ok=False,
            message=f"SSH key {key} does not exist",
            hint="Generate one with `cpv configure` (ed25519) or point --ssh-key at your key.",
        )
    mode = stat.S_IMODE(key.stat().st_mode)
    pub = key.with_name(key.name + ".pub")
    public = pub.read_text(encoding="utf-8").strip() if pub.is_file() else None
    if mode & 0o077:
        return SshKeyStatus(
            path=str(key),
            ok=False,
            mode=f"{mode:04o}",
            public_key=public,
            message=f"SSH key {key} is readable by others (mode {mode:04o}); ssh will refuse it",
            hint=f"Run: chmod 600 {key}",
        )
    try:
        head = key.read_text(encoding="utf-8", errors="replace")[:64]
    except OSError as exc:
        return SshKeyStatus(path=str(key), ok=False, message=f"cannot read {key}: {exc.strerror}")
    if "PRIVATE KEY" not in head:
        return SshKeyStatus(
            path=str(key),
            ok=False,
            mode=f"{mode:04o}",
            message=f"{key} is not a private key",
            hint="Point --ssh-key at the private key file (not the .pub).",
        )
    return SshKeyStatus(
        path=str(key),
        ok=True,
        mode=f"{mode:04o}",
        public_key=public,
        message=f"SSH key {key} is private",
    )


def generate_key(path: str | Path, *, comment: str = "cpv") -> str:
    """Create an ed25519 key pair at ``path`` (no passphrase) and return the public key.

    Raises:
        UsageError: a file already exists there (cpv never overwrites a key).
        SshKeyError: ssh-keygen is missing or failed.
    """
    key = Path(path).expanduser()
    if key.exists() or key.with_name(key.name + ".pub").exists():
        raise UsageError(
            f"{key} already exists; cpv never overwrites a key", hint="Choose another path."
        )
    exe = shutil.which("ssh-keygen")
    if exe is None:
        raise SshKeyError(
            "ssh-keygen not found", hint="Install OpenSSH, or create the key yourself."
        )
    if not key.parent.exists():
        key.parent.mkdir(parents=True, mode=0o700)
        key.parent.chmod(0o700)
    proc = subprocess.run(
        [exe, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(key)],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise SshKeyError(f"ssh-keygen failed: {detail[-1] if detail else proc.returncode}")
    return key.with_name(key.name + ".pub").read_text(encoding="utf-8").strip()
