#!/usr/bin/env bash
# `make test`: conversation tests (rasa test, in the Rasa virtualenv) and pytest (in the
# action-server virtualenv; tests that need servers start them once per session through
# the `servers` fixture in tests/conftest.py). Arguments go to pytest (default: all of tests/), e.g.
#   scripts/run-tests.sh -k language -x
# Runs every part even when one fails; exits non-zero if any part failed.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" KOMMUNEBOT_HOME="$root"
export RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=2 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

model="${KOMMUNEBOT_TEST_RASA_MODEL:-models/rasa}"
results="var/test-results"
mkdir -p "$results"
declare -a summary=()
status=0

part() {  # part NAME EXIT_CODE [NOTE]
  if [[ "$2" == 0 ]]; then summary+=("  PASS  $1${3:+  ($3)}"); else summary+=("  FAIL  $1 (exit $2)${3:+  ($3)}"); status=1; fi
}

if ! ls "$model"/*.tar.gz >/dev/null 2>&1 && [[ ! -f "$model" ]]; then
  echo "run-tests: no trained Rasa model in $model; run 'make train' first." >&2
  exit 2
fi

echo "==> Conversation tests: rasa test core --stories tests/test_stories.yml --fail-on-prediction-errors"
start=$SECONDS
# Custom actions are not executed by `rasa test` (it checks the predicted actions against
# the stories), so no action server is needed here; pytest covers the live servers.
.venv/rasa/bin/rasa test core --stories tests/test_stories.yml --model "$model" \
  --fail-on-prediction-errors --out "$results/stories" 2>&1 \
  | grep -E "rasa\.core\.test|Exception|Error|Failed|failed|story|^ *- |intent|action" \
  | grep -v -E "Warning|warn\(|it/s\]|Processed" | tail -n 60
code=${PIPESTATUS[0]}
part "conversation tests (tests/test_stories.yml)" "$code" "$((SECONDS - start)) s; report: $results/stories"

echo "==> pytest (tests/)"
start=$SECONDS
.venv/actions/bin/python -m pytest "$@"  # pytest.ini: testpaths = tests
code=$?
if [[ "$code" == 5 ]]; then
  part "pytest" "$code" "no tests collected: check the arguments"
else
  part "pytest" "$code" "$((SECONDS - start)) s"
fi

echo
echo "==> Test summary"
printf '%s\n' "${summary[@]}"
exit "$status"
