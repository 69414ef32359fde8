#!/usr/bin/env bash
# libpthread-stubs: only pthread-stubs.pc, which libxcb's configure requires (on glibc the
# threading functions are in libc/libpthread; nothing is compiled).
source /scripts/common.sh
./configure "${configure_host_args[@]}" --prefix="${PREFIX}"
make install DESTDIR="${DESTDIR}"
