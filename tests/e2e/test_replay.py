"""e2e: ``shopctl replay`` on the scenarios of tests/scenarios/."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import Shopctl, clean_environ, run_at_a_terminal
from tests.e2e.test_foundation import seed

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def scenario(name: str) -> str:
    return str(SCENARIOS / name)


def test_replay_passes(shopctl: Shopctl, db_url: str) -> None:
    seed(db_url)
    result = shopctl(
        "replay", scenario("browse.yaml"), scenario("browse.json"), "--var", "sku=MUG-1", "--json"
    )
    assert result.exit_code == 0, result
    report = result.json()
    assert report["ok"] is True and report["failed"] == 0
    assert report["passed"] == 7
    assert [s["exit_code"] for s in report["steps"]][:4] == [0, 0, 0, 5]
    assert report["steps"][1]["command"] == "products get TEA-1 --json"
    assert "7 step(s) passed" in result.stderr


def test_replay_table_report(shopctl: Shopctl, db_url: str) -> None:
    seed(db_url)
    result = shopctl("replay", scenario("browse.json"))
    assert result.exit_code == 0, result
    assert "browse.json:5" in result.stdout and "products get TEA-1" in result.stdout


def test_replay_steps_inherit_the_database_url_flag(shopctl: Shopctl, db_url: str) -> None:
    seed(db_url)
    result = shopctl(
        "--database-url",
        db_url,
        "replay",
        scenario("browse.json"),
        SHOPCTL_DATABASE_URL="postgresql://nobody@127.0.0.1:1/nowhere",
    )
    assert result.exit_code == 0, result


def test_replay_wrong_expectation_exits_9(shopctl: Shopctl, db_url: str) -> None:
    seed(db_url)
    result = shopctl("replay", scenario("wrong_expectation.yaml"), "--json")
    assert result.exit_code == 9, result
    report = result.json()
    assert report["ok"] is False and len(report["steps"]) == 1  # stopped at the failure
    assert 'price: expected "5.00", got "4.50"' in report["failure"]
    assert result.stderr.startswith("error: ")
    assert "wrong_expectation.yaml:2: step 1" in result.stderr


def test_replay_malformed_file_exits_2_with_the_line(shopctl: Shopctl, db_url: str) -> None:
    result = shopctl("replay", scenario("malformed.yaml"))
    assert result.exit_code == 2, result
    assert result.stdout == ""
    assert "malformed.yaml:3: step 2: unknown key(s) expext" in result.stderr
    assert "Traceback" not in result.stderr


def test_replay_bad_input(shopctl: Shopctl, tmp_path: Path) -> None:
    missing_var = shopctl("replay", scenario("browse.yaml"))
    assert missing_var.exit_code == 2 and "--var sku=" in missing_var.stderr
    missing_file = shopctl("replay", str(tmp_path / "nope.yaml"))
    assert missing_file.exit_code == 2 and "cannot read scenario" in missing_file.stderr
    broken = tmp_path / "broken.json"
    broken.write_text('[{"run": "products list"},\n  {"run": "x"]\n')
    invalid = shopctl("replay", str(broken))
    assert invalid.exit_code == 2 and "broken.json:2: not valid YAML/JSON" in invalid.stderr


def test_replay_from_stdin(shopctl: Shopctl, db_url: str) -> None:
    seed(db_url)
    result = shopctl("replay", "-", input="- run: products get TEA-1 --json\n  id: tea\n")
    assert result.exit_code == 0, result
    assert "<stdin>:1" in result.stdout


def test_a_step_that_keeps_or_checks_json_gets_it_without_asking(
    shopctl: Shopctl, db_url: str
) -> None:
    seed(db_url)
    steps = (
        "- run: products get TEA-1\n  id: tea\n"
        "- run: products get ${tea.sku}\n  expect: {json: {sku: TEA-1}}\n"
        "- run: products get TEA-1 --json\n  expect: {json: {sku: TEA-1}}\n"  # still accepted
        "- run: products get TEA-1\n  expect: {stdout: TEA-1}\n"  # a table, as asked
    )
    result = shopctl("replay", "-", "--json", input=steps)
    assert result.exit_code == 0, result
    assert result.json()["passed"] == 4


def test_replay_a_purchase_that_buys_the_last_units(shopctl: Shopctl) -> None:
    result = shopctl("replay", scenario("buy_last_units.yaml"), "--json")
    assert result.exit_code == 0, result
    report = result.json()
    assert report["ok"] is True and report["passed"] == 16
    exits = {s["title"]: s["exit_code"] for s in report["steps"]}
    assert exits["the units are reserved for alice"] == 6
    assert exits["a declined card leaves the order payable"] == 7
    # the steps ran as their profiles: each kept its own session
    whoami = shopctl("users", "whoami", "--json", profile="alice")
    assert whoami.json()["email"] == "alice@example.com"


def test_the_demo_purchase_example_passes(shopctl: Shopctl, admin: str) -> None:
    for sku in ("CUP-1", "POT-1", "TEA-1"):  # the example needs three products in stock
        created = shopctl(
            "products",
            "create",
            "--sku",
            sku,
            "--name",
            sku,
            "--price",
            "2.00",
            "--stock",
            "5",
            profile=admin,
        )
        assert created.exit_code == 0, created
    examples = Path(__file__).resolve().parents[2] / "examples"
    result = shopctl("replay", str(examples / "purchase.yaml"), "--json")
    assert result.exit_code == 0, result
    assert result.json()["passed"] == len(result.json()["steps"])


def test_replay_captures_what_click_prints(shopctl: Shopctl) -> None:
    scenario_text = (
        "- run: --version\n  expect: {stdout: 'shopctl '}\n"
        "- run: products get\n  expect: {exit: 2, stderr: Missing argument}\n"
    )
    result = shopctl("replay", "-", "--json", input=scenario_text)
    assert result.exit_code == 0, result
    assert result.json()["passed"] == 2  # stdout is the report alone


def test_replay_of_stdin_typed_at_a_terminal_gets_a_hint(
    shopctl: Shopctl, db_url: str, tmp_path: Path
) -> None:
    seed(db_url)
    env = clean_environ(SHOPCTL_DATABASE_URL=db_url, SHOPCTL_CONFIG_DIR=str(tmp_path / "config"))
    typed = b"- run: products get MUG-1 --json\n  expect: {exit: 0}\n\x04"
    code, shown = run_at_a_terminal(env, ["replay", "-"], typed)
    assert code == 0, shown
    assert b"reading a scenario (YAML or JSON) from standard input; end with Ctrl-D" in shown
