#!/usr/bin/env bash
# CPython: configure against the dependency tree in ${PREFIX}, compile the extension modules into
# libpython (all but SHARED_MODULES; never DISABLED_MODULES), install into /out/install and export
# what PYTHON.json and relinking need:
#   /out/install      the installation (prefix /install; the driver makes it relocatable); a
#                     +static build's is one executable with musl linked in (no libpython.so)
#   /out/build-tree   object files and static libraries at their build-relative paths, plus the
#                     Makefile, pyconfig.h, Setup files, config.c and make-vars.json
#   /out/deps         the dependency tree (static libraries and headers)
#   /out/facts.json   what the built interpreter reports about itself (collect-facts.py)
#   /out/stripped     the installation's ELF files without debug information (install_only_stripped)
source /scripts/common.sh
: "${PYTHON_VERSION:?}" "${BUILD_OPTIONS:?}"
BUILD_PREFIX=/install

# Static dependencies need their private link flags (e.g. libcrypto -> -ldl -pthread). A wrapper
# first on PATH, not PKG_CONFIG=..., so no build-only path is recorded in sysconfig's CONFIG_ARGS.
cat > /usr/local/bin/pkg-config <<'EOF'
#!/bin/sh
exec /usr/bin/pkg-config --static "$@"
EOF
chmod +x /usr/local/bin/pkg-config
unset PKG_CONFIG_PATH

# --exclude-libs: symbols of the bundled static libraries stay inside libpython and python instead
# of being exported to (and clashing with) extension modules that bring their own copies.
# (Not ALL: the interpreter must keep exporting libpython's own API from libpython3.X.a.)
# *_NODIST flags build the interpreter and stdlib but stay out of the flags sysconfig hands to
# people compiling their own extensions. -fno-semantic-interposition lets the compiler inline and
# call libpython's own functions directly instead of through the PLT (configure adds it only for
# --enable-optimizations builds; we want it for all of them).
bundled_archives=$(cd "${PREFIX}/lib" && ls -1 *.a | LC_ALL=C sort | paste -sd: -)
# Libraries GCC's runtime answers statically (targets.yml runtime_link_names; i686: libatomic,
# which OpenSSL's libcrypto needs for 64-bit atomics) are linked from the start, or configure's
# OpenSSL check, which comes before its own libatomic check, fails to link; and like the bundled
# archives, their symbols are not exported.
for name in ${RUNTIME_LINK_NAMES:-}; do
    export LIBS="${LIBS:-} -l${name}"
    bundled_archives+=":lib${name}.a"
done
# Modules link without LIBS: the one configure links with libatomic (_testcapi) still needs it,
# which configure would only name itself if its check, with LIBS as above, found it missing.
if [[ " ${RUNTIME_LINK_NAMES:-} " == *" atomic "* ]]; then
    export LIBATOMIC=-latomic
fi
export LDFLAGS_NODIST="-Wl,--exclude-libs,${bundled_archives} -fno-semantic-interposition"
export CFLAGS="${TARGET_CFLAGS:-}"
export CFLAGS_NODIST="-ffile-prefix-map=${SRC_DIR}=/cpython -fno-semantic-interposition"
# Every module CPython's configure enables is compiled in unless Setup.local says otherwise.
export MODULE_BUILDTYPE=static

configure_args=(
    --prefix="${BUILD_PREFIX}"
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
# BUILD_OPTIONS is BuildOptions.name: [freethreaded+]noopt|lto|pgo|pgo+lto|debug[+static].
optimization="${BUILD_OPTIONS#freethreaded+}"
optimization="${optimization%+static}"
if [[ "${BUILD_OPTIONS}" == *+static ]]; then
    # One executable and no loader: the C library (TARGET_SYSROOT's libc.a) is linked in.
    # A static PIE, so the kernel still places it at a random address.
    configure_args+=(--disable-shared)
    LDFLAGS_NODIST+=" -static-pie"
    # patches/cpython-static (the driver passes only those to +static builds).
    for patch_file in /scripts/*.patch; do
        echo "applying ${patch_file##*/}"
        patch -p1 < "${patch_file}"
    done
