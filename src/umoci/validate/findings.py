"""What ``umoci validate`` reports: findings with a stable check id, and their rendering.

A finding is ``error`` (the layout, image or bundle breaks a MUST of the
specifications, or cannot be used) or ``warning`` (legal but suspicious:
an unreferenced blob, a stale temporary file, an unusual annotation key).
``where`` is the descriptor path from ``index.json``, e.g.
``index.json → manifests[2] (tag v1) → layers[0]``.
"""

from __future__ import annotations

import json

from umoci.structs import dataclass, field
from umoci.validate.checks import CHECKS

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    level: str
    check: str
    where: str
    message: str

    def line(self) -> str:
        return f"{self.level} {self.check} {self.where}: {self.message}"

    def to_json(self) -> dict[str, str]:
        return {
            "level": self.level,
            "check": self.check,
            "where": self.where,
            "message": self.message,
        }


@dataclass
class Report:
    """The findings of one run, in the order they were found."""

    findings: list[Finding] = field(default_factory=list)
    blobs_checked: int = 0

    def error(self, check: str, where: str, message: str) -> None:
        self.add(ERROR, check, where, message)

    def warning(self, check: str, where: str, message: str) -> None:
        self.add(WARNING, check, where, message)

    def add(self, level: str, check: str, where: str, message: str) -> None:
        assert check in CHECKS, check
        self.findings.append(Finding(level, check, where, " ".join(message.split("\n"))))

    @property
    def errors(self) -> int:
        return sum(f.level == ERROR for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.level == WARNING for f in self.findings)

    def text(self) -> str:
        lines = [f.line() for f in self.findings]
        lines.append(
            f"{self.errors} error{'s' * (self.errors != 1)}, "
            f"{self.warnings} warning{'s' * (self.warnings != 1)} "
            f"({self.blobs_checked} blob{'s' * (self.blobs_checked != 1)} checked)"
        )
        return "\n".join(lines) + "\n"

    def json(self) -> str:
        return json.dumps([f.to_json() for f in self.findings], ensure_ascii=False) + "\n"
