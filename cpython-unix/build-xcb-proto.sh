#!/usr/bin/env bash
# xcb-proto: the XML descriptions of the X protocol that libxcb generates its C code from, and
# xcb-proto.pc, from Debian's xcb-proto package (downloads.yml says why a binary package).
# pythondir points at where build-xcbgen.sh installs the generator (Debian's layout).
# common.sh is not sourced: it unpacks source tarballs, and this is a .deb.
set -euo pipefail
: "${SOURCE:?}" "${PREFIX:?}"
DESTDIR=/out
unpacked=/build/xcb-proto
mkdir -p "${unpacked}"
dpkg-deb -x "${SOURCE}" "${unpacked}"
mkdir -p "${DESTDIR}${PREFIX}/share/pkgconfig"
cp -a "${unpacked}/usr/share/xcb" "${DESTDIR}${PREFIX}/share/"
sed -e "s#^prefix=/usr\$#prefix=${PREFIX}#" \
    -e "s#^pythondir=.*#pythondir=\${prefix}/lib/python3/dist-packages#" \
    "${unpacked}/usr/share/pkgconfig/xcb-proto.pc" \
    > "${DESTDIR}${PREFIX}/share/pkgconfig/xcb-proto.pc"
cat "${DESTDIR}${PREFIX}/share/pkgconfig/xcb-proto.pc"
