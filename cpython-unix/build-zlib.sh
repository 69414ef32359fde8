#!/usr/bin/env bash
# zlib: static libz.a for the zlib and binascii modules.
source /scripts/common.sh
./configure --prefix="${PREFIX}" --static
make -j"${JOBS}"
make install DESTDIR="${DESTDIR}"
rm -rf "${DESTDIR}${PREFIX}/share"
