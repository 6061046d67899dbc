"""The release the sandbox deploys: its source checkout's signed commits and the staging run of its commit.

- ``source/`` is committed with an SSH signature: a throwaway ed25519 key made in
  ``home/signing/`` signs it, and the checkout's own git configuration verifies it
  (``gpg.format ssh``, ``gpg.ssh.allowedSignersFile``), so ``git log --format=%G?``
  says ``G`` for every commit of a healthy sandbox. The signed head is tagged
  :data:`RELEASE_TAG`, which undoing a fault goes back to.
- ``home/staging/findings.json`` is the staging run of that commit, as the suite
  writes it (``commit``, ``summary``, ``failures``): a passed run, rewritten by reset.

Every git and ssh-keygen call is an argv list with a time limit.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from .errors import SandboxError

GIT_TIMEOUT_SECONDS = 30
RELEASE_TAG = "sandbox-release"
SIGNER = "sandbox@tsh.invalid"
IDENTITY = ["-c", "user.name=TSH sandbox", "-c", f"user.email={SIGNER}"]


def signing_dir(source_dir: Path) -> Path:
    """Where the throwaway signing key and the allowed-signers file of a sandbox's checkout live."""
    return source_dir.parent / "signing"


def staging_findings_file(home: Path) -> Path:
    """The staging run's findings.json the sandbox publishes (``TSH_SANDBOX_STAGING_FINDINGS``)."""
    return home / "staging" / "findings.json"


def run(argv: list[str], cwd: Path) -> str:
    """Run one bounded command; its stdout, or SandboxError naming it."""
    try:
        completed = subprocess.run(
            argv, cwd=cwd, check=True, capture_output=True, text=True, timeout=GIT_TIMEOUT_SECONDS
        )
    except subprocess.CalledProcessError as error:
        raise SandboxError(f"{' '.join(argv[:3])} failed in {cwd}: {error.stderr.strip()[-300:]}") from None
    except (OSError, subprocess.SubprocessError) as error:
        raise SandboxError(f"{' '.join(argv[:3])} failed in {cwd}: {error}") from None
    return completed.stdout


def configure_signing(source_dir: Path) -> None:
    """Make a signing key and have the checkout sign (and verify) its commits with it."""
    keys = signing_dir(source_dir)
    keys.mkdir(mode=0o700, exist_ok=True)
    key = keys / "release_key"
    if not key.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", SIGNER, "-f", str(key)], cwd=keys)
    public = (keys / "release_key.pub").read_text(encoding="utf-8").strip()
    allowed = keys / "allowed_signers"
    allowed.write_text(f'{SIGNER} namespaces="git" {public}\n', encoding="utf-8")
    for name, value in (
        ("gpg.format", "ssh"),
        ("user.signingkey", str(key)),
        ("gpg.ssh.allowedSignersFile", str(allowed)),
        ("commit.gpgsign", "true"),
    ):
        run(["git", "config", "--local", name, value], cwd=source_dir)


def head_commit(source_dir: Path) -> str:
    return run(["git", "rev-parse", "HEAD"], cwd=source_dir).strip()


def tag_release(source_dir: Path) -> None:
    run(["git", "tag", "--force", RELEASE_TAG], cwd=source_dir)


def commit_unsigned(source_dir: Path, message: str) -> str:
    """Add a commit without a signature (a change pushed from an unconfigured machine); its id."""
    notes = source_dir / "CHANGELOG.md"
    with notes.open("a", encoding="utf-8") as stream:
        stream.write(f"- {message}\n")
    run(["git", "add", "CHANGELOG.md"], cwd=source_dir)
    run(["git", *IDENTITY, "-c", "commit.gpgsign=false", "commit", "--quiet", "--message", message], cwd=source_dir)
    return head_commit(source_dir)


def signature_letters(source_dir: Path) -> list[str]:
    """``%G?`` of every commit of the checkout, newest first."""
    return run(["git", "log", "--format=%G?"], cwd=source_dir).split()


def restore_release(source_dir: Path) -> None:
    """Back to the signed release commit, when a fault moved the checkout past it."""
    if not (source_dir / ".git").exists():
        return
    tagged = run(["git", "rev-parse", f"{RELEASE_TAG}^{{commit}}"], cwd=source_dir).strip()
    if head_commit(source_dir) != tagged:
        run(["git", "reset", "--quiet", "--hard", RELEASE_TAG], cwd=source_dir)


def write_staging_findings(home: Path, commit: str, failures: list[dict] | None = None) -> Path:
    """The staging run of ``commit`` as the suite writes findings.json: passed, or with ``failures``."""
    failures = failures or []
    healed = sum(1 for failure in failures if failure.get("healed") is True)
    document = {
        "target": "staging",
        "commit": commit,
        "summary": {"passed": 60, "failed": len(failures), "healed": healed},
        "interrupted": False,
        "failures": failures,
    }
    path = staging_findings_file(home)
    path.parent.mkdir(exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)
    return path


def read_staging_findings(home: Path) -> dict:
    path = staging_findings_file(home)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def restore_staging_findings(home: Path, source_dir: Path) -> None:
    """The passed staging run of the checkout's commit (start and reset)."""
    if (source_dir / ".git").exists():
        write_staging_findings(home, head_commit(source_dir))
