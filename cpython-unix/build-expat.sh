#!/usr/bin/env bash
# expat: for pyexpat and _elementtree.  Debian's tarball is the release tag's git tree, which
# has no generated configure script, so CMake builds it.
source /scripts/common.sh
cmake -S expat -B cmake-build \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="${PREFIX}" \
    -DCMAKE_INSTALL_LIBDIR=lib \
    -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
    -DEXPAT_SHARED_LIBS=OFF \
    -DEXPAT_BUILD_TOOLS=OFF \
    -DEXPAT_BUILD_EXAMPLES=OFF \
    -DEXPAT_BUILD_TESTS=OFF \
    -DEXPAT_BUILD_DOCS=OFF
cmake --build cmake-build -j"${JOBS}"
DESTDIR="${DESTDIR}" cmake --install cmake-build
rm -rf "${DESTDIR}${PREFIX}/share"
