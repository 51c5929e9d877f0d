"""Replay: scripted purchase flows for testers.

A scenario file (YAML or JSON) is a list of steps, or a mapping with ``steps:``. Each step
runs one shopctl command line as a profile, may keep its JSON result under ``id:`` for
``${id.field}`` references in later steps, and may state what it expects:

    - as: alice
      run: order place --json
      id: order
      expect: {exit: 0, json: {status: pending_payment}}
    - as: alice
      run: pay order ${order.id} --json
      expect: {json: {status: succeeded}}

The command lines are run by a ``CommandRunner`` port (in-process, by the CLI).
"""

from __future__ import annotations

import abc
import json
import re
import shlex
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from shopctl.domain.errors import InvalidInput

STEP_KEYS = {"name", "run", "as", "id", "stdin", "expect"}
EXPECT_KEYS = {"exit", "json", "stdout", "stderr"}
ID_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
# ${name.path.to.field}; the first part is a step id or ``vars``.
REFERENCE = re.compile(r"\$\{([^{}]*)\}")
REFERENCE_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*")


# -- the scenario model -------------------------------------------------------------------


@dataclass(frozen=True)
class Expectation:
    exit: int = 0
    json: Any = None
    has_json: bool = False
    stdout: str | None = None
    stderr: str | None = None


@dataclass(frozen=True)
class Step:
    run: tuple[str, ...]
    line: int | None = None
    name: str | None = None
    profile: str | None = None
    id: str | None = None
    stdin: str | None = None
    expect: Expectation = field(default_factory=Expectation)


@dataclass(frozen=True)
class Scenario:
    source: str
    steps: tuple[Step, ...]


class MalformedScenario(InvalidInput):
    """The file cannot be run as a scenario (exit 2); the message names the file and line."""


# -- parsing ------------------------------------------------------------------------------


class _Lines(dict[str, Any]):
    """A mapping that remembers the line it started on."""

    line: int | None = None


