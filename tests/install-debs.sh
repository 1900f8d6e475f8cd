#!/usr/bin/env bash
# Installs the Debian packages that the tests (make test) and the demo (make run) start for
# themselves (given as arguments), when some are missing: without their recommended packages, and leaving none of their
# services running or enabled. The tests start their own servers on loopback ports; a
# developer's machine should not gain an InfluxDB listening on 8086 at every boot.
set -euo pipefail

missing=()
for package in "$@"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
echo "installing Debian packages for the tests: ${missing[*]}"

# A policy-rc.d that answers 101 forbids the packages' maintainer scripts to start their
# services (Debian policy, "invoke-rc.d"); ours only for the time of the install.
policy=/usr/sbin/policy-rc.d
ours=""
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    ours=yes
fi
trap '[ -z "$ours" ] || $sudo rm -f "$policy"' EXIT

$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"

# Their maintainer scripts enable their services for the next boot: disable them again.
for package in "${missing[@]}"; do
    for unit in $(dpkg -L "$package" | grep -E '^/(usr/)?lib/systemd/system/[^/]+\.(service|socket|timer)$' || true); do
        $sudo systemctl --quiet disable "$(basename "$unit")" || true
    done
    for script in $(dpkg -L "$package" | grep -E '^/etc/init\.d/[^/]+$' || true); do
        $sudo update-rc.d "$(basename "$script")" disable >/dev/null 2>&1 || true
    done
done
enabled=$(find /etc/systemd/system -type l -path '*.wants/*' \
    \( $(printf -- '-name %s.service -o ' "${missing[@]}") -false \) 2>/dev/null || true)
if [ -n "$enabled" ]; then
    echo "still enabled after the install, disable them by hand: $enabled" >&2
    exit 1
fi
