#!/usr/bin/env bash
# libX11 (static): the X11 client library Tk draws with.
#   --disable-loadable-i18n, --disable-loadable-xcursor: no dlopen of locale modules or of the
#     system's libXcursor at run time (a static library cannot load its own modules, and
#     nothing of the host's X11 installation may be needed).
#   --datadir=/usr/share: libX11 reads its locale database, XErrorDB and XKeysymDB from
#     <datadir>/X11 at run time, where distributions install them (libx11-data); without them
#     libX11 still works (no input-method compose tables, terser error texts). The files built
#     here are not shipped.
source /scripts/common.sh
./configure "${configure_host_args[@]}" --prefix="${PREFIX}" --datadir=/usr/share --disable-shared --enable-static \
    --disable-loadable-i18n --disable-loadable-xcursor --disable-xf86bigfont \
    --disable-specs --without-xmlto --without-fop --without-xsltproc --without-lint
make -j"${JOBS}"
make install DESTDIR="${DESTDIR}"
drop_libtool_archives
rm -rf "${DESTDIR}/usr"
