# Sourced by scripts/serve and scripts/test: create .venv and install mianzheng into it, with
# the versions constraints.txt pins (the ones the suite runs against; scripts/refresh-constraints
# renews them). The install is skipped when neither pyproject.toml nor constraints.txt has
# changed since the last one, so running a script again is fast and safe.

find_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "mianzheng needs Python 3.11 or newer on PATH" >&2
  return 1
}

ensure_venv() {  # ensure_venv EXTRA   ("" for the service, "dev" for the suite)
  local extra=$1 spec=. stamp python
  [ -n "$extra" ] && spec=".[$extra]"
  stamp=".venv/.installed${extra:+-$extra}"
  if [ ! -x .venv/bin/python ]; then
    python=$(find_python) || return 1
    "$python" -m venv .venv
  fi
  local want
  want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet --constraint constraints.txt --editable "$spec"
    echo "$want" > "$stamp"
  fi
}
