#!/usr/bin/env bash
# Install what voms-auth's demo and tests need on a Debian 12 machine (as root):
# Debian packages (VOMS clients, Apache with mod_ssl/mod_gridsite, Node.js for
# the OpenID Provider used in tests) and a tools venv holding tox.
# Idempotent: packages already present are not reinstalled.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
    voms-clients        # voms-proxy-fake / voms-proxy-info: real proxies in tests
    openssl
    git
    apache2 apache2-dev # end-to-end suite: Apache + mod_ssl, mod_wsgi build
    gridsite            # mod_gridsite: lets mod_ssl accept proxy client certs
    nodejs npm          # the OpenID Provider run by the OIDC tests
    mariadb-server      # tests/mariadb: a private server started by the tests
    memcached           # Keystone's [cache] backend in multi-process tests
    haproxy             # multinode suite: TCP-mode load balancer before two nodes
    chromium chromium-driver     # Horizon WebSSO test in a headless browser
    libapache2-mod-auth-openidc  # Keystone's websso path behind mod_auth_openidc
    voms-server voms-mysql-plugin # a real vomsd issuing ACs in the e2e suite
    iproute2            # ip/ss: the private network namespace of the vomsd tests
    python3-venv python3-dev gcc
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
        || missing+=("$pkg")
done
# nodejs from another source (e.g. NodeSource) brings its own npm.
if command -v node >/dev/null && command -v npm >/dev/null; then
    filtered=()
    for pkg in "${missing[@]}"; do
        [[ "$pkg" == nodejs || "$pkg" == npm ]] || filtered+=("$pkg")
    done
    missing=("${filtered[@]}")
fi
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
VENV=${VOMS_AUTH_TOOLS_VENV:-.venv}
if [ ! -x "$VENV/bin/tox" ]; then
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install -q -U pip
    "$VENV/bin/pip" install -q 'tox>=4'
fi
