#!/usr/bin/env python3
"""Validates rds-responder reports against the report schema (schema/report.v1.json).

    scripts/validate-reports.py [--schema FILE] [--recursive] DIR_OR_FILE...
    scripts/validate-reports.py --self-test

Every `*.json` file given, or found in a directory given (its subdirectories too with
--recursive, e.g. a copy of the S3 archive's reports/<function>/<date>/ tree), holds one report:
either the report itself (the Lambda response, the S3 archive, the SNS message body) or an SNS
notification as an SQS subscriber receives it (`"Type": "Notification"`, the report as the
`Message` string): then the body is validated too, and its message attributes must name the
schema version and agree with the report (function, outcome, severity, target).

Prints one line per failure (file: JSON path: message), then one summary line. Exits 1 on any
failure and when no report was found (a validator that saw nothing must not pass), 2 on a usage
or schema error, 0 otherwise.

Needs the `jsonschema` package (4.x, for Draft 2020-12). The one format the schema uses,
`date-time`, is checked here (RFC 3339, section 5.6) rather than by jsonschema's optional
`rfc3339-validator` dependency, so the check does not depend on what else is installed; any
other format the schema may come to use is refused until it is checked here too.

--self-test checks the validator itself: schema/examples/*.json must all pass, and together
cover every function, the main statuses and a fitted (truncated) copy; every file in
schema/examples/invalid/ must fail with the message this script expects of it; an empty
directory must fail.
"""

from __future__ import annotations

import argparse
import calendar
import json
import re
import sys
import tempfile
from pathlib import Path

try:
    import jsonschema
    from jsonschema import Draft202012Validator, FormatChecker
    from jsonschema.exceptions import best_match
except ImportError:  # pragma: no cover - a message instead of a traceback
    print(
        "validate-reports: the Python package `jsonschema` (4.x) is needed: "
        "run scripts/bootstrap.sh, or use .venv/bin/python",
        file=sys.stderr,
    )
    sys.exit(2)

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schema" / "report.v1.json"
EXAMPLES = ROOT / "schema" / "examples"

# SNS takes 256 KiB per message; publish.rs bounds the body to this.
MAX_SNS_MESSAGE_BYTES = 240_000
SEVERITY = {
    "failed": "critical",
    "degraded": "warning",
    "ok": "info",
    "skipped": "info",
    "dry-run": "info",
}
MAX_MESSAGE_CHARS = 400

# --- formats -------------------------------------------------------------------------------

RFC3339 = re.compile(
    r"^(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
    r"[Tt](?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-](?P<off_hour>[0-9]{2}):(?P<off_minute>[0-9]{2}))$"
)


def is_rfc3339_date_time(value: object) -> bool:
    """RFC 3339 `date-time` (section 5.6), calendar included; a leap second (`:60`) is accepted."""
    if not isinstance(value, str):
        return True  # formats apply to strings only
    m = RFC3339.match(value)
    if not m:
        return False
    year, month, day = int(m["year"]), int(m["month"]), int(m["day"])
    if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(year, month)[1]:
        return False
    if int(m["hour"]) > 23 or int(m["minute"]) > 59 or int(m["second"]) > 60:
        return False
    if m["off_hour"] is not None and (int(m["off_hour"]) > 23 or int(m["off_minute"]) > 59):
        return False
    return True


FORMATS = {"date-time": is_rfc3339_date_time}


def format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    for name, check in FORMATS.items():
        checker.checks(name)(check)
    return checker


def formats_used(node: object) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        if isinstance(node.get("format"), str):
            found.add(node["format"])
        for value in node.values():
            found |= formats_used(value)
    elif isinstance(node, list):
        for value in node:
            found |= formats_used(value)
    return found


class SchemaProblem(Exception):
    pass


