#!/usr/bin/env bash
# libuuid from util-linux: only the library, for the _uuid module.
source /scripts/common.sh
# A 32-bit CPU at a glibc floor older than 2.34 has only a 32-bit time_t (glibc 2.34 added the
# 64-bit one there), which configure refuses unless told: uuid_time() of a time-based UUID
# then wraps in 2038, as on such a system's own libuuid.
year2038=()
if ! printf '#include <time.h>\n_Static_assert(sizeof(time_t) >= 8, "");\n' \
        | ${CC} ${CFLAGS} -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64 -x c -c -o /dev/null - 2>/dev/null; then
    year2038=(--disable-year2038)
fi
./configure "${configure_host_args[@]}" "${year2038[@]}" --prefix="${PREFIX}" \
    --disable-all-programs --enable-libuuid \
    --disable-shared --enable-static --disable-nls --disable-bash-completion \
    --without-systemd --without-udev --without-python --without-tinfo --without-ncursesw \
    --disable-makeinstall-chown --disable-asciidoc --disable-poman
make -j"${JOBS}" libuuid.la
make install-uuidincHEADERS install-usrlib_execLTLIBRARIES install-pkgconfigDATA \
    DESTDIR="${DESTDIR}"
drop_libtool_archives
