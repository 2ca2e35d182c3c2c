#!/usr/bin/env bash
# System packages the integration tests use against the real thing:
# redis-server (cache tier), prometheus + promtool (scraping), docker-compose
# (compose file validation). Installed when missing; tests skip with a clear
# reason only if installation is impossible here.
set -u
need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing test system packages: ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  ($SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}") >/tmp/vectorizer-apt.log 2>&1 \
    || echo "warning: could not install ${need[*]} (see /tmp/vectorizer-apt.log); tests that need them will skip"
fi
exit 0