def load_validator(schema_path: Path) -> Draft202012Validator:
    try:
        schema = json.loads(schema_path.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
    except (OSError, ValueError, jsonschema.SchemaError) as e:
        raise SchemaProblem(f"{schema_path}: not a usable Draft 2020-12 schema: {shorten(str(e))}") from None
    unchecked = formats_used(schema) - FORMATS.keys()
    if unchecked:
        raise SchemaProblem(
            f"{schema_path} uses formats this script does not check: "
            f"{', '.join(sorted(unchecked))}; add a checker to FORMATS"
        )
    return Draft202012Validator(schema, format_checker=format_checker())


# --- reading -------------------------------------------------------------------------------


class Unreadable(Exception):
    pass


def _no_duplicates(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise Unreadable(f"key {key!r} appears twice in one object")
        seen[key] = value
    return seen


def _no_constants(name):
    raise Unreadable(f"{name} is not JSON")


def parse_json(text: str) -> object:
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except json.JSONDecodeError as e:
        raise Unreadable(f"not JSON: {e}") from None


def read_json(path: Path) -> object:
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise Unreadable(f"not UTF-8: {e}") from None
    except OSError as e:
        raise Unreadable(f"unreadable: {e.strerror}") from None
    return parse_json(text)


def is_sns_notification(doc: object) -> bool:
    return (
        isinstance(doc, dict)
        and doc.get("Type") == "Notification"
        and isinstance(doc.get("Message"), str)
    )


# --- validating ----------------------------------------------------------------------------


def shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 3] + "..."


def describe(error: jsonschema.ValidationError) -> tuple[str, str]:
    """The JSON path and message of an error; for anyOf/oneOf, the closest alternative's."""
    path, message = error.json_path, error.message
    if error.validator == "not" and error.validator_value == {}:
        message = f"{error.instance!r} is not allowed here: the field must be absent"
    if error.context:
        inner = best_match(error.context)
        if inner is not None:
            path, message = inner.json_path, f"{inner.message} (no alternative of {error.validator} matched)"
    return path, shorten(message)


def report_failures(validator: Draft202012Validator, report: object, prefix: str = "$") -> list[tuple[str, str]]:
    failures = []
    errors = sorted(validator.iter_errors(report), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    for error in errors:
        path, message = describe(error)
        failures.append((prefix + path[1:], message))
    return failures


def attribute(doc: dict, name: str):
    attrs = doc.get("MessageAttributes")
    if not isinstance(attrs, dict) or name not in attrs:
        return None
    value = attrs[name]
    return value.get("Value") if isinstance(value, dict) else value


def notification_failures(validator: Draft202012Validator, doc: dict) -> list[tuple[str, str]]:
    body = doc["Message"]
    size = len(body.encode("utf-8"))
    failures = []
    if size > MAX_SNS_MESSAGE_BYTES:
        failures.append(("$.Message", f"{size} bytes, over the {MAX_SNS_MESSAGE_BYTES}-byte SNS body bound"))
    try:
        report = parse_json(body)
    except Unreadable as e:
        return failures + [("$.Message", str(e))]
    failures += report_failures(validator, report, prefix="$.Message")
    if not isinstance(report, dict):
        return failures
    version = validator.schema["properties"]["schema_version"]["const"]
    target = report.get("target") if isinstance(report.get("target"), dict) else {}
    expected = {
        "schema_version": version,
        "function": report.get("function"),
        "outcome": report.get("status"),
        "severity": SEVERITY.get(report.get("status")),
        "target_kind": target.get("kind"),
        "target_id": target.get("id"),
        "db_identifier": target.get("id") if target.get("kind") in ("instance", "cluster") else None,
    }
    for name, want in expected.items():
        got = attribute(doc, name)
        if got != want:
            what = "absent" if got is None else repr(got)
            should = "be absent" if want is None else f"be {want!r}"
            failures.append((f"$.MessageAttributes.{name}", f"is {what}; should {should}"))
    return failures


def validate_file(validator: Draft202012Validator, path: Path) -> list[tuple[str, str]]:
    try:
        doc = read_json(path)
    except Unreadable as e:
        return [("$", str(e))]
    if is_sns_notification(doc):
        return notification_failures(validator, doc)
    return report_failures(validator, doc)


def collect(paths: list[str], recursive: bool) -> tuple[list[Path], list[tuple[str, str]]]:
    files, problems = [], []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(path.rglob("*.json") if recursive else path.glob("*.json"))
            files += [f for f in found if f.is_file()]
        elif path.is_file():
            files.append(path)
        else:
            problems.append((raw, "no such file or directory"))
    return files, problems


def run(paths: list[str], schema_path: Path, recursive: bool, out=sys.stdout) -> int:
    validator = load_validator(schema_path)
    files, problems = collect(paths, recursive)
    for raw, message in problems:
        print(f"{raw}: {message}", file=out)
    invalid = 0
    failures = len(problems)
    for path in files:
        found = validate_file(validator, path)
        if found:
            invalid += 1
            failures += len(found)
        for json_path, message in found:
            print(f"{path}: {json_path}: {message}", file=out)
    if not files:
        print(
            f"validate-reports: no report (*.json) found in {' '.join(paths)}: nothing validated, failing",
            file=out,
        )
        return 1
    print(
        f"validate-reports: {len(files)} reports checked against {schema_path.name}: "
        f"{len(files) - invalid} valid, {invalid} invalid, {failures} failures",
        file=out,
    )
    return 1 if failures else 0


# --- self-test -----------------------------------------------------------------------------

# Each invalid example, the JSON path a failure must name and a text its message must contain.
INVALID = {
    "unknown-outcome.json": ("$.checks[1].outcome", "'passed' is not one of"),
    "no-schema-version.json": ("$", "'schema_version' is a required property"),
    "impossible-date.json": ("$.started_at", "is not a 'date-time'"),
    "undocumented-field.json": ("$", "Additional properties are not allowed ('acted' was unexpected)"),
    "marker-in-whole-report.json": ("$.checks[1].name", "should not be valid under"),
    "negative-duration.json": ("$.duration_ms", "-3 is less than the minimum of 0"),
    "account-with-id.json": ("$.target.id", "is not allowed here"),
    "manual-request-as-sent.json": ("$.trigger.request", "'target' is a required property"),
    "result-of-another-function.json": ("$.result", "is not allowed here"),
    "sns-without-version.json": ("$.MessageAttributes.schema_version", "is absent; should be 'rds-responder.report/v1'"),
    "unknown-storage-outcome.json": ("$.result.outcome", "'grown' is not one of"),
    "grow-without-to-gib.json": ("$.result.action", "'to_gib' is a required property"),
    "two-sizings.json": ("$.trigger.request.sizing", "has too many properties"),
    "zero-target-gib.json": ("$.trigger.request.sizing.target_gib", "0 is less than the minimum of 1"),
    "grow-reported-as-no-change.json": ("$.result.instances[1].action.kind", "'none' was expected"),
    "null-dropped-from-result.json": ("$.result", "'snapshot_id' is a required property"),
    "unknown-drill-outcome.json": ("$.result.drill.outcome", "'succeeded' is not one of"),
    "metric-with-unknown-key.json": ("$.metrics[0]", "Additional properties are not allowed ('dimensions' was unexpected)"),
    "late-rpo-status.json": ("$.result.audit[0].status", "'late' is not one of"),
    "drill-targets-as-strings.json": ("$.trigger.input.targets[0]", "'orders-db' is not of type 'object'"),
    "drill-source-without-kind.json": ("$.result.drill.source", "'orders-aurora' does not match"),
    "rto-data-as-array.json": ("$.checks[9].data", "is not of type 'object'"),
    "request-naming-two-databases.json": ("$.trigger.request.table", "is not allowed here: the field must be absent"),
    "restore-job-without-job-id.json": ("$.trigger", "'job_id' is a required property"),
    "unknown-validation-verdict.json": ("$.result.validation.posted", "'PASSED' is not one of"),
    "validation-from-a-schedule.json": ("$.trigger.type", "'schedule' is not one of"),
    "sweep-with-nothing-checked.json": ("$.result.drills", "should be non-empty"),
    "validation-of-a-cluster-against-an-instance.json": ("$.result.validation.source", "does not match '^db-cluster:'"),
    "validation-of-a-table-against-an-instance.json": ("$.result.validations[0].validation.source", "does not match '^table:'"),
}


def self_test(schema_path: Path) -> int:
    problems: list[str] = []

    def expect(condition: bool, what: str) -> None:
        if not condition:
            problems.append(what)

    validator = load_validator(schema_path)

    for good in ["2026-11-22T03:12:09Z", "2026-11-22T03:12:09.123456789Z", "2024-02-29T23:59:60+01:00"]:
        expect(is_rfc3339_date_time(good), f"date-time check refuses {good!r}")
    for bad in ["2026-02-30T03:12:09Z", "2026-11-22 03:12:09Z", "2026-11-22T24:00:00Z", "2026-11-22T03:12:09", "2025-02-29T00:00:00Z", "2026-11-22T03:12:09+25:00"]:
        expect(not is_rfc3339_date_time(bad), f"date-time check accepts {bad!r}")

    valid = sorted(EXAMPLES.glob("*.json"))
    expect(len(valid) >= 1, f"no valid examples in {EXAMPLES}")
    seen_functions, seen_statuses, truncated = set(), set(), 0
    for path in valid:
        failures = validate_file(validator, path)
        for json_path, message in failures:
            problems.append(f"valid example {path.name} fails: {json_path}: {message}")
        doc = read_json(path)
        report = parse_json(doc["Message"]) if is_sns_notification(doc) else doc
        seen_functions.add(report.get("function"))
        seen_statuses.add(report.get("status"))
        truncated += "truncated" in report
    for function in ["failover-check", "idle-reaper", "snapshotter", "storage-guard", "restore-drill"]:
        expect(function in seen_functions, f"no valid example from {function}")
    for status in ["ok", "failed", "skipped", "dry-run", "degraded"]:
        expect(status in seen_statuses, f"no valid example with status {status}")
    expect(truncated > 0, "no valid example of a fitted (truncated) copy")

    invalid_dir = EXAMPLES / "invalid"
    on_disk = {p.name for p in invalid_dir.glob("*.json")}
    for name in sorted(on_disk - INVALID.keys()):
        problems.append(f"invalid example {name} has no expected failure in INVALID")
    for name, (want_path, want_text) in sorted(INVALID.items()):
        path = invalid_dir / name
        if not path.is_file():
            problems.append(f"invalid example {name} is missing")
            continue
        failures = validate_file(validator, path)
        if not failures:
            problems.append(f"invalid example {name} passes")
        elif not any(p == want_path and want_text in m for p, m in failures):
            got = "; ".join(f"{p}: {m}" for p, m in failures)
            problems.append(f"invalid example {name}: no failure at {want_path} containing {want_text!r}; got: {got}")

    class Sink:
        def write(self, _text):
            pass

    with tempfile.TemporaryDirectory() as empty:
        expect(run([empty], schema_path, False, out=Sink()) == 1, "an empty directory passes")
    expect(run([str(EXAMPLES)], schema_path, False, out=Sink()) == 0, "the valid examples fail through the CLI path")
    expect(run([str(invalid_dir)], schema_path, False, out=Sink()) == 1, "the invalid examples pass through the CLI path")

    for problem in problems:
        print(f"self-test: {problem}")
    print(
        f"validate-reports self-test: {len(valid)} valid and {len(on_disk)} invalid examples, "
        f"{'FAILED: ' + str(len(problems)) + ' problems' if problems else 'passed'}"
    )
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Validate rds-responder reports (one per *.json file) against the report schema."
    )
    parser.add_argument("paths", nargs="*", metavar="DIR_OR_FILE", help="report files, or directories of them")
    parser.add_argument("--schema", type=Path, default=SCHEMA, help=f"the schema (default {SCHEMA.relative_to(ROOT)})")
    parser.add_argument("-r", "--recursive", action="store_true", help="search directories' subdirectories too")
    parser.add_argument("--self-test", action="store_true", help="check the validator against schema/examples")
    args = parser.parse_args(argv)
    if args.self_test and args.paths:
        parser.error("--self-test takes no paths")
    if not args.self_test and not args.paths:
        parser.error("give at least one report file or directory")
    try:
        if args.self_test:
            return self_test(args.schema)
        return run(args.paths, args.schema, args.recursive)
    except SchemaProblem as e:
        print(f"validate-reports: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
