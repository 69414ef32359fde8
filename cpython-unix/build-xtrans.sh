#!/usr/bin/env bash
# xtrans: the transport code (sources and headers) that libX11 compiles into itself.
source /scripts/common.sh
./configure "${configure_host_args[@]}" --prefix="${PREFIX}" --without-xmlto --without-fop --without-xsltproc
make install DESTDIR="${DESTDIR}"
# xtrans.pc goes to share/pkgconfig; the documentation does not ship.
rm -rf "${DESTDIR}${PREFIX}/share/doc"
