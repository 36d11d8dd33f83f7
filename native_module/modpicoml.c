/* The thin MicroPython binding: _picoml.Model(model, arena) validates a .pml model once (pml_check), then
 * invoke() runs it with no checks (the TFLite Micro Prepare/Eval split).
 * Listed first in SRC so mpy_init lands at the start of the text (armv6m reaches only ~2 KiB from the entry). */
#include "py/dynruntime.h"
#include "py/binary.h"

#include "copy.h"
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

/* The model's and the arena's buffers, held (so the GC keeps them) and seen as they were when checked, and where
 * the kernels take their scratch: each op's place in the arena (pml_check's scratch_at) and the buffer apart, for
 * the ops whose scratch the arena has no room for, both allocated once at load. */
typedef struct {
    mp_obj_base_t base;
    mp_obj_t model, arena;
    const uint8_t *model_buf;
    uint8_t *arena_buf;
    size_t model_len, arena_len;
    void *scratch;
    uint32_t *scratch_at;
    uint32_t scratch_size;
} model_obj_t;

/* Not static: zero-initialised, filled in mpy_init (the natmod linker cannot relocate a static in .bss). */
mp_obj_full_type_t model_type;
mp_map_elem_t model_locals_table[3];
static MP_DEFINE_CONST_DICT(model_locals, model_locals_table);

/* ValueError(op, tensor, rule, detail, value): picoml.validate words it (op name, layer, field) as for the Python
 * backends, whose checks raise the same five numbers. */
static NORETURN void raise_invalid(const pml_error_t *e) {
    mp_obj_t args[5] = {mp_obj_new_int(e->op), mp_obj_new_int(e->tensor), mp_obj_new_int(e->rule),
                        mp_obj_new_int(e->detail), mp_obj_new_int(e->value)};
    nlr_raise(mp_call_function_n_kw(mp_load_global(MP_QSTR_ValueError), 5, 0, args));
}

/* A zeroed, 4-byte aligned block of n bytes, as a bytearray's: MicroPython's MemoryError when the heap is full (a
 * native module's m_malloc returns NULL instead). The pointer to its bytes, held in the Model, keeps them. */
static void *new_bytes(uint32_t n) {
    mp_obj_t size = mp_obj_new_int_from_uint(n);
    mp_buffer_info_t buf;
    mp_get_buffer_raise(mp_call_function_n_kw(mp_load_global(MP_QSTR_bytearray), 1, 0, &size), &buf, MP_BUFFER_WRITE);
    return buf.buf;
}

static mp_obj_t model_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 2, 2, false);
    mp_buffer_info_t model, arena;
    mp_get_buffer_raise(args[0], &model, MP_BUFFER_READ);
    mp_get_buffer_raise(args[1], &arena, MP_BUFFER_WRITE);
    /* an arena over the model would let the kernels rewrite the model they run after its check */
    const uintptr_t m = (uintptr_t)model.buf, a = (uintptr_t)arena.buf;
    if (((m | a) & 3) != 0 || (m < a + arena.len && a < m + model.len)) {
        mp_raise_ValueError(MP_ERROR_TEXT("picoml: model and arena must be apart and 4-byte aligned (alignment): "
                                          "copy the model into a new bytearray"));
    }
    if (model.len > UINT32_MAX || arena.len > UINT32_MAX) {
        mp_raise_ValueError(MP_ERROR_TEXT("picoml: buffers of 4 GiB or more"));
    }
    pml_error_t error;
    uint32_t scratch_size;
    if (pml_check(model.buf, (uint32_t)model.len, (uint32_t)arena.len, &error, &scratch_size, NULL) != PML_OK) {
        raise_invalid(&error);
    }
    /* some op's kernel needs scratch: checked again, placing each op's in the arena where it has room */
    const uint32_t n_ops = ((const pml_header_t *)model.buf)->n_ops;
    uint32_t *scratch_at = NULL;
    if (scratch_size) {
        scratch_at = new_bytes(n_ops * 4);
        pml_check(model.buf, (uint32_t)model.len, (uint32_t)arena.len, &error, &scratch_size, scratch_at);
    }
    model_obj_t *self = mp_obj_malloc(model_obj_t, type);
    self->scratch = scratch_size ? new_bytes(scratch_size) : NULL;
    self->scratch_at = scratch_at;
    self->scratch_size = scratch_size;
    self->model = args[0];
    self->arena = args[1];
    self->model_buf = model.buf;
    self->arena_buf = arena.buf;
    self->model_len = model.len;
    self->arena_len = arena.len;
    return MP_OBJ_FROM_PTR(self);
}

/* Runs the checked model. The buffers are looked up again (no allocation): one that moved or shrank since the
 * check (a bytearray grown in place, say) is refused rather than run. */
