/*
 * Stand-ins for the two glibc functions that Debian's LLVM profile runtime
 * (libclang_rt.profile, compiled against glibc with _FORTIFY_SOURCE) calls and
 * musl does not have. Linked only into the instrumented interpreter of a PGO
 * build for a musl target, which runs the training and is thrown away; the
 * distribution's interpreter links no profile runtime. Each checks what glibc's
 * version checks and then does the unchecked call.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int __fprintf_chk(FILE *stream, int flag, const char *format, ...)
{
    (void)flag;
    va_list args;
    va_start(args, format);
    int written = vfprintf(stream, format, args);
    va_end(args);
    return written;
}

int __snprintf_chk(char *buffer, size_t size, int flag, size_t buffer_size,
                   const char *format, ...)
{
    (void)flag;
    if (buffer_size < size) {
        abort(); /* glibc's __chk_fail: the caller's buffer is smaller than it says */
    }
    va_list args;
    va_start(args, format);
    int written = vsnprintf(buffer, size, format, args);
    va_end(args);
    return written;
}
