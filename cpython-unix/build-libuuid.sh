#!/usr/bin/env bash
# libuuid from util-linux: only the library, for the _uuid module.
source /scripts/common.sh
./configure "${configure_host_args[@]}" --prefix="${PREFIX}" --disable-all-programs --enable-libuuid \
    --disable-shared --enable-static --disable-nls --disable-bash-completion \
    --without-systemd --without-udev --without-python --without-tinfo --without-ncursesw \
    --disable-makeinstall-chown --disable-asciidoc --disable-poman
make -j"${JOBS}" libuuid.la
make install-uuidincHEADERS install-usrlib_execLTLIBRARIES install-pkgconfigDATA \
    DESTDIR="${DESTDIR}"
drop_libtool_archives
