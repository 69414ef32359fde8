#!/usr/bin/env bash
# libedit: BSD-licensed line editing for the readline module (never GNU readline).
source /scripts/common.sh
export CPPFLAGS="${CPPFLAGS} -I${PREFIX}/include/ncursesw"
./configure "${configure_host_args[@]}" --prefix="${PREFIX}" --disable-shared --enable-static --disable-examples
make -j"${JOBS}"
make install DESTDIR="${DESTDIR}"
drop_libtool_archives
rm -rf "${DESTDIR}${PREFIX}/share"
