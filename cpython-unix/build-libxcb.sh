#!/usr/bin/env bash
# libxcb (static): the X protocol library under libX11. Only the core protocol library: the
# extension libraries (libxcb-render, -shm, -xkb, ...) are not used by libX11 or Tk.
# The protocol C code is generated from xcb-proto's XML by its Python generator (xcbgen),
# which build-xcbgen.sh installed where xcb-proto.pc's pythondir points.
source /scripts/common.sh
extensions=(composite damage dbe dpms dri2 dri3 glx present randr record render resource
    screensaver shape shm sync xevie xfixes xfree86-dri xinerama xinput xkb xprint
    selinux xtest xv xvmc)
./configure "${configure_host_args[@]}" --prefix="${PREFIX}" --disable-shared --enable-static --disable-devel-docs \
    --without-doxygen "${extensions[@]/#/--disable-}"
make -j"${JOBS}"
make install DESTDIR="${DESTDIR}"
drop_libtool_archives
rm -rf "${DESTDIR}${PREFIX}/share"
