#!/usr/bin/env bash
# One-command setup of morph3d: Debian libraries for headless OpenGL (when root with apt),
# a virtual environment in .venv with the package and its dev tools, and the model cache.
#
#   bash setup.sh [BFM_DIR]
#
# BFM_DIR (or $MORPH3D_BFM_DIR) is the shared bfm/ directory; default ../shared/data/bfm.
# $MORPH3D_DETECTORS_DIR holds the face detectors; default ../shared/data/detectors.
# The model cache is $MORPH3D_HOME or ~/.cache/morph3d. Running it again is safe and quick.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
say() { printf '[setup] %s\n' "$*"; }

bfm_dir="${1:-${MORPH3D_BFM_DIR:-$(cd .. && pwd)/shared/data/bfm}}"
detectors_dir="${MORPH3D_DETECTORS_DIR:-$(cd .. && pwd)/shared/data/detectors}"
apt_packages=(libegl1 libegl-mesa0 libgl1-mesa-dri libgl1 libopengl0 libglib2.0-0)

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    missing=()
    for package in "${apt_packages[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" ||
            missing+=("$package")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing Debian packages: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null
    else
        say "Debian packages already installed: ${apt_packages[*]}"
    fi
else
    say "not root or no apt-get: skipping ${apt_packages[*]} (needed for headless rendering)"
fi

python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    say "error: morph3d needs Python >= 3.11 ($python is $("$python" --version 2>&1))" >&2
    exit 1
fi
if [ -x .venv/bin/python ]; then
    say ".venv exists ($(.venv/bin/python --version))"
else
    say "creating .venv with $("$python" --version)"
    "$python" -m venv .venv
fi

say "installing morph3d[all] into .venv (inference, training, AR and dev tools)"
.venv/bin/python -m pip install --disable-pip-version-check -q -e ".[all]"

say "converting the morphable model from $bfm_dir"
.venv/bin/python bfm/convert_bfm.py --source "$bfm_dir"
say "copying the face detectors from $detectors_dir"
.venv/bin/python scripts/prepare_detectors.py --source "$detectors_dir"
say "compiling the tracker's kernels (numba; cached for every later run)"
.venv/bin/python -c "from morph3d.pipeline.tracker import Tracker; t = Tracker(); t.compiled and t.compiled.warm_up()"
say "done: run the tests with  .venv/bin/python -m pytest -q"
