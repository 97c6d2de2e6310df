"""Export a setup as infrastructure as code: CloudFormation, Terraform, or an AWS CLI script.

The export reads the profile and the live state of both accounts (read-only calls through the
wizard's own steps), so the code it writes deploys the same documents ``apply`` would, and the
spill bucket policy it writes keeps every statement the live one had.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wizard.errors import InvalidInput
from wizard.export.model import BUCKET_POLICY_WARNING, SetupModel, read_setup

FORMATS = ("cloudformation", "terraform", "cli")

# What must never appear in an exported file: access keys, secrets, local absolute paths.
_LEAKS = [
    (re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b"), "an access key id"),
    (re.compile(r"(?i)(secret_access_key|session_token)[\"']?\s*[=:]\s*[\"']?[A-Za-z0-9/+=]{16}"),
     "a secret key"),
    (re.compile(r"(?<![A-Za-z0-9:/$])/(home|root|tmp|Users|var/folders|private)/"),
     "an absolute local path"),
    (re.compile(r"\b[A-Za-z]:\\\\"), "a Windows path"),
]


@dataclass
class ExportResult:
    format: str
    files: list[Path]
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"format": self.format, "files": [str(f) for f in self.files],
                "warnings": list(self.warnings)}


def check_no_leaks(text: str, secrets: list[str] | None = None) -> list[str]:
    """What in ``text`` looks like a secret or a local path (empty: nothing)."""
    found = [what for rx, what in _LEAKS if rx.search(text)]
    found += ["a known secret" for s in secrets or [] if s and s in text]
    return found


def render(model: SetupModel, fmt: str, out: Path) -> list[Path]:
    """Write ``model`` in ``fmt`` under ``out``; returns the files written."""
    from wizard.export import cli_script, cloudformation, terraform

    writers: dict[str, Callable[[SetupModel, Path], list[Path]]] = {
        "cloudformation": cloudformation.write, "terraform": terraform.write,
        "cli": cli_script.write}
    if fmt not in writers:
        raise InvalidInput(f"Unknown export format {fmt!r}.",
                           fix=f"Use one of: {', '.join(FORMATS)}.")
    files = writers[fmt](model, out)
    for f in files:
        leaks = check_no_leaks(f.read_text("utf-8"))
        if leaks:
            f.unlink()
            raise InvalidInput(f"Refusing to write {f.name}: it would contain "
                               f"{', '.join(leaks)}.",
                               fix="Check the profile for values that are secrets or paths.")
    return files


def export(engine: Any, fmt: str, out: Path, profile_name: str) -> ExportResult:
    """Read the live setup through ``engine`` and write it in ``fmt`` under ``out``."""
    if fmt not in FORMATS:
        raise InvalidInput(f"Unknown export format {fmt!r}.",
                           fix=f"Use one of: {', '.join(FORMATS)}.")
    model = read_setup(engine, Path(profile_name).name)
    files = render(model, fmt, Path(out))
    return ExportResult(fmt, files, list(model.warnings))


__all__ = ["BUCKET_POLICY_WARNING", "FORMATS", "ExportResult", "SetupModel", "check_no_leaks",
           "export", "read_setup", "render"]
