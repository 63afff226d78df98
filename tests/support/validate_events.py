#!/usr/bin/env python3
"""Validates policer stream events against docs/events.schema.json (python3-jsonschema).

usage: validate_events.py SCHEMA FILE
FILE holds one JSON document per line (the JSON part of each '<topic> <json>' frame).
Prints every invalid document's line and the reasons; exit status 0 when all are valid, 1 when
any is not (or FILE is empty: nothing validated proves nothing), 2 on usage errors.
"""
import json
import sys

import jsonschema


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)  # a broken schema must not pass everything
    validator = cls(schema)
    bad = total = 0
    with open(sys.argv[2], encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            total += 1
            try:
                doc = json.loads(line)
            except ValueError as e:
                bad += 1
                print(f"line {lineno}: not JSON: {e}")
                continue
            errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
            if errors:
                bad += 1
                for e in errors:
                    where = "/".join(str(p) for p in e.path) or "(document)"
                    print(f"line {lineno}: {where}: {e.message}")
    print(f"{total} document(s), {bad} invalid")
    return 1 if bad or total == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
