"""Checks log lines (standard input, one JSON object a line; other lines are skipped) against
datadog_log.schema.json with the jsonschema library. Prints the number checked, or the first
line that fails and why, and exits 1 then."""
import json
import pathlib
import sys

import jsonschema

schema = json.loads((pathlib.Path(__file__).parent / "datadog_log.schema.json").read_text())
validator = jsonschema.Draft202012Validator(schema)
checked = 0
for line in sys.stdin:
    line = line.strip()
    if not line.startswith("{"):
        continue
    record = json.loads(line)
    errors = sorted(validator.iter_errors(record), key=lambda error: list(error.path))
    if errors:
        print(f"not a Datadog-native line: {errors[0].message} at {list(errors[0].path)}: {line}")
        sys.exit(1)
    checked += 1
if checked == 0:
    print("no JSON log lines to check")
    sys.exit(1)
print(f"{checked} lines match the schema")