else
    configure_args+=(--enable-shared)
fi
case "${optimization}" in
    noopt) ;;
    lto) configure_args+=(--with-lto=full) ;;
    pgo) configure_args+=(--enable-optimizations) ;;
    pgo+lto) configure_args+=(--enable-optimizations --with-lto=full) ;;
    debug) configure_args+=(--with-pydebug) ;;
    *) echo "unknown build options ${BUILD_OPTIONS}" >&2; exit 2 ;;
esac
if [[ "${optimization}" == *lto ]]; then
    # lld runs link-time optimization at -O2 unless told otherwise, and CPython's link lines
    # carry no -O: ask for the same -O3 the objects were compiled with.
    LDFLAGS_NODIST+=" -Wl,--lto-O3"
fi
# LLVM 19 and 20 stopped tail-duplicating a block with more than 16 predecessors, which includes
# the computed-goto dispatch every opcode of ceval.c jumps back to: the interpreter funnels all
# opcodes through one shared indirect jump (1 in _PyEval_EvalFrameDefault instead of 234), and
# the branch predictor loses the per-opcode history that computed gotos exist for
# (llvm/llvm-project#106846, fixed in LLVM 21). Raising the limit restores what clang 18 and GCC
# do. With LTO the code is generated by the linker, so the linker needs it too.
clang_major=$(echo __clang_major__ | "${CC:-cc}" -E -P -x c - | tr -d '[:space:]')
if [[ "${clang_major}" == 19 || "${clang_major}" == 20 ]]; then
    echo "clang ${clang_major}: raising the tail-duplication limit for the computed-goto interpreter"
    CFLAGS_NODIST+=" -mllvm -tail-dup-pred-size=5000"
    if [[ "${optimization}" == *lto ]]; then
        LDFLAGS_NODIST+=" -Wl,-mllvm,-tail-dup-pred-size=5000"
    fi
fi
if [[ "${BUILD_OPTIONS}" == freethreaded+* ]]; then
    configure_args+=(--disable-gil)
fi
# The driver decides these from targets.yml and the Python version (pythonbuild/linux/plan.py).
if [[ "${WITH_BOLT:-0}" == 1 ]]; then
    # configure's default BOLT_COMMON_FLAGS skip the functions that llvm-bolt 19 cannot rewrite
    # safely: those dispatching with computed gotos in position-independent code
    # (_PyEval_EvalFrameDefault and the sre_ucs{1,2,4}_match regex loops).
    configure_args+=(--enable-bolt)
    # llvm-bolt finds its instrumentation runtime (libbolt_rt_instr.a) relative to the path it
    # was started from, so configure must record the real location, not a symlink on PATH.
    LLVM_BOLT=$(readlink -f "$(command -v llvm-bolt)")
    MERGE_FDATA=$(readlink -f "$(command -v merge-fdata)")
    export LLVM_BOLT MERGE_FDATA
fi
if [[ "${WITH_TAIL_CALL_INTERP:-0}" == 1 ]]; then
    configure_args+=(--with-tail-call-interp)
fi

# _tkinter against the bundled static Tcl and Tk. Their tclConfig.sh and tkConfig.sh name the
# libraries each needs after it (Tk: libX11, libxcb, libXau; Tcl: zlib, libdl, libpthread,
# libm); the tcl.pc and tk.pc that configure would otherwise ask pkg-config about do not.
if [[ -f "${PREFIX}/lib/tkConfig.sh" ]]; then
    TCLTK_LIBS=$(
        source "${PREFIX}/lib/tclConfig.sh"
        source "${PREFIX}/lib/tkConfig.sh"
        echo "-L${PREFIX}/lib -ltk${TK_VERSION} -ltcl${TCL_VERSION} ${TK_LIBS} ${TCL_LIBS}"
    )
    export TCLTK_CFLAGS="-I${PREFIX}/include" TCLTK_LIBS
    echo "TCLTK_LIBS=${TCLTK_LIBS}"
