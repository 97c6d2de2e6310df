"""What the window remembers between runs: its geometry, the recent profiles, the last one.

A small JSON file under ``wizard.paths.config_dir()`` rather than QSettings, so it sits beside
the rest of the tool's files (and XACCT_WIZARD_HOME moves it for tests), and is written
atomically so a crash never leaves half a file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from wizard.paths import atomic_write, config_dir

MAX_RECENT = 8


@dataclass
class GuiSettings:
    geometry: str = ""  # base64 of QWidget.saveGeometry()
    recent: list[str] = field(default_factory=list)
    last_profile: str = ""
    last_folder: str = ""  # where the last profile was opened or saved

    @staticmethod
    def path() -> Path:
        return config_dir() / "gui.json"

    @classmethod
    def load(cls) -> GuiSettings:
        """Never fails: unreadable or foreign content just means starting fresh."""
        try:
            data = json.loads(cls.path().read_text("utf-8"))
        except (OSError, ValueError):
            return cls()
        if not isinstance(data, dict):
            return cls()
        recent = data.get("recent")
        return cls(
            geometry=str(data.get("geometry") or ""),
            recent=[str(p) for p in recent][:MAX_RECENT] if isinstance(recent, list) else [],
            last_profile=str(data.get("last_profile") or ""),
            last_folder=str(data.get("last_folder") or ""),
        )

    def save(self) -> None:
        try:
            atomic_write(self.path(), json.dumps(asdict(self), indent=2))
        except OSError:
            pass  # a read-only config dir must not break the wizard

    def remember(self, profile_path: str | Path) -> None:
        """Put a profile at the top of the recent list and make it the last one used."""
        p = str(Path(profile_path).expanduser().resolve())
        self.recent = [p] + [r for r in self.recent if r != p]
        self.recent = self.recent[:MAX_RECENT]
        self.last_profile = p
        self.last_folder = str(Path(p).parent)

    def save_folder(self) -> Path:
        """Where a save dialog opens: the last folder used, else where profiles live."""
        from wizard.paths import profiles_dir

        last = Path(self.last_folder) if self.last_folder else None
        return last if last is not None and last.is_dir() else profiles_dir()
