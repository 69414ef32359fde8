#!/usr/bin/env bash
# bzip2: only the library (libbz2.a) and its header; upstream has a plain Makefile.
source /scripts/common.sh
make -j"${JOBS}" libbz2.a CC="${CC}" AR="${AR}" RANLIB="${RANLIB}" \
    CFLAGS="${CFLAGS} -D_FILE_OFFSET_BITS=64"
install -D -m 0644 bzlib.h "${DESTDIR}${PREFIX}/include/bzlib.h"
install -D -m 0644 libbz2.a "${DESTDIR}${PREFIX}/lib/libbz2.a"
