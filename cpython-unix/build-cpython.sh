#!/usr/bin/env bash
# CPython: configure against the dependency tree in ${PREFIX}, compile the extension modules into
# libpython (all but SHARED_MODULES; never DISABLED_MODULES), install into /out/install and export
# what PYTHON.json and relinking need:
#   /out/install      the installation (prefix /install; the driver makes it relocatable)
#   /out/build-tree   object files and static libraries at their build-relative paths, plus the
#                     Makefile, pyconfig.h, Setup files, config.c and make-vars.json
#   /out/deps         the dependency tree (static libraries and headers)
#   /out/facts.json   what the built interpreter reports about itself (collect-facts.py)
source /scripts/common.sh
: "${PYTHON_VERSION:?}" "${BUILD_OPTIONS:?}"
BUILD_PREFIX=/install

# Static dependencies need their private link flags (e.g. libcrypto -> -ldl -pthread).
cat > /usr/local/bin/pkg-config-static <<'EOF'
#!/bin/sh
exec pkg-config --static "$@"
EOF
chmod +x /usr/local/bin/pkg-config-static
export PKG_CONFIG=/usr/local/bin/pkg-config-static

# -Wl,--exclude-libs,ALL: symbols of the bundled static libraries stay inside libpython instead
# of being exported to (and clashing with) extension modules that bring their own copies.
export LDFLAGS="${LDFLAGS} -Wl,--exclude-libs,ALL"
export CFLAGS="${TARGET_CFLAGS:-} -ffile-prefix-map=${SRC_DIR}=/cpython"
# Every module CPython's configure enables is compiled in unless Setup.local says otherwise.
export MODULE_BUILDTYPE=static

configure_args=(
    --prefix="${BUILD_PREFIX}"
    --enable-shared
    --with-ensurepip=install
    --with-system-expat
    --with-system-libmpdec
    --with-readline=editline
    --with-openssl="${PREFIX}"
    --with-openssl-rpath=no
    --enable-loadable-sqlite-extensions
    --with-dbmliborder=
    --with-computed-gotos
)
case "${BUILD_OPTIONS}" in
    noopt) ;;
    *) echo "build options ${BUILD_OPTIONS} are not supported by this script yet" >&2; exit 2 ;;
esac

./configure "${configure_args[@]}"

# Setup.local is read first and its first rule for a module wins: test-support modules become
# shared objects again, and disabled modules are never built.
{
    echo "# Written by build-cpython.sh from cpython-unix/extension-modules.yml"
    echo "*shared*"
    for module in ${SHARED_MODULES:-}; do
        grep -E "^${module}( |$)" Modules/Setup.stdlib || true
    done
    echo "*disabled*"
    for module in ${DISABLED_MODULES:-}; do
        echo "${module}"
    done
} > Modules/Setup.local
cat Modules/Setup.local
# Regenerate the Makefile from the new Setup.local before building.
make -s Makefile Modules/config.c

make -j"${JOBS}"
make install DESTDIR=/out

# The interpreter finds libpython next to itself wherever the tree is extracted.
major_minor="${PYTHON_VERSION}"
patchelf --set-rpath '$ORIGIN/../lib' "/out${BUILD_PREFIX}/bin/python${major_minor}"

/out${BUILD_PREFIX}/bin/python3 /scripts/collect-facts.py > /out/facts.json

# Objects and static libraries for relinking, at their build-relative paths.
mkdir -p /out/build-tree/Modules
find . \( -name '*.o' -o -name '*.a' \) -type f | LC_ALL=C sort | tar -cf - -T - | tar -xf - -C /out/build-tree
cp Makefile pyconfig.h /out/build-tree/
cp Modules/Setup.local Modules/Setup.stdlib Modules/Setup.bootstrap Modules/config.c /out/build-tree/Modules/

# Makefile variables as make expands them (defined in the Makefile itself, not the environment).
cat > /tmp/dump-make-vars.mk <<'EOF'
dump-make-vars:
	$(file >/tmp/make-vars.txt)$(foreach v,$(sort $(.VARIABLES)),$(if $(filter file,$(origin $(v))),$(file >>/tmp/make-vars.txt,$(v)=$(subst $(newline), ,$($(v))))))
define newline


endef
EOF
make -s --no-print-directory -f Makefile -f /tmp/dump-make-vars.mk dump-make-vars
python3 - /tmp/make-vars.txt /out/build-tree/make-vars.json <<'EOF'
import json, sys
variables = {}
for line in open(sys.argv[1], encoding="utf-8", errors="surrogateescape"):
    name, sep, value = line.rstrip("\n").partition("=")
    if sep:
        variables[name] = value
json.dump(variables, open(sys.argv[2], "w"), indent=1, sort_keys=True)
EOF

mkdir -p /out/deps
cp -a "${PREFIX}/." /out/deps/
