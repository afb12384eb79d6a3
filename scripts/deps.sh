#!/usr/bin/env bash
# Installs sci_infer's Debian build and test dependencies if any is missing (needs root).
set -euo pipefail
PKGS="cmake g++ make mpich libmpich-dev libhdf5-mpich-dev libdnnl-dev ocl-icd-opencl-dev \
libtrilinos-kokkos-dev catch2 libcli11-dev nlohmann-json3-dev libssl-dev python3-numpy python3-h5py shellcheck wamerican \
python3-torch python3-sentencepiece python3-tqdm"
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  echo "[deps] installing:$missing"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