fi

if [[ -n "${BUILD_PYTHON_MARCH:-}" ]]; then
    # This machine cannot run target code (pythonbuild/linux/plan.py): configure as a cross build,
    # with an interpreter built for this machine doing the interpreter's work during the build.
    echo "this machine cannot run the new interpreter: building one for it (-march=${BUILD_PYTHON_MARCH})"
    source /scripts/build-python.sh
    abi_args=()
    if [[ "${BUILD_OPTIONS}" == freethreaded+* ]]; then abi_args+=(--disable-gil); fi
    if [[ "${optimization}" == debug ]]; then abi_args+=(--with-pydebug); fi
    stage "build interpreter"
    build_python "${SRC_DIR}" "${abi_args[@]}"
    write_run_check_answers configure.ac "${BUILD_PYTHON_DIR}/config.cache" > /tmp/config.site
    # Except where the C library decides, not this machine: whether threads need an option is
    # a fact of the target's C library. glibc before 2.34 keeps pthread_create in libpthread
    # (the gnu targets' 2.17 floor), this image's glibc in libc. Answered by linking against
    # the target's tree; -pthread then makes every module that uses threads need libpthread.
    printf '#include <pthread.h>\nstatic void *run(void *arg) { return arg; }\nint main(void) { pthread_t t; return pthread_create(&t, 0, run, 0); }\n' > /tmp/pthread-check.c
    if ! "${CC}" /tmp/pthread-check.c -o /tmp/pthread-check 2>/dev/null; then
        echo "the target's C library has no pthread_create without -pthread"
        sed -i '/^ac_cv_pthread_is_default=/d; /^ac_cv_kpthread=/d; /^ac_cv_kthread=/d; /^ac_cv_pthread=/d' /tmp/config.site
        printf '%s\n' ac_cv_pthread_is_default=no ac_cv_kpthread=no ac_cv_kthread=no ac_cv_pthread=yes >> /tmp/config.site
    fi
    # And where the target's CPU or ABI decides: facts its compiler knows, asked at compile time.
    # (x87 arithmetic rounds twice, first to its 80 bits: i686; wchar_t is unsigned on arm,
    # POWER and Z.)
    compile_answer() {  # VARIABLE C-CONSTANT-EXPRESSION: yes when it holds on the target
        if printf '#include <float.h>\n#include <wchar.h>\n_Static_assert(%s, "");\n' "$2" \
                | "${CC}" ${TARGET_CFLAGS:-} -x c -c -o /dev/null - 2>/dev/null; then
            echo "$1=yes"
        else
            echo "$1=no"
        fi
    }
    sed -i '/^ac_cv_x87_double_rounding=/d; /^ac_cv_wchar_t_signed=/d' /tmp/config.site
    compile_answer ac_cv_x87_double_rounding "FLT_EVAL_METHOD == 2" >> /tmp/config.site
    compile_answer ac_cv_wchar_t_signed "(wchar_t)-1 < 0" >> /tmp/config.site
    cat /tmp/config.site
    export CONFIG_SITE=/tmp/config.site
    # A cross configure asks for host-prefixed tools first; Debian's x86_64-linux-gnu-pkg-config
    # would bypass the --static wrapper above.
    ln -s /usr/local/bin/pkg-config "/usr/local/bin/${GNU_TRIPLE}-pkg-config"
    # --build differing from --host is what makes configure treat the build as a cross build.
    configure_args+=(--build="$(./config.guess)" --host="${GNU_TRIPLE}" --with-build-python="${BUILD_PYTHON}")
fi

