/* pml_check: a whole .pml model validated once, before any pml_invoke -- its sections, every tensor,
 * the op table, for every op the types of its operands and the ranges of its parameters (the tables of
 * rules.h, generated from host/picoml/rules.py), then the op's own rules (pml_<op>_check, next to its kernel),
 * and the total work. The same rules in the same order as device/picoml/validate.py. */
#include "check.h"
#include "picoml.h"

/* A switch, not a table of function pointers: the natmod linker cannot relocate pointers to functions of other
 * object files inside read-only data. One case per op of PML_OPS (ops.h). */
static PML_COLD int check_op(int32_t code, const void *params, const pml_operand_t *in, const pml_operand_t *out,
                             pml_check_t *c) {
    switch (code) {
#define PML_CASE(NAME, name, op_code, n_params, n_inputs) \
        case op_code: return pml_##name##_check(params, in, out, c);
        PML_OPS(PML_CASE)
#undef PML_CASE
        default: return PML_ERR_UNKNOWN_OP;
    }
}

/* Per op code: its parameter count and input count (-1: one or more), its parameters' kinds and operands' types. */
static const int8_t N_PARAMS[PML_OP_MAX + 1] = {
#define PML_N_PARAMS(NAME, name, op_code, n_params, n_inputs) [op_code] = n_params,
    PML_OPS(PML_N_PARAMS)
#undef PML_N_PARAMS
};
static const int8_t N_INPUTS[PML_OP_MAX + 1] = {
#define PML_N_INPUTS(NAME, name, op_code, n_params, n_inputs) [op_code] = n_inputs,
    PML_OPS(PML_N_INPUTS)
#undef PML_N_INPUTS
};
static const int8_t IN_PLACE[PML_OP_MAX + 1] = {
#define PML_IN_PLACE(NAME, name, op_code, n_params, n_inputs) [op_code] = PML_##NAME##_IN_PLACE,
    PML_OPS(PML_IN_PLACE)
#undef PML_IN_PLACE
};

static const int8_t N_OUTPUTS[PML_OP_MAX + 1] = {
#define PML_N_OUTPUTS(NAME, name, op_code, n_params, n_inputs) [op_code] = PML_##NAME##_N_OUTPUTS,
    PML_OPS(PML_N_OUTPUTS)
#undef PML_N_OUTPUTS
};
/* bytes per element, by dtype code */
static const uint8_t DTYPE_SIZES[] = {0, 1, 2, 4, 4, 8};
static const uint8_t PARAM_KINDS[] = PML_PARAM_KINDS;
static const uint8_t PARAM_KINDS_AT[] = PML_PARAM_KINDS_AT;
static const uint8_t OPERAND_SPECS[] = PML_OPERAND_SPECS;
static const uint8_t OPERAND_SPECS_AT[] = PML_OPERAND_SPECS_AT;

/* The bytes (at least, in steps of *unit) an op's output may lie behind its input 0 in the arena, or -1: a
 * DEPTHWISE_CONV_2D of depth multiplier 1 and stride 1 shaped as its input, pad_top + 1 rows in whole rows; a 1x1
 * CONV_2D of stride 1, no padding, in_c == out_c and at most PML_BEHIND_CONV_WEIGHTS weights, 4 pixels in
 * pixels. Its kernels read what an output needs before writing it and write each channel in the input's order,
 * or from rings of input lines already read (picoml.planner.behind_gap says why each rule is enough;
 * device/picoml/validate.py has the same). On an op whose own rules hold. */
