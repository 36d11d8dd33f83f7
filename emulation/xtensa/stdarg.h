// <stdarg.h> for clang-22's Xtensa target, found before clang's own: its va_arg lowering is wrong (seen in its
// output: the register save area's pointer is off by the named arguments, and past the sixth argument word each
// va_arg steps 40 bytes), so va_arg is done here by the Xtensa ABI (gcc's, which MicroPython's ESP32 port is
// built with): va_list {stack arguments - 32, register save area of a2..a7, byte index}, a word in registers while
// it ends at or below index 24, the arguments after it on the stack from index 32. __builtin_va_start still fills
// the fields (its pointers are right but for the register area's offset, corrected here). The compiler must not
// keep a frame pointer in a7 (-fomit-frame-pointer: otherwise a7 is overwritten before it is saved).
#ifndef PICOML_XTENSA_STDARG_H
#define PICOML_XTENSA_STDARG_H

typedef __builtin_va_list va_list;
typedef __builtin_va_list __gnuc_va_list;

typedef struct {
    char *stk;
    char *reg;
    int ndx;
} pml_va_fields_t;

static inline void *pml_va_next(pml_va_fields_t *v, unsigned size, unsigned align) {
    int ndx = v->ndx;
    int words = (int)((size + 3) & ~3u);
    if (align > 4) {
        ndx = (ndx + 7) & ~7;
    }
    if (ndx + words <= 24) {
        v->ndx = ndx + words;
        return v->reg + ndx;
    }
    if (ndx < 32) {
        ndx = 32;
    }
    v->ndx = ndx + words;
    return v->stk + ndx;
}

#define va_start(ap, last) (__builtin_va_start(ap, last), \
    ((pml_va_fields_t *)&(ap))->reg -= ((pml_va_fields_t *)&(ap))->ndx)
#define va_arg(ap, type) (*(type *)pml_va_next((pml_va_fields_t *)&(ap), sizeof(type), _Alignof(type)))
#define va_end(ap) ((void)0)
#define va_copy(dst, src) __builtin_va_copy(dst, src)

#endif
