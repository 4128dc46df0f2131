#!/usr/bin/env bash
# The device check (attune/bench/device.py). On the GPU machine, through the device tool:
#   run(command="bash scripts/device-check.sh", carry=[".whl", ".device"], timeout_s=540)
# it installs what that image lacks from the wheels in .whl/ (made here by `make device-prepare`)
# and writes $OUT/device_check.json. Here, `make device-check` runs it on the CPU as a dry run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-python3}"
OUT="${OUT:-.device-out}"
missing=()
for module in pydantic pydantic_settings dotenv; do
  "$PY" -c "import $module" 2>/dev/null || missing+=("$module")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing from .whl: ${missing[*]}" >&2
  "$PY" -m pip install -q --no-index --find-links .whl pydantic pydantic-settings python-dotenv
fi
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec "$PY" -m attune.bench.device --device "${DEVICE:-cuda}" --out "$OUT" ${QUICK:+--quick}
