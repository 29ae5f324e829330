#!/usr/bin/env python3
"""Validates JSON documents against the project's JSON Schemas (schemas/, draft 2020-12).

    scripts/validate-json.py SCHEMA FILE...          # each FILE one document ('-': stdin)
    scripts/validate-json.py --jsonl SCHEMA FILE...  # each line of each FILE one document
    scripts/validate-json.py --serve                 # the tests' protocol, below
    scripts/validate-json.py --list                  # the schema names

SCHEMA is a name from schemas/ (`c2c.receipt.v1`, `c2c.proof.v1`, ...) or the path of a schema
file. The validator is the Python `jsonschema` package (not code of this project), with format
checking on: `format: date-time` is checked by `rfc3339-validator`, and the run refuses to
start without it rather than treat the format as a mere annotation. Every schema file is
checked against the draft 2020-12 metaschema first, and references between the files
(`c2c.proof.v1.json` from a reserve attestation) resolve to the files beside them.

Documents are read as I-JSON (RFC 7493), as the project's readers read them: a duplicate
member name is an error, not "the last one wins".

Prints `FILE: valid SCHEMA` for each valid document, and for each invalid one a line per
failure: `FILE: invalid SCHEMA at JSON pointer "/anchors/0/artifact/sha256": message`
(the pointer "" is the whole document). Exit 0 when every document is valid, 1 when one is not
(or is not JSON), 2 for bad usage, an unknown schema or a missing package.

--serve reads one JSON object per line on stdin, `{"schema": NAME, "label": TEXT, "document":
TEXT}`, and answers each with one line, `{"valid": BOOL, "errors": [LINE, ...]}`, where each
LINE is what the command line prints for a failure (labelled with `label`). The tests keep one
such process per test binary (testkit::schema), so the packages load once.

Install the packages with scripts/python-tools.sh (pinned versions, into target/py-tools);
this script re-runs itself with that venv's Python when the one it was started with lacks them.
"""

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_PYTHON = ROOT / "target" / "py-tools" / "bin" / "python"

try:
    import jsonschema
    import referencing
    import rfc3339_validator  # noqa: F401  (what makes jsonschema check date-time)
    from jsonschema import Draft202012Validator
except ImportError as missing:
    if VENV_PYTHON.exists() and Path(sys.executable).resolve() != VENV_PYTHON.resolve():
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), __file__, *sys.argv[1:]])
    sys.stderr.write(
        f"validate-json: {missing}: the Python packages jsonschema and rfc3339-validator are "
        "needed; run scripts/python-tools.sh\n"
    )
    sys.exit(2)

SCHEMAS = Path(os.environ.get("LEDGER_SCHEMAS_DIR", ROOT / "schemas"))
MAX_MESSAGE = 400


class Usage(Exception):
    pass


def load_schemas(extra=None):
    """Every schema of SCHEMAS (and `extra`, a path), metaschema-checked, by name and as a
    registry keyed by `$id`."""
    if "date-time" not in Draft202012Validator.FORMAT_CHECKER.checkers:
        raise Usage("jsonschema cannot check date-time (rfc3339-validator is not installed)")
    paths = sorted(SCHEMAS.glob("*.json"))
    if extra is not None:
        paths.append(Path(extra))
    by_name, resources = {}, []
    for path in paths:
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise Usage(f"{path}: not a readable JSON file: {e}") from e
        try:
            Draft202012Validator.check_schema(schema)
        except jsonschema.exceptions.SchemaError as e:
            raise Usage(f"{path}: not a draft 2020-12 schema: {e.message}") from e
        uri = schema.get("$id", path.name)
        resources.append((uri, referencing.Resource.from_contents(schema)))
        by_name[path.name[: -len(".json")]] = schema
        by_name[str(path)] = schema
    return by_name, referencing.Registry().with_resources(resources)


def validator_for(name, by_name, registry):
    if name not in by_name:
        known = ", ".join(sorted(n for n in by_name if "/" not in n))
        raise Usage(f"unknown schema {name!r}; the schemas are: {known}")
    return Draft202012Validator(
        by_name[name],
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def no_duplicates(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"duplicate member name {key!r} (I-JSON, RFC 7493)")
        seen[key] = value
    return seen


def pointer(path):
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def short(text):
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def failures(validator, text, label, name):
    """The failure lines of one document (none when it is valid)."""
    try:
        document = json.loads(text, object_pairs_hook=no_duplicates)
    except ValueError as e:
        return [f"{label}: invalid {name}: not JSON: {e}"]
    errors = sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    out = []
    for e in errors:
        at = pointer(e.absolute_path)
        # jsonschema's own message for `not` repeats the whole instance; the rule is shorter.
        message = (
            f"must not be valid under {json.dumps(e.validator_value)}"
            if e.validator == "not"
            else e.message
        )
        out.append(f'{label}: invalid {name} at JSON pointer "{at}": {short(message)} [{e.validator}]')
        # anyOf / oneOf: say why each branch failed.
        for sub in e.context or ():
            sub_at = pointer(e.absolute_path) + pointer(sub.relative_path)
            out.append(f'{label}:   because at "{sub_at}": {short(sub.message)} [{sub.validator}]')
    return out


def serve(by_name, registry):
    validators = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        name, label = request["schema"], request.get("label", "document")
        try:
            if name not in validators:
                validators[name] = validator_for(name, by_name, registry)
            errors = failures(validators[name], request["document"], label, name)
        except Usage as e:
            errors = [f"{label}: {e}"]
        sys.stdout.write(json.dumps({"valid": not errors, "errors": errors}) + "\n")
        sys.stdout.flush()
    return 0


def main(argv):
    args = list(argv)
    if args[:1] in (["-h"], ["--help"]) or not args:
        sys.stdout.write(__doc__)
        return 0 if args else 2
    if args == ["--serve"]:
        return serve(*load_schemas())
    if args == ["--list"]:
        by_name, _ = load_schemas()
        print("\n".join(sorted(n for n in by_name if "/" not in n)))
        return 0
    jsonl = args[:1] == ["--jsonl"]
    if jsonl:
        args = args[1:]
    if len(args) < 2:
        raise Usage("usage: validate-json.py [--jsonl] SCHEMA FILE...")
    name, files = args[0], args[1:]
    extra = name if name.endswith(".json") else None
    by_name, registry = load_schemas(extra)
    validator = validator_for(str(Path(name)) if extra else name, by_name, registry)
    invalid = 0
    for file in files:
        try:
            text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            print(f"{file}: cannot read: {e}")
            invalid += 1
            continue
        documents = (
            [(f"{file}:{i}", l) for i, l in enumerate(text.splitlines(), 1) if l.strip()]
            if jsonl
            else [(file, text)]
        )
        for label, doc in documents:
            lines = failures(validator, doc, label, name)
            invalid += bool(lines)
            print("\n".join(lines) if lines else f"{label}: valid {name}")
    return 1 if invalid else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Usage as e:
        sys.stderr.write(f"validate-json: {e}\n")
        sys.exit(2)