static PML_COLD int64_t behind_gap(int32_t code, const int32_t *params, const pml_operand_t *x,
                                   const pml_operand_t *f, const pml_operand_t *out, int64_t *unit) {
    if (code != PML_OP_CONV_2D && code != PML_OP_DEPTHWISE_CONV_2D) {
        return -1;
    }
    const pml_conv_2d_params_t *p = (const pml_conv_2d_params_t *)(const void *)params;
    for (int32_t d = 0; d < 4; d++) {
        if (pml_dim(x, d) != pml_dim(out, d)) {
            return -1;
        }
    }
    if (p->stride_h != 1 || p->stride_w != 1) {
        return -1;
    }
    /* (64-bit products by pml_mul_s64: no libgcc multiply on Cortex-M0) */
    const int64_t c = pml_dim(x, 3), row = pml_mul_s64(pml_dim(x, 2), pml_dim(x, 3));
    if (code == PML_OP_DEPTHWISE_CONV_2D) {
        *unit = row;
        return ((const pml_depthwise_conv_2d_params_t *)(const void *)params)->depth_multiplier == 1
               ? pml_mul_s64(p->pad_top + 1, (int32_t)row) : -1;
    }
    *unit = c;
    return pml_dim(f, 1) == 1 && pml_dim(f, 2) == 1 && p->pad_top == 0 && p->pad_left == 0
           && pml_mul_s64(pml_dim(f, 0), pml_dim(f, 3)) <= PML_BEHIND_CONV_WEIGHTS ? 4 * c : -1;
}

PML_COLD int pml_fail(pml_check_t *c, int rule, int64_t value) {
    c->rule = rule;
    c->value = value < INT32_MIN ? INT32_MIN : (value > INT32_MAX ? INT32_MAX : (int32_t)value);
    return PML_ERR_OPERANDS;
}

PML_COLD int64_t pml_work_mul(int64_t a, int64_t b) {
    const int64_t p = pml_mul_s64((int32_t)a, (int32_t)b);
    return p > (int64_t)PML_MAX_WORK + 1 ? (int64_t)PML_MAX_WORK + 1 : p;
}

PML_COLD uint32_t pml_udiv(uint32_t n, uint32_t d) {
    uint32_t q = 0, r = 0;
    for (int i = 31; i >= 0; i--) {
        r = (r << 1) | ((n >> i) & 1u);
        if (r >= d) {
            r -= d;
            q |= (uint32_t)1 << i;
        }
    }
    return q;
}

PML_COLD int pml_check_requantization(pml_check_t *c, const pml_operand_t *in, int32_t channels) {
    const int32_t n = pml_count(&in[3]);
    PML_NEED(c, pml_count(&in[2]) == channels, PML_R_BIAS_COUNT, pml_count(&in[2]));
    PML_NEED(c, n == channels || n == 1, PML_R_MULTIPLIERS_COUNT, n);
    PML_NEED(c, pml_count(&in[4]) == n, PML_R_SHIFTS_COUNT, pml_count(&in[4]));
    const int32_t *multipliers = (const int32_t *)in[3].data, *shifts = (const int32_t *)in[4].data;
    for (int32_t i = 0; i < n; i++) {
        PML_NEED(c, shifts[i] >= -31 && shifts[i] <= 31, PML_R_SHIFTS_RANGE, shifts[i]);
        PML_NEED(c, multipliers[i] != INT32_MIN, PML_R_MULTIPLIERS_RANGE, multipliers[i]);
    }
    return PML_OK;
}

PML_COLD int pml_check_same_size(pml_check_t *c, const pml_operand_t *input, const pml_operand_t *output,
                                  int32_t extra) {
    PML_NEED(c, pml_count(output) == pml_count(input), PML_R_SIZE, pml_count(output));
    const int64_t work = (int64_t)pml_count(output) + extra;
    c->work = work > (int64_t)PML_MAX_WORK + 1 ? (int64_t)PML_MAX_WORK + 1 : work;  /* as picoml.validate reports */
    return PML_OK;
}

PML_COLD int pml_check_broadcast(pml_check_t *c, const pml_operand_t *inputs, const pml_operand_t *output) {
    int32_t a[PML_MAX_DIMS], b[PML_MAX_DIMS], out[PML_MAX_DIMS];
    pml_dims4(&inputs[0], a);
    pml_dims4(&inputs[1], b);
    pml_dims4(output, out);
    for (int i = 0; i < PML_MAX_DIMS; i++) {
        PML_NEED(c, a[i] == out[i] || a[i] == 1, PML_R_BROADCAST1, a[i]);
        PML_NEED(c, b[i] == out[i] || b[i] == 1, PML_R_BROADCAST2, b[i]);
    }
    c->work = pml_count(output);
    return PML_OK;
}

