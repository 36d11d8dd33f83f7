"""The op set of the .pml format: one table, the single source of truth for opcode numbers, names and the order of
each op's tensor operands and int32 parameters. The C header and the device library's constants are checked
against it (see docs/format.md)."""
from collections import namedtuple

OpSpec = namedtuple("OpSpec", "code name inputs params")

_CONV_PARAMS = ("stride_h", "stride_w", "dilation_h", "dilation_w", "pad_top", "pad_left",
                "input_offset", "output_offset", "act_min", "act_max")
_POOL_PARAMS = ("stride_h", "stride_w", "filter_h", "filter_w", "pad_top", "pad_left", "act_min", "act_max")
_SIGMOID_LIKE_PARAMS = ("input_zero_point", "input_range_radius", "input_multiplier", "input_left_shift")

OPS = (
    OpSpec(1, "CONV_2D", ("input", "filter", "bias", "multipliers", "shifts"), _CONV_PARAMS),
    OpSpec(2, "DEPTHWISE_CONV_2D", ("input", "filter", "bias", "multipliers", "shifts"),
           _CONV_PARAMS + ("depth_multiplier",)),
    OpSpec(3, "FULLY_CONNECTED", ("input", "weights", "bias", "multipliers", "shifts"),
           ("output_offset", "act_min", "act_max")),
    OpSpec(4, "AVERAGE_POOL_2D", ("input",), _POOL_PARAMS),
    OpSpec(5, "MAX_POOL_2D", ("input",), _POOL_PARAMS),
    OpSpec(6, "SOFTMAX", ("input",), ("input_multiplier", "input_left_shift", "diff_min")),
    OpSpec(7, "ADD", ("input1", "input2"),
           ("input1_offset", "input2_offset", "output_offset", "left_shift",
            "input1_multiplier", "input1_shift", "input2_multiplier", "input2_shift",
            "output_multiplier", "output_shift", "act_min", "act_max")),
    OpSpec(8, "MUL", ("input1", "input2"),
           ("input1_offset", "input2_offset", "output_offset", "output_multiplier", "output_shift",
            "act_min", "act_max")),
    OpSpec(9, "CONCATENATION", ("inputs*",), ("axis",)),
    OpSpec(10, "LOGISTIC", ("input",), _SIGMOID_LIKE_PARAMS),
    OpSpec(11, "TANH", ("input",), _SIGMOID_LIKE_PARAMS),
    OpSpec(12, "RELU", ("input",),
           ("input_offset", "output_offset", "output_multiplier", "output_shift", "act_min", "act_max")),
    OpSpec(13, "LEAKY_RELU", ("input",),
           ("input_offset", "output_offset", "alpha_multiplier", "alpha_shift",
            "identity_multiplier", "identity_shift")),
    OpSpec(14, "HARD_SWISH", ("input",),
           ("input_zero_point", "output_zero_point", "reluish_multiplier_fixedpoint_int16",
            "reluish_multiplier_exponent", "output_multiplier_fixedpoint_int16", "output_multiplier_exponent")),
    OpSpec(15, "MEAN", ("input",),
           ("axis_mask", "input_zero_point", "output_zero_point", "multiplier", "shift")),
    OpSpec(16, "PAD", ("input",),
           ("pad_before_0", "pad_before_1", "pad_before_2", "pad_before_3",
            "pad_after_0", "pad_after_1", "pad_after_2", "pad_after_3", "pad_value")),
    OpSpec(17, "REQUANTIZE", ("input",), ("input_offset", "output_offset", "multiplier", "shift")),
)

BY_CODE = {op.code: op for op in OPS}
BY_NAME = {op.name: op for op in OPS}


def c_header():
    """native_module/ops.h: op codes and one params struct per op, overlaying the op table's int32 params."""
    lines = ["/* Generated from host/picoml/optable.py by `python -m picoml.optable`; do not edit. */",
             "#ifndef PICOML_OPS_H", "#define PICOML_OPS_H", "", "#include <stdint.h>", ""]
    for op in OPS:
        lines.append("#define PML_OP_%s %d" % (op.name, op.code))
    lines.append("#define PML_OP_MAX %d" % max(op.code for op in OPS))
    for op in OPS:
        lines += ["", "typedef struct {"]
        lines += ["    int32_t %s;" % p for p in op.params]
        lines.append("} pml_%s_params_t;" % op.name.lower())
        lines.append("#define PML_%s_N_PARAMS %d" % (op.name, len(op.params)))
    lines += ["", "#endif", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(c_header(), end="")