static mp_obj_t model_invoke(mp_obj_t self_in) {
    model_obj_t *self = MP_OBJ_TO_PTR(self_in);
    mp_buffer_info_t model, arena;
    mp_get_buffer_raise(self->model, &model, MP_BUFFER_READ);
    mp_get_buffer_raise(self->arena, &arena, MP_BUFFER_WRITE);
    if (model.buf != self->model_buf || model.len != self->model_len || arena.buf != self->arena_buf
        || arena.len != self->arena_len) {
        mp_raise_ValueError(MP_ERROR_TEXT("picoml: the model's or the arena's buffer changed since load"));
    }
    pml_invoke(self->model_buf, self->arena_buf, self->scratch, self->scratch_at);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(model_invoke_obj, model_invoke);

/* predict()'s fast path for a model of one input and one output (picoml.Model.predict): x a bytes, bytearray,
 * memoryview or array of 1-byte items holding exactly the input's bytes is copied into the input tensor, the model
 * runs and its output's bytes are copied into out (the Model's own array('b') of the output's bytes); returns
 * True. Anything else (several inputs or outputs, another type, size or item width, a buffer that moved since
 * load) returns False having changed nothing: predict's Python path then converts, copies or refuses it. */
/* A buffer's typecode of 1-byte items: 'b', 'B', or a bytearray's own (BYTEARRAY_TYPECODE). */
static inline bool byte_items(int typecode) {
    return typecode == 'b' || typecode == 'B' || typecode == BYTEARRAY_TYPECODE;
}

static mp_obj_t model_predict(mp_obj_t self_in, mp_obj_t x, mp_obj_t out) {
    model_obj_t *self = MP_OBJ_TO_PTR(self_in);
    const pml_header_t *h = (const pml_header_t *)(const void *)self->model_buf;
    const qstr type = mp_obj_get_type(x)->name;
    mp_buffer_info_t model, arena, in_buf, out_buf;
    if (h->n_inputs != 1 || h->n_outputs != 1
        || (type != MP_QSTR_bytearray && type != MP_QSTR_bytes && type != MP_QSTR_memoryview && type != MP_QSTR_array)
        || !mp_get_buffer(x, &in_buf, MP_BUFFER_READ) || !byte_items(in_buf.typecode)
        || !mp_get_buffer(out, &out_buf, MP_BUFFER_WRITE)
        || !mp_get_buffer(self->model, &model, MP_BUFFER_READ) || !mp_get_buffer(self->arena, &arena, MP_BUFFER_WRITE)
        || model.buf != self->model_buf || model.len != self->model_len || arena.buf != self->arena_buf
        || arena.len != self->arena_len) {
        return mp_const_false;
    }
    const uint16_t *io = (const uint16_t *)(const void *)(self->model_buf + h->io_offset);
    const pml_tensor_t *tensors = (const pml_tensor_t *)(const void *)(self->model_buf + h->tensors_offset);
    const pml_tensor_t *ti = &tensors[io[0]], *to = &tensors[io[2]];
    if (in_buf.len != ti->nbytes || out_buf.len != to->nbytes) {
        return mp_const_false;
    }
    pml_copy(self->arena_buf + ti->offset, in_buf.buf, (int32_t)in_buf.len);     /* the kernels' word copy */
    pml_invoke(self->model_buf, self->arena_buf, self->scratch, self->scratch_at);
    const uint8_t *y = to->storage == PML_STORAGE_WEIGHTS ? self->model_buf + h->weights_offset + to->offset
                                                          : self->arena_buf + to->offset;
    pml_copy(out_buf.buf, y, (int32_t)out_buf.len);
    return mp_const_true;
}
static MP_DEFINE_CONST_FUN_OBJ_3(model_predict_obj, model_predict);

/* The bytes of the kernels' scratch buffer apart from the arena (picoml.report shows them beside the arena). */
static mp_obj_t model_scratch(mp_obj_t self_in) {
    return mp_obj_new_int_from_uint(((model_obj_t *)MP_OBJ_TO_PTR(self_in))->scratch_size);
}
static MP_DEFINE_CONST_FUN_OBJ_1(model_scratch_obj, model_scratch);

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    MP_DYNRUNTIME_INIT_ENTRY
    model_type.base.type = &mp_type_type;
    model_type.flags = MP_TYPE_FLAG_NONE;
    model_type.name = MP_QSTR_Model;
    MP_OBJ_TYPE_SET_SLOT(&model_type, make_new, model_make_new, 0);
    model_locals_table[0] = (mp_map_elem_t){MP_OBJ_NEW_QSTR(MP_QSTR_invoke), MP_OBJ_FROM_PTR(&model_invoke_obj)};
    model_locals_table[1] = (mp_map_elem_t){MP_OBJ_NEW_QSTR(MP_QSTR_scratch), MP_OBJ_FROM_PTR(&model_scratch_obj)};
    model_locals_table[2] = (mp_map_elem_t){MP_OBJ_NEW_QSTR(MP_QSTR_predict), MP_OBJ_FROM_PTR(&model_predict_obj)};
    MP_OBJ_TYPE_SET_SLOT(&model_type, locals_dict, (void *)&model_locals, 1);
    mp_store_global(MP_QSTR_Model, MP_OBJ_FROM_PTR(&model_type));
    MP_DYNRUNTIME_INIT_EXIT
}
