# Sourced by every build-<package>.sh.  The driver (pythonbuild/packages.py) sets:
#   PACKAGE VERSION SOURCE (tarball path) STRIP_COMPONENTS PREFIX (where dependencies are
#   installed, and where this package installs) JOBS TARGET_CFLAGS TARGET_LDFLAGS
#   SOURCE_DATE_EPOCH; the image sets CC AR RANLIB ... (see build.Dockerfile.j2).
# Packages install with DESTDIR=/out; the driver keeps /out as this package's artifact.
set -euo pipefail

: "${PACKAGE:?}" "${SOURCE:?}" "${PREFIX:?}" "${JOBS:?}"
DESTDIR=/out
SRC_DIR="/build/${PACKAGE}"

# Static, position-independent libraries (they end up inside libpython.so), optimized, and with
# no build directory recorded in objects or debug info.
export CFLAGS="${TARGET_CFLAGS:-} -O3 -fPIC -ffile-prefix-map=${SRC_DIR}=/${PACKAGE}"
export CXXFLAGS="${CFLAGS}"
export CPPFLAGS="-I${PREFIX}/include"
export LDFLAGS="${TARGET_LDFLAGS:-} -L${PREFIX}/lib"
# Only our dependencies' .pc files, never the build image's own.
export PKG_CONFIG_LIBDIR="${PREFIX}/lib/pkgconfig:${PREFIX}/share/pkgconfig"
export PKG_CONFIG_PATH=""

# A target of another CPU (the build image then sets BUILD_CC, this machine's compiler): autoconf
# configure scripts are told both machines, which makes them cross-compile: they run no test
# programs, and the tools a build runs itself (ncurses' and libX11's generators, SQLite's lemon)
# are compiled with CC_FOR_BUILD / BUILD_CC.
configure_host_args=()
if [[ -n "${BUILD_CC:-}" ]]; then
    configure_host_args=(--build="$(uname -m)-pc-linux-gnu" --host="${GNU_TRIPLE:?}")
fi

mkdir -p "${SRC_DIR}" "${DESTDIR}"
tar -xf "${SOURCE}" -C "${SRC_DIR}" --strip-components="${STRIP_COMPONENTS:-1}" --no-same-owner
cd "${SRC_DIR}"
echo "building ${PACKAGE} ${VERSION:-} in ${SRC_DIR} with ${JOBS} jobs"
echo "CC=${CC} CFLAGS=${CFLAGS} LDFLAGS=${LDFLAGS}"

# Remove libtool archives: they record build paths and are not needed for static linking.
drop_libtool_archives() {
    find "${DESTDIR}" -name '*.la' -delete
}

# Progress inside one package build: `stage NAME` starts a stage and reports how long the previous
# one took as "[stage] NAME: N s" (the driver collects these lines from the log); `stage` with no
# name ends the last one.
_stage_name=""
_stage_start=${SECONDS}
stage() {
    if [[ -n "${_stage_name}" ]]; then
        echo "[stage] ${_stage_name}: $((SECONDS - _stage_start)) s"
    fi
    _stage_name="${1:-}"
    _stage_start=${SECONDS}
    if [[ -n "${_stage_name}" ]]; then
        echo "=== ${_stage_name}"
    fi
}
