#!/usr/bin/env bash
# Install cellsrun into a virtual environment and link its commands into PREFIX/bin.
#
#   ./install.sh [--prefix DIR] [--dev] [--boot | --no-boot]
#
#   --prefix DIR  install under DIR (default: $PREFIX, else ~/.local):
#                 DIR/share/cellsrun/venv   the virtual environment
#                 DIR/bin/{cellsrun,supervisord,supervisorctl}  links
#   --dev         install this checkout in editable mode, with the test tools
#                 (both installs include the extras `web` (cellsrun web) and `fast` (isal))
#   --boot        add an @reboot crontab entry that runs `cellsrun start` (no systemd needed)
#   --no-boot     remove that entry
#
# Idempotent: running it again upgrades in place. Needs Python >= 3.11 ($PYTHON to choose one).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
prefix=${PREFIX:-$HOME/.local}
dev=0
boot=""

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    --dev) dev=1; shift ;;
    --boot) boot=add; shift ;;
    --no-boot) boot=remove; shift ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "Error: unknown option $1 (see ./install.sh --help)" >&2; exit 2 ;;
  esac
done

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Error: $python is missing or older than Python 3.11 (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi

share="$prefix/share/cellsrun"
venv="$share/venv"
mkdir -p "$prefix/bin" "$share"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
if [ "$dev" = 1 ]; then
  # compat mode: a plain .pth path entry; the default import hook costs ~15 ms per start
  "${pip[@]}" -e "$here[web,fast,test]" --config-settings editable_mode=compat
else
  # From a copy (symlinks kept): pip builds in the source tree, and a build/ left in the
  # checkout would both litter it and carry removed modules into the next wheel.
  src=$(mktemp -d)
  trap 'rm -rf "$src"' EXIT
  tar -C "$here" --exclude=./.git --exclude=./build --exclude=./dist --exclude='*.egg-info' \
      --exclude=__pycache__ -cf - . | tar -C "$src" -xf -
  "${pip[@]}" --upgrade "$src[web,fast]"
fi

# The supervisord templates ship inside the package (cellsrun/etc); an older install kept a copy here.
rm -rf "$share/etc"

for cmd in cellsrun supervisord supervisorctl; do
  ln -sfn "$venv/bin/$cmd" "$prefix/bin/$cmd"
done

if [ -n "$boot" ]; then
  if ! command -v crontab >/dev/null 2>&1; then
    echo "Error: --boot needs cron's crontab command (Debian: apt-get install cron)" >&2
    exit 1
  fi
  marker="# cellsrun: start at boot"
  line="@reboot $prefix/bin/cellsrun start >/dev/null 2>&1 $marker"
  current=$(crontab -l 2>/dev/null | grep -vF "$marker" || true)
  if [ "$boot" = add ]; then
    printf '%s\n%s\n' "$current" "$line" | sed '/^$/d' | crontab -
    echo "cellsrun will start at boot (crontab: @reboot)"
  else
    printf '%s\n' "$current" | sed '/^$/d' | crontab -
    echo "cellsrun no longer starts at boot"
  fi
fi

echo "cellsrun installed: $prefix/bin/cellsrun ($("$venv/bin/cellsrun" --version))"
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) echo "note: $prefix/bin is not on PATH; add it, or run $prefix/bin/cellsrun" ;;
esac