if [[ "${GNU_TRIPLE}" == *-musl* && -z "${BUILD_PYTHON_MARCH:-}" ]]; then
    # On a musl system `ldd` is musl's loader (started under that name it lists libraries).
    # CPython's tests ask it whether the interpreter is linked to musl
    # (test.support.linked_to_musl) and skip what musl does differently; the training run
    # below runs such tests (test_math, test_re), and this image's own ldd is glibc's.
    ln -sf "${TARGET_SYSROOT}/usr/lib/libc.so" /usr/local/bin/ldd
fi

stage configure
./configure "${configure_args[@]}"
# configure recorded the flags (CONFIGURE_CFLAGS, CONFIGURE_LDFLAGS, ...); make adds the
# environment's CFLAGS and LDFLAGS to them, so exported flags would appear twice in every command
# and in the sysconfig data (LDSHARED, BLDSHARED) that users' extension builds take over.
unset CFLAGS CXXFLAGS CPPFLAGS LDFLAGS CFLAGS_NODIST LDFLAGS_NODIST

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

# A Makefile variable as make expands it.
cat > /tmp/print-var.mk <<'MAKE'
print-%:
	@echo '$($*)'
MAKE
make_var() {
    make -s --no-print-directory -f Makefile -f /tmp/print-var.mk "print-$1"
}

# The training set of PGO and BOLT: CPython's default PROFILE_TASK, with a fixed hash seed and
# one test at a time (each in a fresh worker process) so that two trainings count as nearly
# the same as they can; what still differs is timing-dependent (docs/reproducibility.md).
export PYTHONHASHSEED=0
training_task="-m test --pgo -j1 --timeout="
if [[ "${GNU_TRIPLE}" == *-musl* ]]; then
    # musl accepts any locale name and has no single-byte (ISO 8859-1) character types, so
    # test_re's two locale tests fail there; CPython skips them only for the musl of
    # Emscripten and WASI (test-dist's exclusions.yml lists them with the same reason).
    training_task+=" --ignore test.test_re.ReTests.test_locale_caching"
    training_task+=" --ignore test.test_re.ReTests.test_locale_compiled"
fi
if [[ -n "${PGO_PROFILE:-}" ]]; then
    mkdir -p /tmp/pgo-profile
    tar -xf "${PGO_PROFILE}" -C /tmp/pgo-profile
fi

if [[ "${optimization}" == pgo* ]]; then
    # CPython's profile-opt, one stage at a time so the log shows what each costs.
    profile_gen_overrides=()
    if [[ "${optimization}" == pgo+lto ]]; then
        # The instrumented build only has to count. clang instruments in its front end, before
        # any link-time optimization, so the profile is the same without LTO, and skipping
        # the instrumented build's whole-program links saves minutes.
        without_lto() {
            make_var "$1" | sed -E 's/(^| )-flto(=[a-z]+)?( |$)/ /g'
        }
        profile_gen_overrides=(
            CONFIGURE_CFLAGS_NODIST="$(without_lto CONFIGURE_CFLAGS_NODIST)"
            CONFIGURE_LDFLAGS_NODIST="$(without_lto CONFIGURE_LDFLAGS_NODIST)"
        )
    fi
    if [[ "${GNU_TRIPLE}" == *-musl* ]]; then
        # Debian's LLVM profile runtime is built against glibc and calls two of its checked
        # printf functions, which musl lacks: the instrumented build (only) links stand-ins.
        target-clang -O2 -c /scripts/pgo-runtime-shims.c -o /tmp/pgo-runtime-shims.o
        "${AR:-llvm-ar}" rcs /tmp/libpgo-runtime-shims.a /tmp/pgo-runtime-shims.o
        profile_gen_overrides+=(LIBS="$(make_var LIBS) /tmp/libpgo-runtime-shims.a")
    fi
    if [[ -f /tmp/pgo-profile/code.profclangd ]]; then
        # --pgo-profile: the profile of an earlier build instead of training; profile-opt
        # only needs profile-run-stamp to exist.
        echo "PGO: using the recorded profile (no instrumented build, no training)"
        cp /tmp/pgo-profile/code.profclangd code.profclangd
        touch profile-run-stamp
    else
        stage "PGO: instrumented build"
        make -j"${JOBS}" profile-gen-stamp "${profile_gen_overrides[@]}"
        stage "PGO: training run (PROFILE_TASK) and profile merge"
        make profile-run-stamp "${profile_gen_overrides[@]}" PROFILE_TASK="${training_task}"
    fi
    # Exported for --pgo-profile (the driver writes it beside the archives).
    mkdir -p /out/profile
    cp code.profclangd /out/profile/
    stage "PGO: optimized build"
    make -j"${JOBS}" profile-opt
