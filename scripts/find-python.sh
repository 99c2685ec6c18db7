#!/usr/bin/env bash
# Print the path of a Python interpreter of the given minor version (e.g. 3.10).
# Looks on PATH first, then under pyenv. Exits 1 with advice when none is found.
set -euo pipefail
want="${1:?usage: find-python.sh 3.10}"
works() { [[ -x "$1" ]] && [[ "$("$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" == "$want" ]]; }
for cand in "$(command -v "python$want" 2>/dev/null || true)" "$(command -v python3 2>/dev/null || true)"; do
  if [[ -n "$cand" ]] && works "$cand"; then
    # pyenv shims resolve to a real interpreter; print that so venvs do not depend on the shim.
    "$cand" -c 'import sys; print(sys.executable)'; exit 0
  fi
done
if command -v pyenv >/dev/null 2>&1; then
  for dir in "$(pyenv root)"/versions/"$want"*; do
    if works "$dir/bin/python$want"; then echo "$dir/bin/python$want"; exit 0; fi
  done
fi
echo "error: Python $want is needed but was not found on PATH or under pyenv." >&2
echo "       Install it (e.g. 'pyenv install $want' or 'apt-get install python$want python$want-venv') and run make again." >&2
exit 1
