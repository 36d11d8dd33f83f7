/* Generated from host/picoml/optable.py by `python -m picoml.optable`; do not edit. */
#ifndef PICOML_OPS_H
#define PICOML_OPS_H

#include <stdint.h>

#define PML_OP_CONV_2D 1
#define PML_OP_DEPTHWISE_CONV_2D 2
#define PML_OP_FULLY_CONNECTED 3
#define PML_OP_AVERAGE_POOL_2D 4
#define PML_OP_MAX_POOL_2D 5
#define PML_OP_SOFTMAX 6
#define PML_OP_ADD 7
#define PML_OP_MUL 8
#define PML_OP_CONCATENATION 9
#define PML_OP_LOGISTIC 10
#define PML_OP_TANH 11
#define PML_OP_RELU 12
#define PML_OP_LEAKY_RELU 13
#define PML_OP_HARD_SWISH 14
#define PML_OP_MEAN 15
#define PML_OP_PAD 16
#define PML_OP_REQUANTIZE 17
#define PML_OP_MAX 17

typedef struct {
    int32_t stride_h;
    int32_t stride_w;
    int32_t dilation_h;
    int32_t dilation_w;
    int32_t pad_top;
    int32_t pad_left;
    int32_t input_offset;
    int32_t output_offset;
    int32_t act_min;
    int32_t act_max;
} pml_conv_2d_params_t;
#define PML_CONV_2D_N_PARAMS 10

typedef struct {
    int32_t stride_h;
    int32_t stride_w;
    int32_t dilation_h;
    int32_t dilation_w;
    int32_t pad_top;
    int32_t pad_left;
    int32_t input_offset;
    int32_t output_offset;
    int32_t act_min;
    int32_t act_max;
    int32_t depth_multiplier;
} pml_depthwise_conv_2d_params_t;
#define PML_DEPTHWISE_CONV_2D_N_PARAMS 11

typedef struct {
    int32_t output_offset;
    int32_t act_min;
    int32_t act_max;
} pml_fully_connected_params_t;
#define PML_FULLY_CONNECTED_N_PARAMS 3

typedef struct {
    int32_t stride_h;
    int32_t stride_w;
    int32_t filter_h;
    int32_t filter_w;
    int32_t pad_top;
    int32_t pad_left;
    int32_t act_min;
    int32_t act_max;
} pml_average_pool_2d_params_t;
#define PML_AVERAGE_POOL_2D_N_PARAMS 8

typedef struct {
    int32_t stride_h;
    int32_t stride_w;
    int32_t filter_h;
    int32_t filter_w;
    int32_t pad_top;
    int32_t pad_left;
    int32_t act_min;
    int32_t act_max;
} pml_max_pool_2d_params_t;
#define PML_MAX_POOL_2D_N_PARAMS 8

typedef struct {
    int32_t input_multiplier;
    int32_t input_left_shift;
    int32_t diff_min;
} pml_softmax_params_t;
#define PML_SOFTMAX_N_PARAMS 3

typedef struct {
    int32_t input1_offset;
    int32_t input2_offset;
    int32_t output_offset;
    int32_t left_shift;
    int32_t input1_multiplier;
    int32_t input1_shift;
    int32_t input2_multiplier;
    int32_t input2_shift;
    int32_t output_multiplier;
    int32_t output_shift;
    int32_t act_min;
    int32_t act_max;
} pml_add_params_t;
#define PML_ADD_N_PARAMS 12

typedef struct {
    int32_t input1_offset;
    int32_t input2_offset;
    int32_t output_offset;
    int32_t output_multiplier;
    int32_t output_shift;
    int32_t act_min;
    int32_t act_max;
} pml_mul_params_t;
#define PML_MUL_N_PARAMS 7

typedef struct {
    int32_t axis;
} pml_concatenation_params_t;
#define PML_CONCATENATION_N_PARAMS 1

typedef struct {
    int32_t input_zero_point;
    int32_t input_range_radius;
    int32_t input_multiplier;
    int32_t input_left_shift;
} pml_logistic_params_t;
#define PML_LOGISTIC_N_PARAMS 4

typedef struct {
    int32_t input_zero_point;
    int32_t input_range_radius;
    int32_t input_multiplier;
    int32_t input_left_shift;
} pml_tanh_params_t;
#define PML_TANH_N_PARAMS 4

typedef struct {
    int32_t input_offset;
    int32_t output_offset;
    int32_t output_multiplier;
    int32_t output_shift;
    int32_t act_min;
    int32_t act_max;
} pml_relu_params_t;
#define PML_RELU_N_PARAMS 6

typedef struct {
    int32_t input_offset;
    int32_t output_offset;
    int32_t alpha_multiplier;
    int32_t alpha_shift;
    int32_t identity_multiplier;
    int32_t identity_shift;
} pml_leaky_relu_params_t;
#define PML_LEAKY_RELU_N_PARAMS 6

typedef struct {
    int32_t input_zero_point;
    int32_t output_zero_point;
    int32_t reluish_multiplier_fixedpoint_int16;
    int32_t reluish_multiplier_exponent;
    int32_t output_multiplier_fixedpoint_int16;
    int32_t output_multiplier_exponent;
} pml_hard_swish_params_t;
#define PML_HARD_SWISH_N_PARAMS 6

typedef struct {
    int32_t axis_mask;
    int32_t input_zero_point;
    int32_t output_zero_point;
    int32_t multiplier;
    int32_t shift;
} pml_mean_params_t;
#define PML_MEAN_N_PARAMS 5

typedef struct {
    int32_t pad_before_0;
    int32_t pad_before_1;
    int32_t pad_before_2;
    int32_t pad_before_3;
    int32_t pad_after_0;
    int32_t pad_after_1;
    int32_t pad_after_2;
    int32_t pad_after_3;
    int32_t pad_value;
} pml_pad_params_t;
#define PML_PAD_N_PARAMS 9

typedef struct {
    int32_t input_offset;
    int32_t output_offset;
    int32_t multiplier;
    int32_t shift;
} pml_requantize_params_t;
#define PML_REQUANTIZE_N_PARAMS 4

#endif
