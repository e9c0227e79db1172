"""What the FireLens/Datadog log path does to the controller's log lines, checked on the task
definition Terraform renders, as far as it can be checked without Fluent Bit.

Fluent Bit is not in Debian's packages (`apt-cache search fluent-bit` finds nothing) and nothing
else may be downloaded here, so the shipped configuration cannot be run against a log line. What
this checks instead, on the container definitions of a `terraform plan` (check-terraform.sh):

1. the log router loads the image's own parse-json.conf (firelensConfiguration options
   config-file-type = file, config-file-value = /fluent-bit/configs/parse-json.conf: the
   documented way to parse JSON lines on Fargate, which takes no S3 config files);
2. the controller logs through awsfirelens to Fluent Bit's `datadog` output, whose
   dd_message_key is the key JSONLogHandler.swift writes the message under (read from that
   file), and whose dd_service is the controller's own DD_SERVICE;
3. each log line (a file, standard input, or firelens-sample.jsonl beside this file), passed through a
   model of the three steps (FireLens's record: the line as a string under `log`, beside
   container_id, container_name, source and the ECS metadata; parse-json.conf's filter:
   `Parser json`, `Key_Name log`, `Reserve_Data True`; the datadog output's formatting, from
   plugins/out_datadog/datadog.c), becomes a record whose message, level, timestamp, service,
   env, version and redash_service are top-level attributes, with no key twice (but `service`,
   written by dd_service and by the line, with the same value) and no `log` left, and whose
   ddtags carry env, version and the module's tags.
The model is the part that is not proven: it is written from Fluent Bit's source and
documentation, not run. docs/operations.md#datadog says so.

  check_firelens.py CONTAINER_DEFINITIONS.json [LINES.jsonl | -]   (- reads standard input)
"""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PARSE_JSON = "/fluent-bit/configs/parse-json.conf"


def _task_arn_tags(arn):
    tags = [f"task_arn:{arn}"]
    if arn.startswith("arn:aws:ecs:") and ":" in arn[len("arn:aws:ecs:"):]:
        tags.append("region:" + arn[len("arn:aws:ecs:"):].split(":", 1)[0])
    return tags + ["task_id:" + (arn.split("task/", 1)[1] if "task/" in arn else arn)]


# out_datadog with provider ecs moves these to ddtags, each its own way (datadog_remap.c).
REMAPPED = {
    "container_id": lambda v: [f"container_id:{v}"],
    "container_name": lambda v: [f"container_name:{v[1:] if v.startswith('/') else v}"],
    "container_image": lambda v: [f"container_image:{v}"],
    "ecs_cluster": lambda v: [f"cluster_name:{v.split('cluster/', 1)[1] if 'cluster/' in v else v}"],
    "ecs_task_definition": lambda v: [f"task_family:{v.split(':', 1)[0]}", f"task_version:{v.split(':', 1)[1]}"] if ":" in v else [f"ecs_task_definition:{v}"],
    "ecs_task_arn": _task_arn_tags,
}


class Failure(Exception):
    """What is wrong with the log path."""


def fail(message):
    raise Failure(message)


def message_key_of_handler():
    """The key JSONLogHandler writes the log message under: `object["…"] = "\\(event.message)"`."""
    source = open(os.path.join(REPO, "Sources/Controller/JSONLogHandler.swift")).read()
    keys = re.findall(r'object\["([^"]+)"\]\s*=\s*"\\\(event\.message\)"', source)
    if len(keys) != 1:
        fail(f"could not find the one key JSONLogHandler.swift writes the message under (found {keys})")
    return keys[0]


def firelens_record(line, controller_name):
    """FireLens hands Fluent Bit the line as a string, under `log`, beside what the Fluentd log
    driver adds (container_id, container_name, source) and enable-ecs-log-metadata's keys."""
    return [("container_id", "0123456789abcdef"), ("container_name", f"/ecs-redash-autoscaler-1-{controller_name}-abcdef"),
            ("source", "stdout"), ("log", line),
            ("ecs_cluster", "arn:aws:ecs:ap-northeast-1:123456789012:cluster/redash"),
            ("ecs_task_arn", "arn:aws:ecs:ap-northeast-1:123456789012:task/redash/0123456789abcdef0123456789abcdef"),
            ("ecs_task_definition", "redash-autoscaler:7")]


