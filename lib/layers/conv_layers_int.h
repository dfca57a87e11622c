/* ckeras private: config pieces and layout helpers shared by the layers on
 * images, sequences and volumes (convolution, pooling, padding, cropping,
 * upsampling, spatial dropout; lib/layers/conv_util.c). */
#ifndef CKERAS_CONV_LAYERS_INT_H
#define CKERAS_CONV_LAYERS_INT_H

#include "../autodiff/conv_int.h"
#include "layers_int.h"

/* "data_format": "channels_last" (default, also for null) or
 * "channels_first". */
kc_status kc__cfg_data_format(const kc_config_ctx *ctx, const json_t *cfg, bool *channels_first,
                              kc_error *err);
kc_status kc__cfg_set_data_format(json_t *cfg, bool channels_first, kc_error *err);
/* "padding": "valid" (default), "same", or "causal" where allowed. */
kc_status kc__cfg_padding(const kc_config_ctx *ctx, const json_t *cfg, bool allow_causal,
                          kc__padding *out, kc_error *err);
const char *kc__padding_name(kc__padding p);
/* Store n integers as a JSON list under key. */
kc_status kc__cfg_set_tuple(json_t *cfg, const char *key, const int64_t *v, int n, kc_error *err);

/* A tensor of rank nsp + 2 in channels-last layout: x itself (a new
 * reference) or its transpose from channels-first. Recorded on tapes. */
kc_tensor *kc__to_channels_last(kc_tensor *x, int nsp, bool channels_first, kc_error *err);
/* The inverse: back to channels-first when channels_first. Takes y. */
kc_tensor *kc__from_channels_last(kc_tensor *y, int nsp, bool channels_first, kc_error *err);

/* Spatial sizes and channels of a (batch, ...) shape of rank nsp + 2. */
void kc__spatial_dims(const kc_shape *s, int nsp, bool channels_first, int64_t *spatial,
                      int64_t *channels);
/* The shape (batch, spatial..., channels) or (batch, channels, spatial...). */
kc_shape kc__spatial_shape(int64_t batch, const int64_t *spatial, int nsp, int64_t channels,
                           bool channels_first);
/* KC_ESHAPE unless s has rank nsp + 2 ("Conv2D expects inputs of rank 4
 * (batch, rows, cols, channels), got (None, 5)"). */
kc_status kc__check_spatial_rank(const kc_shape *s, int nsp, bool channels_first,
                                 const char *class_name, kc_error *err);

#endif /* CKERAS_CONV_LAYERS_INT_H */
