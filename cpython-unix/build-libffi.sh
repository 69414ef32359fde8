#!/usr/bin/env bash
# libffi: for _ctypes.
source /scripts/common.sh
# Debian's tarball is the release tag's git tree: generate the configure script first.
[ -x configure ] || autoreconf -fi
# The s390x assembly names registers bare in its .cfi_* directives (r13), which GNU as accepts
# and clang's assembler does not ("register expected"): spell them %r13. (Assembled on s390x only.)
sed -i -E 's/^([[:space:]]*\.cfi_[a-z_]+[[:space:]]+)r([0-9]+)/\1%r\2/' src/s390/sysv.S
# patches/libffi/riscv-float-nan-boxing.patch (3.5.2): riscv64 passes and returns float
# arguments NaN-boxed in its 64-bit registers; the original code relies on GCC's handling of a
# tied asm operand, which clang turns into a float-to-double conversion (ctypes calls with
# float arguments got wrong values). Compiled on riscv64 only.
patch -p1 < /scripts/riscv-float-nan-boxing.patch
./configure "${configure_host_args[@]}" --prefix="${PREFIX}" --disable-shared --enable-static --disable-docs \
    --disable-multi-os-directory
make -j"${JOBS}"
make install DESTDIR="${DESTDIR}"
drop_libtool_archives
rm -rf "${DESTDIR}${PREFIX}/share"
