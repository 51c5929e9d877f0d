"""Replay: the scenario parser, references, subset matching, and the step runner."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from shopctl.domain.errors import InvalidInput
from shopctl.replay.scenarios import (
    CommandResult,
    CommandRunner,
    MalformedScenario,
    ReplayScenarios,
    UnresolvedReference,
    lookup,
    mismatches,
    parse_scenario,
    parse_vars,
    resolve,
    substitute,
)

SCENARIO = """\
name: buy
steps:
  - as: alice
    run: shopctl cart add ${vars.sku} --quantity 2 --json
    id: cart
    expect: {json: {total: 9.00}}
  - as: alice
    run: order place --json
    id: order
  - run: ["pay", "order", "${order.id}", "--card", "4000000000000002"]
    as: alice
    stdin: "secret ${order.id}\\n"
    expect:
      exit: 7
      stderr: declined
"""


def test_parse_a_mapping_with_steps() -> None:
    scenario = parse_scenario(SCENARIO, "buy.yaml")
    first, second, third = scenario.steps
    assert first.run == ("cart", "add", "${vars.sku}", "--quantity", "2", "--json")
    assert (first.profile, first.id, first.line) == ("alice", "cart", 3)
    assert first.expect.has_json and first.expect.json == {"total": 9.00}
    assert first.expect.exit == 0
    assert second.expect.has_json is False
    assert third.run == ("pay", "order", "${order.id}", "--card", "4000000000000002")
    assert third.stdin == "secret ${order.id}\n"
    assert (third.expect.exit, third.expect.stderr, third.line) == (7, "declined", 10)


def test_parse_a_plain_list_and_json() -> None:
    as_yaml = parse_scenario("- run: products list --json\n")
    as_json = parse_scenario(json.dumps([{"run": "products list --json", "expect": {"exit": 0}}]))
    assert as_yaml.steps[0].run == as_json.steps[0].run == ("products", "list", "--json")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "non-empty list of steps"),
        ("steps: []\n", "non-empty list of steps"),
        ("name: x\nstep: []\n", "x.yaml:1: unknown key(s) step"),
        ("- run: a\n- runn: b\n", "x.yaml:2: step 2: unknown key(s) runn"),
        ("- run: ''\n", "run: is empty"),
        ('- run: "it\'s"\n', "No closing quotation"),
        ("- run: a\n  expect: {exit: nine}\n", "expect.exit must be an exit code"),
        ("- run: a\n  expect: {status: paid}\n", "expect: unknown key(s) status"),
        ("- run: a\n  id: 'no spaces'\n", "id must be a name"),
        ("- run: a\n  id: x\n- run: b\n  id: x\n", "x.yaml:3: step 2: id 'x' is already used"),
        ("- run: get ${order.id}\n", "x.yaml:1: step 1 refers to ${order.id}, but no earlier"),
        ("- run: a\n  id: o\n  stdin: ${o.id}\n", "refers to ${o.id}"),
        ("- run: a\n   - b: [\n", "x.yaml:2: not valid YAML/JSON"),
        ('[{"run": "a",}', "x.yaml:1: not valid YAML/JSON"),
        ("- just a string\n", "step 1 must be a mapping"),
    ],
)
def test_malformed_scenarios_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(MalformedScenario) as raised:
        parse_scenario(text, "x.yaml")
    assert message in raised.value.message
    assert isinstance(raised.value, InvalidInput)  # exit code 2


def test_vars() -> None:
    assert parse_vars(["sku=TEA-1", "note=a=b"]) == {"sku": "TEA-1", "note": "a=b"}
    with pytest.raises(InvalidInput):
        parse_vars(["no-equals-sign"])
    with pytest.raises(InvalidInput):
        parse_vars(["1bad=x"])


RESULTS = {
    "vars": {"sku": "TEA-1"},
    "order": {"id": 42, "paid": True, "items": [{"sku": "TEA-1", "quantity": 2}], "none": None},
}


def test_lookup_walks_fields_and_list_indexes() -> None:
    assert lookup("order.id", RESULTS) == 42
    assert lookup("order.items.0.sku", RESULTS) == "TEA-1"
    assert lookup("vars.sku", RESULTS) == "TEA-1"
    for bad in ("order.items.1.sku", "order.nope", "other.id", "order..id", "order.id.x"):
        with pytest.raises(UnresolvedReference):
            lookup(bad, RESULTS)


def test_substitute_into_text() -> None:
    assert substitute("pay order ${order.id}", RESULTS) == "pay order 42"
    assert substitute("${order.paid}/${order.none}/${vars.sku}", RESULTS) == "true//TEA-1"
    assert substitute("no refs, $HOME {x}", RESULTS) == "no refs, $HOME {x}"


def test_resolve_keeps_the_type_of_a_lone_reference() -> None:
    expected = {"id": "${order.id}", "label": "order ${order.id}", "items": ["${order.items.0}"]}
    assert resolve(expected, RESULTS) == {
        "id": 42,
        "label": "order 42",
        "items": [{"sku": "TEA-1", "quantity": 2}],
    }


def test_subset_match() -> None:
    actual = {"status": "paid", "total": "9.00", "items": [{"sku": "A", "quantity": 1}], "n": 3}
    assert mismatches({"status": "paid"}, actual) == []
    assert mismatches({"total": 9, "n": "3"}, actual) == []  # numbers vs numeric strings
    assert mismatches({"items": [{"sku": "A"}]}, actual) == []
    assert mismatches({"status": "cancelled"}, actual) == [
        'status: expected "cancelled", got "paid"'
    ]
    assert mismatches({"missing": 1}, actual) == ["missing: missing"]
    assert mismatches({"items": []}, actual) == ["items: expected 0 item(s), got 1"]
    assert mismatches({"items": [{"sku": "B"}]}, actual) == ['items.0.sku: expected "B", got "A"']
    assert mismatches({"status": True}, {"status": 1}) != []
    assert mismatches([1], {"a": 1}) == ['(top): expected a list, got {"a": 1}']


class ScriptedRunner(CommandRunner):
    """Answers each command line from a table; records what it was asked."""

    def __init__(self, answers: dict[str, CommandResult]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str | None, str | None]] = []
        self.json: list[bool] = []  # per call: whether the step asked for JSON

    def __call__(
        self, argv: Sequence[str], *, profile: str | None, stdin: str | None, json: bool = False
    ) -> CommandResult:
        command = " ".join(argv)
        self.calls.append((command, profile, stdin))
        self.json.append(json)
        return self.answers[command]


def ok(data: object) -> CommandResult:
    return CommandResult(0, json.dumps(data), "")


def test_replay_passes_results_between_steps() -> None:
    runner = ScriptedRunner(
        {
            "cart add TEA-1 --quantity 2 --json": ok({"total": "9.00"}),
            "order place --json": ok({"id": 7, "status": "pending_payment"}),
            "pay order 7 --card 4000000000000002": CommandResult(7, "", "error: card declined"),
        }
    )
    report = ReplayScenarios(runner)([parse_scenario(SCENARIO, "buy.yaml")], {"sku": "TEA-1"})
    assert report.ok and report.passed == 3
    assert runner.calls[2] == ("pay order 7 --card 4000000000000002", "alice", "secret 7\n")
    assert [s.exit_code for s in report.steps] == [0, 0, 7]


def test_replay_stops_at_the_first_failed_expectation() -> None:
    runner = ScriptedRunner(
        {
            "cart add TEA-1 --quantity 2 --json": ok({"total": "8.00"}),
        }
    )
    report = ReplayScenarios(runner)([parse_scenario(SCENARIO, "buy.yaml")], {"sku": "TEA-1"})
    assert not report.ok
    assert len(report.steps) == 1 and len(runner.calls) == 1
    assert report.failure == (
        'buy.yaml:3: step 1 (cart add TEA-1 --quantity 2 --json): total: expected 9.0, got "8.00"'
    )


def test_replay_reports_the_wrong_exit_code_with_the_error() -> None:
    runner = ScriptedRunner({"order place": CommandResult(6, "", "error: your cart is empty\n")})
    report = ReplayScenarios(runner)([parse_scenario("- run: order place\n", "s.yaml")], {})
    assert report.failure == (
        "s.yaml:1: step 1 (order place): expected exit 0, got 6 (error: your cart is empty)"
    )


def test_replay_needs_json_output_to_keep_a_result() -> None:
    runner = ScriptedRunner({"users logout": CommandResult(0, "logged out\n", "")})
    scenario = parse_scenario("- run: users logout\n  id: bye\n", "s.yaml")
    report = ReplayScenarios(runner)([scenario], {})
    assert not report.ok and "the command printed no JSON" in (report.failure or "")


def test_a_step_whose_result_is_kept_or_checked_asks_for_json() -> None:
    """``id:`` or ``expect: {json: ...}`` asks the runner for JSON; other steps do not."""
    runner = ScriptedRunner(
        {"products list": ok([]), "order place": ok({"id": 1}), "cart show": ok({})}
    )
    scenario = parse_scenario(
        "- run: products list\n  id: all\n"
        "- run: order place\n  expect: {json: {id: 1}}\n"
        "- run: cart show\n",
        "s.yaml",
    )
    assert ReplayScenarios(runner)([scenario], {}).ok
    assert runner.json == [True, True, False]


def test_replay_refuses_missing_vars_before_running_anything() -> None:
    runner = ScriptedRunner({})
    with pytest.raises(InvalidInput, match="--var sku="):
        ReplayScenarios(runner)([parse_scenario(SCENARIO, "buy.yaml")], {})
    assert runner.calls == []


def test_results_are_per_file_and_a_missing_field_fails_the_step() -> None:
    runner = ScriptedRunner({"order place --json": ok({"id": 1}), "order show 1": ok({})})
    scenario = parse_scenario(
        "- run: order place --json\n  id: o\n- run: order show ${o.number}\n", "s.yaml"
    )
    report = ReplayScenarios(runner)([scenario], {})
    assert not report.ok
    assert "${o.number}: o has no 'number'" in (report.failure or "")
