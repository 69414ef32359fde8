#!/usr/bin/env bash
# libffi: for _ctypes.
source /scripts/common.sh
# Debian's tarball is the release tag's git tree: generate the configure script first.
[ -x configure ] || autoreconf -fi
./configure "${configure_host_args[@]}" --prefix="${PREFIX}" --disable-shared --enable-static --disable-docs \
    --disable-multi-os-directory
make -j"${JOBS}"
make install DESTDIR="${DESTDIR}"
drop_libtool_archives
rm -rf "${DESTDIR}${PREFIX}/share"
