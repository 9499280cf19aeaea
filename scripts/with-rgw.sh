#!/usr/bin/env bash
# with-rgw.sh COMMAND…: run COMMAND with the S3 tests pointed at a real Ceph RADOS Gateway.
# Starts the gateway with ../shared/s3/start-rgw.sh (or $RGW_SCRIPT; installs Ceph from Debian's
# packages on first use), passes its endpoint and keys to the tests in the environment (never on
# a command line), and stops it afterwards unless RGW_KEEP=1.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
script=${RGW_SCRIPT:-$here/../shared/s3/start-rgw.sh}
[[ -x $script || -f $script ]] || { echo "with-rgw: $script not found (set RGW_SCRIPT)" >&2; exit 2; }
line=$(bash "$script" start | grep '^endpoint=' | tail -1)
[[ -n $line ]] || { echo "with-rgw: the gateway printed no endpoint" >&2; exit 1; }
for field in $line; do
  case $field in
    endpoint=*) export CPV_TEST_RGW_ENDPOINT=${field#endpoint=} ;;
    access_key=*) export CPV_TEST_RGW_ACCESS_KEY=${field#access_key=} ;;
    secret_key=*) export CPV_TEST_RGW_SECRET_KEY=${field#secret_key=} ;;
  esac
done
status=0
"$@" || status=$?
[[ ${RGW_KEEP:-0} == 1 ]] || bash "$script" stop >/dev/null 2>&1 || true
exit $status
