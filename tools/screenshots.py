"""Regenerate docs/01-start.png ... docs/08-finish.png from the running wizard on the sandbox.

    Xvfb :99 -screen 0 1280x900x24 &
    DISPLAY=:99 .venv/bin/python tools/screenshots.py            # or QT_QPA_PLATFORM=offscreen

It clicks through the real window exactly as a user would (the same pages, engine and worker
threads as ``xacct-wizard --sandbox``), waits on each page until its work is done, and saves a
grab of the whole window. Before starting it adds a statement of "another team" to the spill
bucket's policy, so the Review page shows what it promises: other statements kept. At the end
it cleans the setup up again through the Finish page (``--keep`` leaves it).

Also prints the time from process start to the first page being ready.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

STARTED = time.perf_counter()
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHOTS = ["01-start", "02-accounts", "03-connector", "04-access", "05-review", "06-apply",
         "07-query", "08-finish"]


def other_team_statement(spill_bucket: str) -> None:
    """A bucket policy statement that is not ours, as a shared bucket would have."""
    import boto3

    s3 = boto3.Session(profile_name="sandbox-owner", region_name="us-east-1").client("s3")
    policy = {"Version": "2012-10-17", "Statement": [{
        "Sid": "AnalyticsTeamRead", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
        "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{spill_bucket}/reports/*"}]}
    s3.put_bucket_policy(Bucket=spill_bucket, Policy=json.dumps(policy))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--size", default="1120x800", help="window size WxH")
    parser.add_argument("--keep", action="store_true", help="do not clean up at the end")
    parser.add_argument("--dark", action="store_true",
                        help="a dark palette (to check the colours follow it)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    width, height = (int(v) for v in args.size.split("x"))

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    app = QApplication(sys.argv[:1])
    if args.dark:
        from PySide6.QtGui import QColor, QPalette

        app.setStyle("Fusion")
        pal = QPalette()
        for role, color in ((QPalette.ColorRole.Window, "#2b2b2b"),
                            (QPalette.ColorRole.WindowText, "#e6e6e6"),
                            (QPalette.ColorRole.Base, "#1e1e1e"),
                            (QPalette.ColorRole.AlternateBase, "#262626"),
                            (QPalette.ColorRole.Text, "#e6e6e6"),
                            (QPalette.ColorRole.Button, "#353535"),
                            (QPalette.ColorRole.ButtonText, "#e6e6e6"),
                            (QPalette.ColorRole.Highlight, "#3d6fb4"),
                            (QPalette.ColorRole.Link, "#8ab4f8")):
            pal.setColor(role, QColor(color))
        app.setPalette(pal)
    from ui.app import build, shutdown, start_background
    from ui.backend import Backend
    from ui.pages.base import START
    from wizard.sandbox import sandbox_env

    Wait = tuple[str, Callable[[], bool], float]  # what, until, timeout (s)

    def pause(seconds: float) -> Wait:
        end = time.monotonic() + seconds
        return ("a pause", lambda: time.monotonic() >= end, seconds + 1)

    with sandbox_env() as info:
        print(f"sandbox at {info.endpoint_url}", file=sys.stderr)
        profile_text = info.example_profile.read_text("utf-8")
        bucket = next(line.split(":", 1)[1].strip() for line in profile_text.splitlines()
                      if line.strip().startswith("spill_bucket:"))
        window, ctx = build(Backend(poll_delay=0.5), sandbox=True, read_sources=False)
        window.resize(width, height)
        window.show()
        other_team_statement(bucket)

        def shot(name: str) -> None:
            path = args.out / f"{name}.png"
            window.grab().save(str(path))
            print(f"wrote {path}", file=sys.stderr)

        def scenario() -> Iterator[Wait]:
            """The user's clicks, as steps that each wait for the window to be ready."""
            start = window.pages[START]
            yield ("the start page", start.isComplete, 30)
            print(f"first page ready after {time.perf_counter() - STARTED:.2f} s "
                  "(from process start, including the sandbox)", file=sys.stderr)
            start_background(ctx)
            yield pause(0.5)
            shot(SHOTS[0])
            waits: list[tuple[str, Callable[[Any], bool]]] = [
                ("both credential checks", lambda p: p.owner.check_state == "ok"
                 and p.consumer.check_state == "ok"),
                ("versions and buckets", lambda p: p.version.count() > 1
                 and p.bucket.count() > 0),
                ("principals", lambda p: p.principal.count() > 0),
                ("the plan", lambda p: p.isComplete()),
                ("apply", lambda p: ctx.state.applied or p.failure.isVisible()),
                ("the test query", lambda p: (p.model.complete and p.model.rowCount() > 0)
                 or bool(p.error.plain)),
                ("the summary", lambda p: p.summary.topLevelItemCount() > 0 and not p.busy),
            ]
            for name, (what, ready) in zip(SHOTS[1:], waits, strict=True):
                page = window.currentPage()
                yield (f"Next on {type(page).__name__}", page.isComplete, 120)
                current = window.currentId()
                window.next()
                yield ("the next page", lambda c=current: window.currentId() != c, 30)
                page = window.currentPage()
                yield (what, lambda p=page, r=ready: r(p), 180)
                yield pause(0.6)
                shot(name)
            if not args.keep:
                finish = window.currentPage()
                QMessageBox.exec = lambda self: QMessageBox.StandardButton.Yes  # type: ignore
                finish.ask_cleanup()
                yield ("the clean-up", lambda: finish.cleaned and not finish.busy, 180)
                print("cleaned up", file=sys.stderr)

        # One event loop, driven by a timer: PySide6 6.12 leaks a reference to None on every
        # processEvents()/qWait() call, so a script must not spin those in a loop.
        steps = scenario()
        state: dict[str, Any] = {"wait": next(steps), "since": time.monotonic(), "rc": 0}

        def tick() -> None:
            what, until, timeout = state["wait"]
            if until():
                try:
                    state["wait"] = next(steps)
                    state["since"] = time.monotonic()
                except StopIteration:
                    timer.stop()
                    app.quit()
            elif time.monotonic() - state["since"] > timeout:
                print(f"timed out waiting for {what}", file=sys.stderr)
                state["rc"] = 1
                timer.stop()
                app.quit()

        timer = QTimer()
        timer.timeout.connect(tick)
        timer.start(50)
        app.exec()
        window.hide()  # not close(): that would ask about a setup the tool never saved
        shutdown(ctx)
    return int(state["rc"])


if __name__ == "__main__":
    os.environ.setdefault("XACCT_WIZARD_HOME", str(Path("/tmp") / f"xacct-shots-{os.getpid()}"))
    sys.exit(main())