PML_COLD int pml_check_window(pml_check_t *c, int32_t size, int32_t out, int32_t taps, int32_t stride,
                              int32_t dilation, int32_t pad, int axis) {
    /* every factor is below 2^31, so the products fit int64 */
    const int64_t reach = pml_mul_s64(dilation, taps - 1) + 1;      /* the filter's extent */
    const int64_t last = pml_mul_s64(stride, out - 1);              /* the last window's start, unpadded */
    const int64_t span = last + reach;
    PML_NEED(c, span <= PML_MAX_SPAN && pad <= PML_MAX_SPAN, axis ? PML_R_REACH_W : PML_R_REACH_H,
             span > pad ? span : pad);
    const int valid = pad == 0 && reach <= size && last <= size - reach && size - reach < last + stride;
    const int same = last < size && size <= last + stride && pad == (span > size ? (span - size) >> 1 : 0);
    PML_NEED(c, valid || same, axis ? PML_R_OUT_W : PML_R_OUT_H, out);
    return PML_OK;
}

/* A section of `size` bytes at `offset`: inside the file, after the header, `align`-aligned. */
static PML_COLD int section_ok(uint32_t offset, uint32_t size, uint32_t file_size, uint32_t align) {
    return (uint64_t)offset + size <= file_size && (offset >= sizeof(pml_header_t) || size == 0)
        && (offset & (align - 1)) == 0;
}

/* The parameter kind's range holds v (prev: the parameter before, where act_max's range starts). */
static PML_COLD int in_range(int kind, int32_t v, int32_t prev) {
    static const int32_t ranges[] = PML_KIND_RANGES;
    return v >= (((PML_KINDS_FROM_PREVIOUS >> kind) & 1u) ? prev : ranges[2 * kind]) && v <= ranges[2 * kind + 1];
}

/* Every refusal below goes through here: the rule and the value into *e (whose op, tensor and detail the caller
 * keeps up to date), and the status that follows from the rule. Not inlined: one copy, not one per rule. */
static PML_COLD __attribute__((noinline)) int fail(pml_error_t *e, int32_t rule, int64_t value) {
    e->rule = rule;
    e->value = value < INT32_MIN ? INT32_MIN : (value > INT32_MAX ? INT32_MAX : (int32_t)value);
    return rule == PML_R_UNKNOWN_OP ? PML_ERR_UNKNOWN_OP : (rule >= PML_R_OPERAND_DTYPE ? PML_ERR_OPERANDS
                                                                                          : PML_ERR_MODEL);
}

#define FAIL(rule, value) return fail(e, (rule), (int64_t)(value))

