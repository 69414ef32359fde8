#!/usr/bin/env bash
# Tk 8.6 for X11: libtk8.6.a (and its stub library) for _tkinter, and the script library
# (lib/tk8.6) that build-cpython.sh copies into the installation.
# Without Xft (and so without fontconfig and freetype): Tk draws with the X server's core fonts,
# which every X server has; anti-aliased fonts would add three libraries and their data.
# Without the XScreenSaver extension (libXss): only `tk inactive` uses it.
source /scripts/common.sh
cd unix
# The static libX11 needs libxcb and libXau after it on every link line (wish's here,
# _tkinter's later).
x11_libs=$(pkg-config --static --libs x11)
./configure "${configure_host_args[@]}" --prefix="${PREFIX}" --disable-shared --enable-threads \
    --with-tcl="${PREFIX}/lib" --disable-xft --disable-xss \
    --x-includes="${PREFIX}/include" --x-libraries="${PREFIX}/lib" \
    LIBS="${x11_libs}"
make -j"${JOBS}"
make install-binaries install-libraries install-headers DESTDIR="${DESTDIR}"
# The demos (widget tour, games) are not part of what tkinter needs; wish is not shipped.
rm -rf "${DESTDIR}${PREFIX}/bin" "${DESTDIR}${PREFIX}/share" \
    "${DESTDIR}${PREFIX}/lib/tk8.6/demos"
