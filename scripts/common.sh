# Shared by scripts/demo and scripts/test: install what is missing, configure, build.
# Sourced, not executed. Honours NPLM_BUILD_DIR (default: build).
set -euo pipefail

NPLM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NPLM_BUILD_DIR=${NPLM_BUILD_DIR:-$NPLM_ROOT/build}

# Debian 12 packages the build, the tests and the docs need (python3-numpy, -pytest and
# -matplotlib: the nplm command's and the Python binding's tests; clang: the libFuzzer target
# of the command's readers; libhdf5-dev and python3-h5py: HDF5 inputs and their test;
# OpenMPI: mpirun -np N nplm calibrate and its test).
NPLM_PACKAGES=(build-essential meson ninja-build pkg-config libopenblas-pthread-dev liblapacke-dev
  libcriterion-dev doxygen librandom123-dev valgrind python3 python3-numpy python3-pytest
  python3-matplotlib clang libhdf5-dev python3-h5py libopenmpi-dev openmpi-bin)

nplm_install_packages() {
  local missing=()
  for p in "${NPLM_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "==> installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# nplm_build DIR [meson options...]: configure DIR if needed, then build it.
nplm_build() {
  local dir=$1
  shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$NPLM_ROOT" "$@"
  fi
  ninja -C "$dir"
}
