#!/usr/bin/env bash
# ncurses (wide-character): for _curses, _curses_panel and libedit.  No terminfo database is
# shipped: at run time ncurses reads the system's, so the search path names the usual places.
# ARFLAGS: configure picks -curvU, which stores real file times in the archives; without U the
# archiver (llvm-ar) writes zeros, so two builds give the same libncursesw.a.
source /scripts/common.sh
./configure "${configure_host_args[@]}" --prefix="${PREFIX}" \
    --without-shared --without-debug --without-cxx --without-cxx-binding --without-ada \
    --without-manpages --without-progs --without-tests --disable-db-install \
    --enable-widec --enable-pc-files --with-pkg-config-libdir="${PREFIX}/lib/pkgconfig" \
    --with-default-terminfo-dir=/usr/share/terminfo \
    --with-terminfo-dirs=/etc/terminfo:/lib/terminfo:/usr/share/terminfo:/usr/lib/terminfo
make -j"${JOBS}" ARFLAGS=-curv
make install ARFLAGS=-curv DESTDIR="${DESTDIR}"
# Consumers that only probe for the narrow names (libedit's configure) find the wide library.
for lib in ncurses panel menu form; do
    ln -sf "lib${lib}w.a" "${DESTDIR}${PREFIX}/lib/lib${lib}.a"
done
rm -rf "${DESTDIR}${PREFIX}/share" "${DESTDIR}${PREFIX}/bin"
