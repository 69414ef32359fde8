#!/usr/bin/env bash
# libedit: BSD-licensed line editing for the readline module (never GNU readline).
source /scripts/common.sh
export CPPFLAGS="${CPPFLAGS} -I${PREFIX}/include/ncursesw"
# libedit refuses to build unless __STDC_ISO_10646__ says wchar_t holds Unicode code points.
# The C library says so in stdc-predef.h, which GCC includes before every file on any Linux but
# clang only for glibc; musl's does say so (its wchar_t is UTF-32), so include it here.
if [[ "${GNU_TRIPLE:?}" == *-musl ]]; then
    CPPFLAGS+=" -include stdc-predef.h"
fi
./configure "${configure_host_args[@]}" --prefix="${PREFIX}" --disable-shared --enable-static --disable-examples
make -j"${JOBS}"
make install DESTDIR="${DESTDIR}"
drop_libtool_archives
rm -rf "${DESTDIR}${PREFIX}/share"
