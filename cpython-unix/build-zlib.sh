#!/usr/bin/env bash
# zlib: static libz.a for the zlib and binascii modules.
source /scripts/common.sh
# deflate's match search compares two bytes per load where unaligned loads are cheap, as
# Debian's amd64 and i386 builds do: same output, about 5 % faster round trips of 1 MiB of text.
case "${GNU_TRIPLE:?}" in
    x86_64-* | i?86-*) CFLAGS+=" -DUNALIGNED_OK" ;;
esac
# --disable-crcvx: Debian's tarball keeps only contrib/minizip of zlib's contrib/, and so lacks
# the IBM Z vector CRC-32 (contrib/crc32vx) that configure would build on s390x; the portable
# CRC-32 serves there, as on every other CPU.
./configure --prefix="${PREFIX}" --static --disable-crcvx
make -j"${JOBS}"
make install DESTDIR="${DESTDIR}"
rm -rf "${DESTDIR}${PREFIX}/share"