else
    stage build
    make -j"${JOBS}" build_all
fi

# Link the interpreter against the static libpython: it starts faster (no PLT indirection) and
# keeps working when a virtual environment copies the executable away from lib/.
# libpython3.X.so is still built and installed for embedders (not by +static builds). The
# whole archive goes in, as a non-shared CPython build links all its objects: python must
# export the same C API as libpython (extension modules and test_capi rely on it), not only
# what python.o pulls in (Py_FrozenMain, for one, is referenced by nothing).
stage "link python against the static libpython"
cat > /tmp/relink.mk <<'MAKE'
relink-python:
	$(LINKCC) $(PY_CORE_LDFLAGS) $(LINKFORSHARED) -o $(BUILDPYTHON) Programs/python.o -Wl,--whole-archive $(LIBRARY) -Wl,--no-whole-archive $(LIBS) $(MODLIBS) $(SYSLIBS)
MAKE
make -f Makefile -f /tmp/relink.mk relink-python

if [[ "${WITH_BOLT:-0}" == 1 ]]; then
    # Instrument, train with the same PROFILE_TASK, and rewrite. Only the python executable:
    # it no longer loads libpython.so, so training would leave no profile for the library.
    stage "BOLT: instrument, train, optimize python"
    # Functions written in assembly (OpenSSL's, libffi's, CPython's perf trampoline) are left
    # alone: their hand-made stack and control flow is not what llvm-bolt expects of compiled
    # code. Assembled objects are the ELF objects without a .comment section, which clang
    # writes into every object it compiles from C (LTO objects are bitcode, not ELF: never
    # assembly).
    assembly_functions() {
        local unpacked=/tmp/bolt-objects archive
        rm -rf "${unpacked}"
        for archive in "${PREFIX}"/lib/*.a; do
            mkdir -p "${unpacked}/${archive##*/}"
            (cd "${unpacked}/${archive##*/}" && ar x "${archive}")
        done
        { find "${unpacked}" -name '*.o'; find . -name '*.o' -not -path './build/*'; } \
            | LC_ALL=C sort | while read -r object; do
                [[ "$(head -c 4 "${object}" | tr -d '\177')" == ELF ]] || continue
                readelf --string-dump=.comment "${object}" 2>/dev/null | grep -q . && continue
                nm --defined-only "${object}" \
                    | awk '$2 ~ /^[Tt]$/ { name = $3; gsub(/[.$]/, "\\\\&", name); print "^" name "(/[0-9]+)?$" }'
            done | LC_ALL=C sort -u
    }
    assembly_functions > /tmp/bolt-skip-funcs.txt
    echo "BOLT: leaving $(wc -l < /tmp/bolt-skip-funcs.txt) assembly functions alone"
    # Configure's flags (they skip the functions with computed gotos, see above), less three
    # that break with llvm-bolt 19:
    # - -update-debug-sections crashes llvm-bolt on clang 19's DWARF 5 (llvm#67966; the
    #   optimized python then carries no debug info, libpython.so keeps its own);
    # - -frame-opt=hot yields a python that crashes on start;
    # - -icf=1 folds functions with identical code even when their addresses are compared.
    #   CPython compares slot functions by address (typeobject.c's wrap_binaryfunc and
    #   wrap_binaryfunc_l are identical), so folded ones make subclasses of built-in types
    #   misbehave (test_datetime's subclass arithmetic). llvm-bolt 20 has -icf=safe for this
    #   (cpython gh-101525); 19 can only turn folding off.
    # - -use-gnu-stack makes llvm-bolt reuse the PT_GNU_STACK program header for its new code
    #   segment, and a binary without PT_GNU_STACK gets an executable stack from the loader
    #   (validate's noexecstack rule found it); without the flag llvm-bolt adds a header.
    # (configure writes the common flags into both variables, so they are edited, not
    # BOLT_COMMON_FLAGS.)
    bolt_flags() {
        make_var "$1" \
            | sed -E ':a; s/(^| )(-update-debug-sections|-frame-opt=[a-z]+|-icf(=[a-z0-9]+)?|-use-gnu-stack)( |$)/ /; ta'
        echo " -skip-funcs-file=/tmp/bolt-skip-funcs.txt"
    }
    bolt_instrument_flags=$(bolt_flags BOLT_INSTRUMENT_FLAGS | tr -d '\n')
    # Lite mode stays (llvm-bolt's default with a profile): it moves only the functions with a
    # profile, 14% of them, so 10.7 of the kept original text's 14.4 MB stay in use. -lite=0
    # would move them all, but llvm-bolt 19 then grew past 18 GB and 20 minutes (2026-12-07).
    bolt_apply_flags=$(bolt_flags BOLT_APPLY_FLAGS | tr -d '\n')
    if [[ -f /tmp/pgo-profile/python.fdata ]]; then
        echo "BOLT: applying the recorded profile (no instrumentation, no training)"
        cp python python.prebolt
        cp /tmp/pgo-profile/python.fdata python.fdata
        # shellcheck disable=SC2086 # a list of flags
        "${LLVM_BOLT}" python.prebolt -o python.bolt -data=python.fdata ${bolt_apply_flags}
        mv python.bolt python
    else
        # Training runs each test in its own worker process: should the instrumented python
        # crash in a test (upstream knows test_embed, cpython#128473), only that test's
        # profile is lost...
        make profile-bolt-stamp BOLT_BINARIES='$(BUILDPYTHON)' \
            BOLT_INSTRUMENT_FLAGS="${bolt_instrument_flags}" BOLT_APPLY_FLAGS="${bolt_apply_flags}" \
            PROFILE_TASK="${training_task} || echo 'BOLT training: some tests failed under the instrumented binary; the other profiles are used'"
    fi
    cp python.fdata /out/profile/
    # llvm-bolt keeps the whole original text segment (.bolt.org.text, loaded, so strip cannot
    # remove it); the old bodies of the functions it moved are dead. They become int3, which
    # compresses to nothing in the archives (bolt-fill-moved.py says how it knows what is dead).
    # The training set below runs the filled binary.
    python3 /scripts/bolt-fill-moved.py python.prebolt python
    # make's install target rebuilds "all", which for --enable-bolt ends in profile-bolt-stamp:
    # with python newer than that stamp (or no stamp: the recorded-profile path), make would
    # instrument and train again, with configure's flags and libpython too.
    touch profile-bolt-stamp
    # ... but the optimized binary must pass the whole training set.
    if [[ -n "${BUILD_PYTHON_MARCH:-}" ]]; then
        echo "BOLT: not running the training set with the optimized python: this machine cannot run it"
    else
        stage "BOLT: run the training set with the optimized python"
        # shellcheck disable=SC2086 # training_task is a list of words
        ./python ${training_task}
    fi