def parse_json_filter(record):
    """parse-json.conf: [FILTER] Name parser, Key_Name log, Parser json, Reserve_Data True. The
    parsed map replaces the record, the other keys are appended (Preserve_Key off: `log` goes).
    The image's `json` parser takes `time` as the record time (Time_Key time) and drops it. A line
    that is not a JSON object is left as it was."""
    line = dict(record)["log"]
    try:
        parsed = json.loads(line, object_pairs_hook=list)
    except ValueError:
        return record, False
    if not isinstance(parsed, list):
        return record, False
    kept = [(k, v) for k, v in parsed if k != "time"]
    return kept + [(k, v) for k, v in record if k != "log"], True


def datadog_output(record, options):
    """out_datadog's datadog_format(): the date key, ddsource, service, then the record's keys
    (the ECS ones moved to ddtags, dd_message_key renamed `message`), then ddtags."""
    out = [(options.get("json_date_key", "timestamp"), 1765155723456)]
    if "dd_source" in options:
        out.append(("ddsource", options["dd_source"]))
    if "dd_service" in options:
        out.append(("service", options["dd_service"]))
    tags = []
    remap = options.get("provider") == "ecs"
    message_key = options.get("dd_message_key", "log")
    for key, value in record:
        if remap and key in REMAPPED and isinstance(value, str) and value:
            tags += REMAPPED[key](value)
            continue
        out.append(("message" if key == message_key else key, value))
    if options.get("dd_tags"):
        tags.append(options["dd_tags"])
    if tags:
        out.append(("ddtags", ",".join(tags)))
    return out


def main(definitions_path, lines):
    definitions = json.load(open(definitions_path))
    lines = list(lines)
    try:
        check(definitions, lines, quiet=False)
    except Failure as failure:
        sys.exit(f"check-firelens: FAIL: {failure}")
    # The check must be able to fail: the same definitions with the parser or the message key
    # taken away, and a line whose service is not the controller's.
    def mutated(change):
        copy = json.loads(json.dumps(definitions))
        change({c["name"]: c for c in copy})
        return copy
    mutations = [
        ("no parse-json.conf on the log router", mutated(lambda c: c["log-router"]["firelensConfiguration"]["options"].pop("config-file-value")), lines),
        ("dd_message_key = log", mutated(lambda c: c["controller"]["logConfiguration"]["options"].update(dd_message_key="log")), lines),
        ("no provider = ecs", mutated(lambda c: c["controller"]["logConfiguration"]["options"].pop("provider")), lines),
        ("a line with `time`", definitions, [lines[0].replace('"level"', '"time":"x","level"', 1)]),
    ]
    for what, changed, changed_lines in mutations:
        try:
            check(changed, changed_lines, quiet=True)
        except Failure as failure:
            print(f"check-firelens: with {what}: fails as it must ({str(failure)[:120]})")
            continue
        sys.exit(f"check-firelens: FAIL: the check did not notice {what}")
    print("check-firelens: ok")


