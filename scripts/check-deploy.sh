#!/usr/bin/env bash
# Static checks of deploy/: every Terraform file parses (python-hcl2), checkov's IaC rules pass
# (a skipped check carries its reason in a `checkov:skip` comment next to the resource), and the
# IAM templates render to valid JSON. Run by scripts/test.sh; needs the .venv-deploy venv that
# scripts/bootstrap.sh creates.
set -euo pipefail
cd "$(dirname "$0")/.."
python=.venv-deploy/bin/python
[[ -x $python ]] || { echo "check-deploy: $python is missing: run scripts/bootstrap.sh" >&2; exit 1; }

echo "check-deploy: parsing every .tf file"
"$python" - <<'PY'
import pathlib, signal, sys
import hcl2
files = sorted(pathlib.Path("deploy/terraform").rglob("*.tf"))
if not files:
    sys.exit("check-deploy: no .tf files found")
# python-hcl2's parser has been seen to spin for many minutes on one file (a "$${" escape in a
# string with interpolations): give up on a file after 30 s instead of hanging CI.
def give_up(*_):
    raise TimeoutError("python-hcl2 did not finish within 30 s")
signal.signal(signal.SIGALRM, give_up)
for path in files:
    with open(path) as handle:
        signal.alarm(30)
        try:
            hcl2.load(handle)
        except Exception as error:
            sys.exit(f"check-deploy: {path} does not parse: {error}")
        finally:
            signal.alarm(0)
print(f"check-deploy: {len(files)} files parse")
PY

echo "check-deploy: rendering both IAM templates as the module does"
for kind in controller dry-run; do
  scripts/render-iam-policy.sh "$kind" eu-west-1 123456789012 redash redash-adhoc-worker | "$python" -c '
import json, sys
text = sys.stdin.read()
assert "${" not in text, "an unrendered template variable"
json.loads(text)'
done

echo "check-deploy: checkov"
.venv-deploy/bin/checkov --quiet --compact --framework terraform --download-external-modules false \
  --skip-download -d deploy/terraform
echo "check-deploy: ok"