fi

stage install
make install DESTDIR=/out
(
    cd "/out${BUILD_PREFIX}/bin"
    # A free-threaded install has python3.X as a hard link to python3.Xt; archives would carry
    # the interpreter twice.
    if [[ -f "python${PYTHON_VERSION}t" ]]; then
        ln -sf "python${PYTHON_VERSION}t" "python${PYTHON_VERSION}"
    fi
    # Installers (uv and others) run bin/python of these layouts; CPython installs python3 only.
    ln -s "python${PYTHON_VERSION}" python
)
# Tcl's and Tk's script libraries go beside the standard library, where the bundled Tcl looks
# for them relative to the file holding its code (patches/tcl); check that it finds them there
# and not at the build-time path.
for library in "${PREFIX}"/lib/tcl[0-9]* "${PREFIX}"/lib/tk[0-9]*; do
    if [[ -d "${library}" ]]; then
        cp -a "${library}" "/out${BUILD_PREFIX}/lib/"
    fi
done
if [[ -n "${BUILD_PYTHON_MARCH:-}" ]]; then
    echo "not checking where Tcl finds its script library: this machine cannot run the new interpreter"
elif compgen -G "/out${BUILD_PREFIX}/lib/tcl[0-9]*" > /dev/null; then
    found=$("/out${BUILD_PREFIX}/bin/python3" -c 'import tkinter; print(tkinter.Tcl().eval("info library"))')
    if [[ "${found}" != "/out${BUILD_PREFIX}/lib/tcl"* ]]; then
        echo "the bundled Tcl found its script library at ${found}, not in the installation" >&2
        exit 1
    fi
    echo "Tcl finds its script library at ${found}"