def check(definitions, lines, quiet):
    containers = {c["name"]: c for c in definitions}
    router = containers.get("log-router")
    controller = containers.get("controller")
    if router is None or controller is None:
        fail(f"no log-router and controller containers in {definitions_path}: {sorted(containers)}")
    firelens = router.get("firelensConfiguration", {})
    options = firelens.get("options", {})
    if firelens.get("type") != "fluentbit":
        fail(f"the log router is {firelens.get('type')}, not fluentbit")
    if options.get("config-file-type") != "file" or options.get("config-file-value") != PARSE_JSON:
        fail(f"the log router does not load {PARSE_JSON} (options {options}): Datadog would get each line as one string under `log`")
    if options.get("enable-ecs-log-metadata") != "true":
        fail("enable-ecs-log-metadata is off: the ECS tags (cluster, task) would be missing")
    logging = controller["logConfiguration"]
    output = logging.get("options", {})
    if logging.get("logDriver") != "awsfirelens" or output.get("Name") != "datadog":
        fail(f"the controller does not log through FireLens to the datadog output: {logging}")
    handler_key = message_key_of_handler()
    if output.get("dd_message_key") != handler_key:
        fail(f"dd_message_key is {output.get('dd_message_key')!r}, but JSONLogHandler writes the message under {handler_key!r}")
    environment = {e["name"]: e["value"] for e in controller.get("environment", [])}
    if output.get("dd_service") != environment.get("DD_SERVICE"):
        fail(f"dd_service {output.get('dd_service')!r} is not the controller's DD_SERVICE {environment.get('DD_SERVICE')!r}: each line would name two services")
    if not quiet:
        print(f"check-firelens: the log router loads {PARSE_JSON}; dd_message_key = {handler_key!r}, the key JSONLogHandler.swift writes; "
              f"dd_service = DD_SERVICE = {output.get('dd_service')!r}")

    expected_tags = [t for t in output.get("dd_tags", "").split(",") if t]
    checked = 0
    for line in lines:
        line = line.strip()
        if not line.startswith("{"):
            continue
        original = json.loads(line)
        # JSONLogHandler writes the identity from DD_SERVICE, DD_ENV and DD_VERSION
        # (JSONLogHandler.Identity.from(environment:)): the line as this task would write it.
        for key, name in (("service", "DD_SERVICE"), ("env", "DD_ENV"), ("version", "DD_VERSION")):
            if name in environment:
                original[key] = environment[name]
        line = json.dumps(original, separators=(",", ":"))
        parsed, ok = parse_json_filter(firelens_record(line, controller["name"]))
        if not ok:
            fail(f"parse-json.conf would not parse {line}")
        sent = datadog_output(parsed, output)
        # `service` comes twice, from dd_service (so that a line that is not JSON, such as a
        # crash on stderr, still has it) and from the line: harmless only when both are the same.
        keys = [k for k, _ in sent]
        twice = sorted({k for k in keys if keys.count(k) > 1 and not (k == "service" and len({json.dumps(v) for kk, v in sent if kk == k}) == 1)})
        if twice:
            fail(f"Datadog would get {twice} twice, with different values (which one wins is Datadog's choice): {sent}")
        record = dict(sent)
        if "log" in record:
            fail(f"`log` is still in the record: the line was not parsed: {record}")
        for key in ["message", "level", "timestamp", "service"] + [k for k in ("env", "version") if k in original]:
            if record.get(key) != original[key]:
                fail(f"{key} is {record.get(key)!r} in what Datadog receives, {original[key]!r} in the line")
        if "redash_service" in original and record.get("redash_service") != original["redash_service"]:
            fail(f"redash_service is not top-level: {record}")
        for key, value in original.items():
            if key not in record:
                fail(f"the line's {key} did not reach Datadog: {record}")
        left = sorted(k for k in REMAPPED if k in record)
        if left:
            fail(f"the ECS metadata {left} stays as attributes instead of tags (cluster_name, task_arn, …): set provider = ecs")
        tags = record.get("ddtags", "").split(",")
        missing = [t for t in expected_tags if t not in tags]
        if missing:
            fail(f"ddtags lack {missing}: {record.get('ddtags')}")
        checked += 1
        if checked == 1 and not quiet:
            print(f"check-firelens: what Datadog would receive for the first line: {json.dumps(record, ensure_ascii=False, sort_keys=True)}")
    if checked == 0:
        fail("no JSON log line to check")
    if not quiet:
        print(f"check-firelens: {checked} lines: message, level, timestamp, service, env, version and redash_service top-level, "
              f"each key once (service twice, the same), ddtags with {expected_tags}")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    source = sys.argv[2] if len(sys.argv) == 3 else os.path.join(HERE, "firelens-sample.jsonl")
    main(sys.argv[1], sys.stdin if source == "-" else open(source))
