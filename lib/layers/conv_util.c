/* Config keys and tensor layouts shared by the spatial layers.
 *
 * Every spatial op in ckeras computes on channels-last tensors; a layer
 * with data_format "channels_first" transposes its input to channels-last
 * and its output back, which is what TensorFlow itself does for most of
 * these ops on CPU. Keeping one layout in the kernels halves their number. */
#include "conv_layers_int.h"

#include <string.h>

static const char *const data_formats[] = {"channels_last", "channels_first"};
static const char *const paddings[] = {"valid", "same", "causal"};

kc_status kc__cfg_data_format(const kc_config_ctx *ctx, const json_t *cfg, bool *channels_first,
                              kc_error *err)
{
    int i = 0;
    kc_status rc = kc_cfg_choice(ctx, cfg, "data_format", KC_CFG_NULLABLE, data_formats, 2, 0, &i, err);
    *channels_first = i == 1;
    return rc;
}

kc_status kc__cfg_set_data_format(json_t *cfg, bool channels_first, kc_error *err)
{
    if (json_object_set_new(cfg, "data_format", json_string(data_formats[channels_first ? 1 : 0])))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    return KC_OK;
}

kc_status kc__cfg_padding(const kc_config_ctx *ctx, const json_t *cfg, bool allow_causal,
                          kc__padding *out, kc_error *err)
{
    int i = 0;
    kc_status rc = kc_cfg_choice(ctx, cfg, "padding", 0, paddings, allow_causal ? 3 : 2, 0, &i, err);
    *out = (kc__padding)i;
    return rc;
}

const char *kc__padding_name(kc__padding p) { return paddings[p]; }

kc_status kc__cfg_set_tuple(json_t *cfg, const char *key, const int64_t *v, int n, kc_error *err)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++) {
        if (json_array_append_new(a, json_integer(v[i]))) {
            json_decref(a);
            a = NULL;
        }
    }
    if (!a || json_object_set_new(cfg, key, a)) return kc__errf(err, KC_ENOMEM, "out of memory");
    return KC_OK;
}

kc_tensor *kc__to_channels_last(kc_tensor *x, int nsp, bool channels_first, kc_error *err)
{
    if (!channels_first) return x ? kc_tensor_ref(x) : NULL;
    int perm[KC_MAX_DIMS] = {0};
    for (int i = 0; i < nsp; i++) perm[i + 1] = i + 2;
    perm[nsp + 1] = 1;
    return kc_transpose(x, perm, err);
}

kc_tensor *kc__from_channels_last(kc_tensor *y, int nsp, bool channels_first, kc_error *err)
{
    if (!channels_first || !y) return y;
    int perm[KC_MAX_DIMS] = {0};
    perm[1] = nsp + 1;
    for (int i = 0; i < nsp; i++) perm[i + 2] = i + 1;
    kc_tensor *t = kc_transpose(y, perm, err);
    kc_tensor_unref(y);
    return t;
}

void kc__spatial_dims(const kc_shape *s, int nsp, bool channels_first, int64_t *spatial,
                      int64_t *channels)
{
    int first = channels_first ? 2 : 1;
    for (int i = 0; i < nsp; i++) spatial[i] = s->dims[first + i];
    *channels = s->dims[channels_first ? 1 : nsp + 1];
}

kc_shape kc__spatial_shape(int64_t batch, const int64_t *spatial, int nsp, int64_t channels,
                           bool channels_first)
{
    kc_shape s;
    s.ndim = nsp + 2;
    s.dims[0] = batch;
    int first = channels_first ? 2 : 1;
    for (int i = 0; i < nsp; i++) s.dims[first + i] = spatial[i];
    s.dims[channels_first ? 1 : nsp + 1] = channels;
    return s;
}

kc_status kc__check_spatial_rank(const kc_shape *s, int nsp, bool channels_first,
                                 const char *class_name, kc_error *err)
{
    static const char *const names[3][3] = {{"steps", "", ""}, {"rows", "cols", ""}, {"dim1", "dim2", "dim3"}};
    if (s->ndim == nsp + 2) return KC_OK;
    char want[128] = "(batch", got[160];
    if (channels_first) strcat(want, ", channels");
    for (int i = 0; i < nsp; i++) {
        strcat(want, ", ");
        strcat(want, names[nsp - 1][i]);
    }
    strcat(want, channels_first ? ")" : ", channels)");
    return kc__errf(err, KC_ESHAPE, "%s expects inputs of rank %d %s, got %s", class_name, nsp + 2,
                    want, kc_shape_format(s, got, sizeof(got)));
}
