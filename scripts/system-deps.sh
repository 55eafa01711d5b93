#!/usr/bin/env bash
# Debian packages the test suite drives for real: Chromium (UI tests), ffmpeg (RTSP camera server),
# h5dump (hdf5-tools: radiometric files read by a stock HDF5 tool), mosquitto (the MQTT tests start their own broker).
set -euo pipefail
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
command -v h5dump >/dev/null || need+=(hdf5-tools)
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)  # MQTT broker (tests/test_mqtt.py)
if ((${#need[@]})); then
  echo "installing Debian packages: ${need[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
