#!/usr/bin/env bash
# mpdecimal: libmpdec for _decimal (the C++ binding is not needed).
source /scripts/common.sh
./configure "${configure_host_args[@]}" --prefix="${PREFIX}" --disable-shared --disable-cxx
make -j"${JOBS}"
make install DESTDIR="${DESTDIR}"
rm -rf "${DESTDIR}${PREFIX}/share"