PML_COLD int pml_check(const uint8_t *model, uint32_t model_size, uint32_t arena_size, pml_error_t *e,
                       uint32_t *scratch_size, uint32_t *scratch_at) {
    const pml_header_t *h = (const pml_header_t *)(const void *)model;
    e->op = e->tensor = e->detail = -1;
    *scratch_size = 0;
    if (model_size < sizeof(pml_header_t)) {
        FAIL(PML_R_SHORT, model_size);
    }
    if (arena_size < h->arena_size) {
        FAIL(PML_R_ARENA, arena_size);
    }
    /* n_tensors, n_inputs, n_outputs are 16-bit: the products cannot wrap */
    if (!section_ok(h->weights_offset, h->weights_size, model_size, 4)) {
        FAIL(PML_R_WEIGHTS_SECTION, h->weights_offset);
    }
    if (!section_ok(h->tensors_offset, (uint32_t)h->n_tensors * (uint32_t)sizeof(pml_tensor_t), model_size, 4)) {
        FAIL(PML_R_TENSORS_SECTION, h->tensors_offset);
    }
    if (!section_ok(h->io_offset, ((uint32_t)h->n_inputs + h->n_outputs) * 4u, model_size, 4)) {
        FAIL(PML_R_IO_SECTION, h->io_offset);
    }
    if (!section_ok(h->ops_offset, h->ops_size, model_size, 4) || (h->ops_size & 3) != 0) {
        FAIL(PML_R_OPS_SECTION, h->ops_offset);
    }
    if (!section_ok(h->metadata_offset, h->metadata_size, model_size, 1)) {
        FAIL(PML_R_METADATA_SECTION, h->metadata_offset);
    }
    const pml_tensor_t *tensors = (const pml_tensor_t *)(const void *)(model + h->tensors_offset);
    for (int32_t i = 0; i < (int32_t)h->n_tensors; i++) {
        const pml_tensor_t *t = &tensors[i];
        e->tensor = i;
        if (t->dtype < PML_DTYPE_INT8 || t->dtype > PML_DTYPE_UINT64) {
            FAIL(PML_R_DTYPE, t->dtype);
        }
        if (t->ndim > PML_MAX_DIMS) {
            FAIL(PML_R_NDIM, t->ndim);
        }
        if (t->storage > PML_STORAGE_STATE) {
            FAIL(PML_R_STORAGE, t->storage);
        }
        /* every dimension at least 1 (an empty tensor would let a kernel loop over the others for nothing), the
         * element count below 2^31 (the kernels' index arithmetic is int32) */
        int64_t count = 1;
        for (int d = 0; d < t->ndim; d++) {
            if (t->dims[d] < 1 || t->dims[d] > INT32_MAX) {
                FAIL(PML_R_DIMS, t->dims[d]);
            }
            count = pml_mul_s64((int32_t)count, (int32_t)t->dims[d]);    /* no libgcc multiply on Cortex-M0 */
            if (count > INT32_MAX) {
                FAIL(PML_R_COUNT, count);
            }
        }
        if (pml_mul_s64((int32_t)count, DTYPE_SIZES[t->dtype]) != (int64_t)t->nbytes) {
            FAIL(PML_R_NBYTES, t->nbytes);
        }
        if ((t->offset & 3) != 0) {
            FAIL(PML_R_OFFSET_ALIGN, t->offset);
        }
        /* state tensors are in the arena, like activations */
        if ((uint64_t)t->offset + t->nbytes > (t->storage == PML_STORAGE_WEIGHTS ? h->weights_size : h->arena_size)) {
            FAIL(t->storage == PML_STORAGE_WEIGHTS ? PML_R_WEIGHTS_OVERRUN : PML_R_ARENA_OVERRUN, t->offset);
        }
    }
    e->tensor = -1;
    const uint8_t *weights = model + h->weights_offset;
    const int32_t *word = (const int32_t *)(const void *)(model + h->ops_offset);
    const int32_t *end = word + h->ops_size / 4;
    pml_operand_t operands[PML_MAX_OPERANDS];
    int64_t work = 0;
    for (int32_t op = 0; op < (int32_t)h->n_ops; op++) {
        e->op = op;
        if (end - word < 4) {
            FAIL(PML_R_OPS_END, end - word);
        }
        const int32_t code = word[0], n_in = word[1], n_out = word[2], n_params = word[3];
        /* every op has an output: none in N_OUTPUTS is an op this build leaves out (ops.h's PML_OPS) */
        if (code < 1 || code > PML_OP_MAX || N_OUTPUTS[code] == 0) {
            FAIL(PML_R_UNKNOWN_OP, code);
        }
        if (n_params != N_PARAMS[code]) {
            FAIL(PML_R_N_PARAMS, n_params);
        }
        if (N_INPUTS[code] >= 0 ? n_in != N_INPUTS[code] : (n_in < 1 || n_in > PML_MAX_OPERANDS - 1)) {
            FAIL(PML_R_N_INPUTS, n_in);
        }
        if (n_out != N_OUTPUTS[code]) {
            FAIL(PML_R_N_OUTPUTS, n_out);
        }
        if (end - word < 4 + n_in + n_out + n_params) {
            FAIL(PML_R_OPS_END, end - word);
        }
        const int32_t *params = word + 4 + n_in + n_out;
        for (int32_t k = 0; k < n_in + n_out; k++) {
            const int32_t index = word[4 + k];
            e->detail = k;
            if (index < 0 || index >= (int32_t)h->n_tensors) {
                FAIL(PML_R_OPERAND, index);
            }
        }
        /* the operands' types: the inputs' first (inputs of an op taking one or more share the first), then the
         * outputs'; a dtype of PML_SPEC_SAME_DTYPE is the first output's */
        const int32_t specs_at = OPERAND_SPECS_AT[code], specs_in = N_INPUTS[code] >= 0 ? N_INPUTS[code] : 1;
        const uint8_t out_dtype = tensors[word[4 + n_in]].dtype;
        for (int32_t k = 0; k < n_in + n_out; k++) {
            e->detail = k;
            /* the checks read constants only (an arena tensor's bytes change at run time) */
            const pml_tensor_t *t = &tensors[word[4 + k]];
            operands[k].tensor = t;
            operands[k].data = t->storage == PML_STORAGE_WEIGHTS ? (void *)(uintptr_t)(weights + t->offset) : (void *)0;
            const uint8_t spec = OPERAND_SPECS[specs_at + (k >= n_in ? k - n_in + specs_in
                                                                     : (N_INPUTS[code] >= 0 ? k : 0))];
            if (k >= n_in && t->storage != PML_STORAGE_ARENA) {
                FAIL(PML_R_OUTPUT_STORAGE, t->storage);
            }
            const uint8_t dtype = PML_SPEC_DTYPE(spec) == PML_SPEC_SAME_DTYPE ? out_dtype : PML_SPEC_DTYPE(spec);
            if (dtype != PML_SPEC_ANY_DTYPE && t->dtype != dtype) {
                FAIL(PML_R_OPERAND_DTYPE, t->dtype);
            }
            if (PML_SPEC_RANK(spec) != 7 && t->ndim != PML_SPEC_RANK(spec)) {
                FAIL(PML_R_OPERAND_RANK, t->ndim);
            }
            if (PML_SPEC_CONSTANT(spec) && t->storage != PML_STORAGE_WEIGHTS) {
                FAIL(PML_R_OPERAND_CONSTANT, t->storage);
            }
            if (PML_SPEC_STATE(spec) && t->storage != PML_STORAGE_STATE) {
                FAIL(PML_R_OPERAND_STATE, t->storage);
            }
        }
        for (int32_t i = 0; i < n_params; i++) {
            e->detail = i;
            if (!in_range(PARAM_KINDS[PARAM_KINDS_AT[code] + i], params[i], i > 0 ? params[i - 1] : 0)) {
                FAIL(PML_R_PARAM, params[i]);
            }
        }
        e->detail = -1;
        pml_check_t c = {n_in, 0, 0, 0, 0};
        if (check_op(code, params, operands, operands + n_in, &c) != PML_OK) {
            FAIL(c.rule, c.value);
        }
        /* After the op's own rules, which name a wrong shape first: an output shares no arena bytes with the
         * op's other operands (its kernel would read what it has already written, in an order of its own). An
         * in-place op's output may lie exactly over a same-sized input: it reads element i before writing it; a
         * convolution's far enough behind its input (behind_gap). */
        int64_t unit = 1;
        const int64_t gap = behind_gap(code, params, &operands[0], &operands[n_in > 1 ? 1 : 0], &operands[n_in],
                                       &unit);
        for (int32_t k = n_in; k < n_in + n_out; k++) {
            const pml_tensor_t *o = operands[k].tensor;
            for (int32_t j = 0; j < n_in + n_out; j++) {
                const pml_tensor_t *t = operands[j].tensor;
                const int64_t ahead = (int64_t)t->offset - o->offset;
                const int exact = IN_PLACE[code] && j < n_in && t->offset == o->offset && t->nbytes == o->nbytes;
                const int behind = gap >= 0 && j == 0 && ahead >= gap
                                   && pml_udiv((uint32_t)ahead, (uint32_t)unit) * (uint32_t)unit == (uint32_t)ahead;
                if (j != k && t->storage != PML_STORAGE_WEIGHTS && !exact && !behind
                    && o->offset < t->offset + t->nbytes && t->offset < o->offset + o->nbytes) {
                    e->detail = k;
                    FAIL(PML_R_ALIAS, word[4 + j]);
                }
            }
        }
        work += c.work;
        if (work > PML_MAX_WORK) {
            FAIL(PML_R_WORK, c.work);
        }
        const uint32_t scratch = (c.scratch + 3u) & ~3u;
        if (scratch > *scratch_size) {
            *scratch_size = scratch;
        }
        if (scratch_at) {
            scratch_at[op] = scratch;
        }
        word += 4 + n_in + n_out + n_params;
    }
    e->op = -1;
    if (word != end) {
        FAIL(PML_R_STRAY, end - word);
    }
    if (scratch_at) {
        *scratch_size = pml_place_scratch(model, arena_size, scratch_at);
    }
    return PML_OK;
}
