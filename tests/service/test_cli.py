"""The CLI contract of design.md, driven as a script would: exit codes, --json, --yes,
--endpoint-url, and boto3's standard environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.moto_accounts import PROFILE_YAML, write_config
from wizard.cli import main


@pytest.fixture
def profile_file(tmp_path: Path) -> Path:
    path = tmp_path / "setup.yaml"
    path.write_text(PROFILE_YAML)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_plan_apply_verify_destroy_as_a_script(accounts, profile_file: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, "plan", str(profile_file), "--json")
    assert code == 0
    plan = json.loads(out)
    actions = {(c["account"], c["action"]) for c in plan["changes"]}
    assert ("owner", "create") in actions and ("consumer:222222222222", "create") in actions

    code, out, err = run(capsys, "apply", str(profile_file), "--yes", "--json")
    assert code == 0, err
    assert json.loads(out)["applied"] >= 7

    code, out, _ = run(capsys, "plan", str(profile_file), "--json")
    assert {c["action"] for c in json.loads(out)["changes"]} == {"none"}

    code, out, err = run(capsys, "verify", str(profile_file), "--json")
    assert code == 0, err
    assert json.loads(out)["state"] == "SUCCEEDED"

    code, out, err = run(capsys, "destroy", str(profile_file), "--yes", "--json")
    assert code == 0, err
    assert {c["action"] for c in json.loads(out)["changes"]} <= {"delete", "update"}
    code, out, _ = run(capsys, "plan", str(profile_file), "--json")
    assert "none" not in {c["action"] for c in json.loads(out)["changes"]
                          if c["resource"].startswith("athena data catalog")}


def test_human_output_shows_progress_on_stderr_and_the_plan_on_stdout(
        accounts, profile_file: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, "plan", str(profile_file), "--diff")
    assert code == 0
    assert "[owner]" in out and "+ create" in out and "changes to make" in out
    assert '"Sid": "XacctWizardSpill' in out  # policy diffs with --diff
    assert "checking credentials" in err


def test_apply_without_yes_and_without_a_terminal_refuses(accounts, profile_file: Path,
                                                         capsys) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(capsys, "apply", str(profile_file))
    assert code == 2
    assert "--yes" in err
    code, out, _ = run(capsys, "plan", str(profile_file), "--json")
    assert "none" not in {c["action"] for c in json.loads(out)["changes"]
                          if "bucket policy" in c["resource"]}


def test_endpoint_url_flag_reaches_every_call(accounts, profile_file: Path, capsys,
                                             monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Config file without endpoints, no AWS_ENDPOINT_URL: only --endpoint-url points at moto."""
    write_config(accounts.config_file, None,
                 ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
                 accounts.analyst_keys)
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    code, out, err = run(capsys, "apply", str(profile_file), "--yes", "--json",
                         "--endpoint-url", accounts.endpoint)
    assert code == 0, err
    code, out, err = run(capsys, "verify", str(profile_file), "--json",
                         "--endpoint-url", accounts.endpoint)
    assert code == 0, err
    assert json.loads(out)["state"] == "SUCCEEDED"
    code, _, err = run(capsys, "destroy", str(profile_file), "--yes",
                       "--endpoint-url", accounts.endpoint)
    assert code == 0, err


def test_invalid_profile_exits_2_naming_the_field(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.yaml"
    bad.write_text(PROFILE_YAML.replace('account_id: "222222222222"', 'account_id: "2222"'))
    for command in ("plan", "apply", "verify", "destroy"):
        code, out, err = run(capsys, command, str(bad), "--yes" if command in (
            "apply", "destroy") else "--json")
        assert code == 2
        assert "consumers[0].account_id" in err
        assert "Traceback" not in err and out == ""


def test_missing_profile_file_exits_2(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(capsys, "plan", str(tmp_path / "nope.yaml"))
    assert code == 2 and "nope.yaml" in err


def test_verify_as_a_user_without_keys_exits_2_and_says_what_to_add(
        accounts, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "p.yaml"
    path.write_text(PROFILE_YAML.replace("    query_credentials: {profile: analyst}\n", ""))
    assert run(capsys, "apply", str(path), "--yes")[0] == 0
    code, _, err = run(capsys, "verify", str(path))
    assert code == 2 and "query_credentials" in err


def test_usage_errors_exit_2(capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as exc:
        main(["plan"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2


def test_version(capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert "xacct-wizard" in capsys.readouterr().out
