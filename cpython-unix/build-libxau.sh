#!/usr/bin/env bash
# libXau (static): reads ~/.Xauthority, the cookies X servers ask clients for.
source /scripts/common.sh
./configure "${configure_host_args[@]}" --prefix="${PREFIX}" --disable-shared --enable-static
make -j"${JOBS}"
make install DESTDIR="${DESTDIR}"
drop_libtool_archives
rm -rf "${DESTDIR}${PREFIX}/share"
