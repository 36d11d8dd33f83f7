/* The thin MicroPython binding: _picoml.check(model, arena_size) and _picoml.invoke(model, arena).
 * Listed first in SRC so mpy_init lands at the start of the text (armv6m reaches only ~2 KiB from the entry). */
#include "py/dynruntime.h"

#include "picoml.h"

/* The natmod runtime has no libc, yet gcc may emit calls to these. */
void *memmove(void *dst, const void *src, size_t n) {
    return mp_fun_table.memmove_(dst, src, n);
}

void *memcpy(void *dst, const void *src, size_t n) {
    return memmove(dst, src, n);
}

void *memset(void *s, int c, size_t n) {
    return mp_fun_table.memset_(s, c, n);
}

static mp_obj_t check(mp_obj_t model_in, mp_obj_t arena_size_in) {
    mp_buffer_info_t model;
    mp_get_buffer_raise(model_in, &model, MP_BUFFER_READ);
    return mp_obj_new_int(pml_check(model.buf, model.len, mp_obj_get_int(arena_size_in)));
}
static MP_DEFINE_CONST_FUN_OBJ_2(check_obj, check);

/* Checks the model against the arena on every call (microseconds), so no buffer can make a kernel stray. */
static mp_obj_t invoke(mp_obj_t model_in, mp_obj_t arena_in) {
    mp_buffer_info_t model, arena;
    mp_get_buffer_raise(model_in, &model, MP_BUFFER_READ);
    mp_get_buffer_raise(arena_in, &arena, MP_BUFFER_WRITE);
    int status = ((uintptr_t)arena.buf & 3) != 0 ? PML_ERR_MODEL : pml_check(model.buf, model.len, arena.len);
    if (status == PML_OK) {
        status = pml_invoke(model.buf, arena.buf);
    }
    return mp_obj_new_int(status);
}
static MP_DEFINE_CONST_FUN_OBJ_2(invoke_obj, invoke);

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    MP_DYNRUNTIME_INIT_ENTRY
    mp_store_global(MP_QSTR_check, MP_OBJ_FROM_PTR(&check_obj));
    mp_store_global(MP_QSTR_invoke, MP_OBJ_FROM_PTR(&invoke_obj));
    MP_DYNRUNTIME_INIT_EXIT
}
