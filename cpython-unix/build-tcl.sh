#!/usr/bin/env bash
# Tcl 8.6: libtcl8.6.a (and its stub library) for _tkinter, and the script library
# (lib/tcl8.6, lib/tcl8) that build-cpython.sh copies into the installation.
# patches/tcl/find-library-beside-code.patch (8.6.18): Tcl finds lib/tcl8.6 relative to the file
# its code was loaded from (bin/python3.X or lib/libpython3.X.so), so a relocated installation
# and its virtual environments need no TCL_LIBRARY.
# zlib: Tcl's zlib command uses the bundled zlib instead of compiling its own copy (compat/zlib).
source /scripts/common.sh
patch -p1 < /scripts/find-library-beside-code.patch
cd unix
./configure "${configure_host_args[@]}" --prefix="${PREFIX}" --disable-shared --enable-threads
make -j"${JOBS}"
make install-binaries install-libraries install-msgs install-tzdata install-headers \
    DESTDIR="${DESTDIR}"
# tclsh is not shipped: Python embeds Tcl. The documentation is not shipped either.
rm -rf "${DESTDIR}${PREFIX}/bin" "${DESTDIR}${PREFIX}/share"