def _load(text: str, source: str) -> Any:
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> _Lines:
        value = _Lines({str(k): v for k, v in loader.construct_mapping(node, deep=True).items()})
        value.line = node.start_mark.line + 1
        return value

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    try:
        return yaml.load(text, Loader=Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        reason = error.problem or error.context or "syntax error"
        raise MalformedScenario(f"{where}: not valid YAML/JSON: {reason}") from None
    except yaml.YAMLError as error:
        raise MalformedScenario(f"{source}: not valid YAML/JSON: {error}") from None


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Parse and check a scenario; a ``MalformedScenario`` names the file and line."""
    document = _load(text, source)
    if isinstance(document, dict):
        unknown = sorted(set(document) - {"name", "steps"})
        if unknown:
            raise MalformedScenario(
                f"{_where(source, document)}: unknown key(s) {', '.join(unknown)} "
                "(a scenario mapping has name and steps)"
            )
        document = document.get("steps")
    if not isinstance(document, list) or not document:
        raise MalformedScenario(
            f"{source}: a scenario is a non-empty list of steps, or a mapping with steps:"
        )
    steps: list[Step] = []
    ids: set[str] = set()
    for number, raw in enumerate(document, start=1):
        step = _parse_step(raw, number, source)
        for reference in _references(step):
            head = reference.split(".", 1)[0]
            if head != "vars" and head not in ids:
                raise MalformedScenario(
                    f"{_where(source, raw)}: step {number} refers to ${{{reference}}}, "
                    f"but no earlier step has id {head!r}"
                )
        if step.id is not None:
            if step.id in ids or step.id == "vars":
                raise MalformedScenario(
                    f"{_where(source, raw)}: step {number}: id {step.id!r} is already used"
                )
            ids.add(step.id)
        steps.append(step)
    return Scenario(source=source, steps=tuple(steps))


def _where(source: str, node: Any) -> str:
    line = getattr(node, "line", None)
    return f"{source}:{line}" if line else source


def _parse_step(raw: Any, number: int, source: str) -> Step:
    where = _where(source, raw)
    if not isinstance(raw, dict):
        raise MalformedScenario(f"{where}: step {number} must be a mapping with run:")
    unknown = sorted(set(raw) - STEP_KEYS)
    if unknown:
        raise MalformedScenario(
            f"{where}: step {number}: unknown key(s) {', '.join(map(str, unknown))} "
            f"(allowed: {', '.join(sorted(STEP_KEYS))})"
        )
    run = raw.get("run")
    if isinstance(run, str):
        try:
            argv = shlex.split(run)
        except ValueError as error:
            raise MalformedScenario(f"{where}: step {number}: run: {error}") from None
    elif isinstance(run, list) and all(isinstance(a, str | int) for a in run):
        argv = [str(a) for a in run]
    else:
        raise MalformedScenario(f"{where}: step {number}: run: must be a command line")
    if argv and argv[0] == "shopctl":
        argv = argv[1:]
    if not argv:
        raise MalformedScenario(f"{where}: step {number}: run: is empty")
    step_id = raw.get("id")
    if step_id is not None and not (isinstance(step_id, str) and ID_PATTERN.fullmatch(step_id)):
        raise MalformedScenario(
            f"{where}: step {number}: id must be a name of letters, digits, _ or -"
        )
    for key in ("as", "name", "stdin"):
        if key in raw and not isinstance(raw[key], str | int):
            raise MalformedScenario(f"{where}: step {number}: {key}: must be text")
    stdin = raw.get("stdin")
    return Step(
        run=tuple(argv),
        line=getattr(raw, "line", None),
        name=None if raw.get("name") is None else str(raw["name"]),
        profile=None if raw.get("as") is None else str(raw["as"]),
        id=step_id,
        stdin=None if stdin is None else str(stdin),
        expect=_parse_expect(raw.get("expect"), f"{where}: step {number}"),
    )


def _parse_expect(raw: Any, where: str) -> Expectation:
    if raw is None:
        return Expectation()
    if not isinstance(raw, dict):
        raise MalformedScenario(f"{where}: expect: must be a mapping (exit, json, stdout, stderr)")
    unknown = sorted(set(raw) - EXPECT_KEYS)
    if unknown:
        raise MalformedScenario(
            f"{where}: expect: unknown key(s) {', '.join(map(str, unknown))} "
            f"(allowed: {', '.join(sorted(EXPECT_KEYS))})"
        )
    code = raw.get("exit", 0)
    if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code <= 255:
        raise MalformedScenario(f"{where}: expect.exit must be an exit code 0-255")
    for key in ("stdout", "stderr"):
        if key in raw and not isinstance(raw[key], str):
            raise MalformedScenario(f"{where}: expect.{key} must be text to look for")
    return Expectation(
        exit=code,
        json=_plain(raw.get("json")),
        has_json="json" in raw,
        stdout=raw.get("stdout"),
        stderr=raw.get("stderr"),
    )


def _plain(value: Any) -> Any:
    """Line-tracking mappings back to plain dicts."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _references(step: Step) -> Iterable[str]:
    texts: list[str] = [*step.run]
    if step.stdin is not None:
        texts.append(step.stdin)
    for key in ("stdout", "stderr"):
        value = getattr(step.expect, key)
        if value is not None:
            texts.append(value)
    texts.extend(_strings(step.expect.json))
    for text in texts:
        yield from REFERENCE.findall(text)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def parse_vars(pairs: Sequence[str]) -> dict[str, str]:
    """``--var K=V`` options → ``{"K": "V"}``."""
    found: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not ID_PATTERN.fullmatch(name):
            raise InvalidInput(f"--var {pair!r}: use NAME=VALUE")
        found[name] = value
    return found


def missing_vars(scenarios: Iterable[Scenario], variables: Mapping[str, str]) -> set[str]:
    """Names used as ``${vars.NAME}`` that ``variables`` does not give."""
    used = {
        reference.split(".")[1]
        for scenario in scenarios
        for step in scenario.steps
        for reference in _references(step)
        if reference.startswith("vars.")
    }
    return used - set(variables)


# -- references ---------------------------------------------------------------------------


class UnresolvedReference(Exception):
    """A ``${...}`` that names nothing in the results so far."""


def lookup(path: str, results: Mapping[str, Any]) -> Any:
    """``order.items.0.sku`` in ``{"order": {...}}``; list items by index."""
    if not REFERENCE_PATH.fullmatch(path):
        raise UnresolvedReference(f"${{{path}}} is not a reference: use ${{id.field.0.field}}")
    head, *rest = path.split(".")
    if head not in results:
        raise UnresolvedReference(f"${{{path}}}: nothing is saved as {head!r}")
    value = results[head]
    walked = head
    for part in rest:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise UnresolvedReference(f"${{{path}}}: {walked} has no {part!r}")
        walked += f".{part}"
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def substitute(text: str, results: Mapping[str, Any]) -> str:
    """Replace every ``${path}`` in ``text`` with the value it names, as text."""
    return REFERENCE.sub(lambda m: _text(lookup(m.group(1), results)), text)


def resolve(value: Any, results: Mapping[str, Any]) -> Any:
    """Resolve references inside an expected JSON value; a lone reference keeps its type."""
    if isinstance(value, str):
        whole = REFERENCE.fullmatch(value)
        return lookup(whole.group(1), results) if whole else substitute(value, results)
    if isinstance(value, dict):
        return {k: resolve(v, results) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, results) for v in value]
    return value