fi

stage "drop static relocations"
# --enable-bolt links everything with --emit-relocs, for llvm-bolt to move code; only the python
# executable is rewritten, and nothing reads the relocation sections at run time: in libpython
# they were 10.9 MB. The non-loaded REL/RELA sections go from every installed ELF file; the
# dynamic ones (.rela.dyn, .rela.plt: loaded) stay. Relocatable objects (an installed python.o
# that is ELF, not LTO bitcode) need theirs to be linked: they are left alone.
(
    cd "/out${BUILD_PREFIX}"
    find . -type f | LC_ALL=C sort | while read -r file; do
        [[ "$(head -c 4 "${file}" | od -An -tx1 | tr -d ' \n')" == 7f454c46 ]] || continue
        [[ "$(readelf -h "${file}")" =~ Type:\ *(EXEC|DYN)\  ]] || continue
        sections=$(readelf -SW "${file}" | sed -n 's/^ *\[ *[0-9]*\] //p' \
            | awk '($2 == "RELA" || $2 == "REL") && $7 !~ /A/ { print $1 }')
        [[ -n "${sections}" ]] || continue
        # shellcheck disable=SC2046 # one flag per section name (names have no spaces)
        objcopy $(printf -- '--remove-section=%s ' ${sections}) "${file}"
        echo "${file}: dropped $(wc -w <<< "${sections}") static relocation sections"
    done
)

stage "strip debug information (for install_only_stripped)"
# A debug-stripped copy of every ELF file of the installation, at its path under /out/stripped;
# the driver swaps them in for the install_only_stripped archive. --strip-debug keeps the symbol
# table, which profilers, perf and tracebacks through native frames need.
(
    cd "/out${BUILD_PREFIX}"
    find . -type f | LC_ALL=C sort | while read -r file; do
        if [[ "$(head -c 4 "${file}" | od -An -tx1 | tr -d ' \n')" == 7f454c46 ]]; then
            mkdir -p "/out/stripped/$(dirname "${file}")"
            strip --strip-debug -o "/out/stripped/${file}" "${file}"
        fi
    done
)
echo "stripped $(find /out/stripped -type f | wc -l) ELF files ($(du -sm /out/stripped | cut -f1) MB after stripping)"

stage "export facts and build tree"
if [[ -n "${BUILD_PYTHON_MARCH:-}" ]]; then
    # The build interpreter describes the installation (collect-facts.py says how), as the
    # target's own would: sysconfig.get_platform() answers with the target's platform tag.
    _PYTHON_HOST_PLATFORM="${PLATFORM_TAG:?}" run_build_python_as "/out${BUILD_PREFIX}" /scripts/collect-facts.py \
        --builtin-modules-from Modules/config.c > /out/facts.json
else
    "/out${BUILD_PREFIX}/bin/python3" /scripts/collect-facts.py > /out/facts.json
fi

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
stage