# -- expectations -------------------------------------------------------------------------


def _same_scalar(expected: Any, actual: Any) -> bool:
    if expected == actual and type(expected) is type(actual):
        return True
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    numbers = (int, float, str)
    if isinstance(expected, numbers) and isinstance(actual, numbers):
        # money is "9.90" in JSON; a scenario may write 9.90 or "9.9"
        try:
            return Decimal(str(expected)) == Decimal(str(actual))
        except InvalidOperation:
            return False
    return bool(expected == actual)


def mismatches(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where ``actual`` differs from ``expected``: mappings match as a subset (extra keys in
    ``actual`` are fine), lists item by item with the same length, scalars by value
    (numbers and numeric strings compare as numbers)."""
    here = path or "(top)"
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{here}: expected an object, got {json.dumps(actual)}"]
        found: list[str] = []
        for key, value in expected.items():
            if key not in actual:
                found.append(f"{path + '.' if path else ''}{key}: missing")
            else:
                found.extend(mismatches(value, actual[key], f"{path + '.' if path else ''}{key}"))
        return found
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{here}: expected a list, got {json.dumps(actual)}"]
        if len(expected) != len(actual):
            return [f"{here}: expected {len(expected)} item(s), got {len(actual)}"]
        found = []
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            found.extend(mismatches(want, got, f"{path}.{index}" if path else str(index)))
        return found
    if _same_scalar(expected, actual):
        return []
    return [f"{here}: expected {json.dumps(expected)}, got {json.dumps(actual)}"]


# -- running ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommandResult:
    exit_code: int
    stdout: str
    stderr: str


class CommandRunner(abc.ABC):
    """Runs one shopctl command line as a profile and captures what it printed; ``json``:
    in JSON unless the command line asks for CSV (its result is kept or checked)."""

    @abc.abstractmethod
    def __call__(
        self, argv: Sequence[str], *, profile: str | None, stdin: str | None, json: bool = False
    ) -> CommandResult: ...


@dataclass(frozen=True)
class StepReport:
    source: str
    number: int
    line: int | None
    title: str
    command: str
    profile: str | None
    exit_code: int | None
    ok: bool
    duration_ms: float
    failure: str | None = None


@dataclass(frozen=True)
class ReplayReport:
    ok: bool
    steps: tuple[StepReport, ...]
    failure: str | None = None

    @property
    def passed(self) -> int:
        return sum(1 for step in self.steps if step.ok)


class ReplayScenarios:
    """Run scenarios step by step; stop at the first step that misses its expectations."""

    def __init__(
        self, runner: CommandRunner, *, timer: Callable[[], float] = time.perf_counter
    ) -> None:
        self._runner = runner
        self._timer = timer

    def __call__(
        self,
        scenarios: Sequence[Scenario],
        variables: Mapping[str, str],
        *,
        on_step: Callable[[StepReport], None] | None = None,
    ) -> ReplayReport:
        missing = sorted(missing_vars(scenarios, variables))
        if missing:
            raise InvalidInput(
                f"the scenario needs {', '.join(missing)}: pass --var "
                + " --var ".join(f"{name}=..." for name in missing)
            )
        reports: list[StepReport] = []
        for scenario in scenarios:
            results: dict[str, Any] = {"vars": dict(variables)}
            for number, step in enumerate(scenario.steps, start=1):
                report = self._run_step(scenario, number, step, results)
                reports.append(report)
                if on_step is not None:
                    on_step(report)
                if not report.ok:
                    where = f"{scenario.source}" + (f":{step.line}" if step.line else "")
                    return ReplayReport(
                        ok=False,
                        steps=tuple(reports),
                        failure=f"{where}: step {number} ({report.title}): {report.failure}",
                    )
        return ReplayReport(ok=True, steps=tuple(reports))

    def _run_step(
        self, scenario: Scenario, number: int, step: Step, results: dict[str, Any]
    ) -> StepReport:
        def report(
            exit_code: int | None, started: float, failure: str | None, command: str
        ) -> StepReport:
            return StepReport(
                source=scenario.source,
                number=number,
                line=step.line,
                title=step.name or command,
                command=command,
                profile=step.profile,
                exit_code=exit_code,
                ok=failure is None,
                duration_ms=round((self._timer() - started) * 1000, 1),
                failure=failure,
            )

        started = self._timer()
        try:
            argv = [substitute(arg, results) for arg in step.run]
            stdin = None if step.stdin is None else substitute(step.stdin, results)
        except UnresolvedReference as error:
            return report(None, started, str(error), shlex.join(step.run))
        command = shlex.join(argv)
        wants_json = step.id is not None or step.expect.has_json
        result = self._runner(argv, profile=step.profile, stdin=stdin, json=wants_json)
        output: Any = None
        parsed = False
        if result.stdout.strip():
            try:
                output = json.loads(result.stdout)
                parsed = True
            except ValueError:
                parsed = False
        failure = self._check(step, result, output, parsed, results)
        if failure is None and step.id is not None:
            if result.exit_code == 0 and not parsed:
                failure = f"id {step.id!r} keeps the JSON result, but the command printed no JSON"
            else:
                results[step.id] = output
        return report(result.exit_code, started, failure, command)

    @staticmethod
    def _check(
        step: Step, result: CommandResult, output: Any, parsed: bool, results: dict[str, Any]
    ) -> str | None:
        expect = step.expect
        if result.exit_code != expect.exit:
            said = _first_line(result.stderr)
            return f"expected exit {expect.exit}, got {result.exit_code}" + (
                f" ({said})" if said else ""
            )
        try:
            if expect.stdout is not None:
                wanted = substitute(expect.stdout, results)
                if wanted not in result.stdout:
                    return (
                        f"expected stdout to contain {wanted!r}, got {_first_line(result.stdout)!r}"
                    )
            if expect.stderr is not None:
                wanted = substitute(expect.stderr, results)
                if wanted not in result.stderr:
                    return (
                        f"expected stderr to contain {wanted!r}, got {_first_line(result.stderr)!r}"
                    )
            if expect.has_json:
                if not parsed:
                    return "expected JSON output, but the command printed none"
                wrong = mismatches(resolve(expect.json, results), output)
                if wrong:
                    return "; ".join(wrong)
        except UnresolvedReference as error:
            return str(error)
        return None


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else ""
