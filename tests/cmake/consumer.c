/* Built by CMake against an installed ckeras (find_package(ckeras),
 * ckeras::ckeras): a typed Dense on a tensor, and the Jansson the headers
 * bring. Prints "consumer: ok" and the library's version. */
#include <ckeras.h>

#include <stdio.h>

int main(void)
{
    kc_error err = {0};
    kc_object *dense = kc_layers_dense(
        &(kc_layers_dense_args){.units = 2, .kernel_initializer = KC_NAME("ones"), .activation = KC_NAME("relu")},
        &err);
    kc_tensor *x = kc_tensor_from_data(KC_FLOAT32, 2, (int64_t[]){1, 3}, (float[]){1, 2, 3}, &err);
    kc_tensor *y = dense && x ? kc_layer_call1(dense, x, false, &err) : NULL;
    json_t *cfg = NULL;
    int ok = y && kc_tensor_get(y, 0) == 6 && kc_tensor_get(y, 1) == 6 &&
             kc_object_get_config(dense, &cfg, &err) == KC_OK && json_integer_value(json_object_get(cfg, "units")) == 2;
    printf("consumer: %s (ckeras %s)\n", ok ? "ok" : err.message, kc_version());
    json_decref(cfg);
    kc_tensor_unref(y);
    kc_tensor_unref(x);
    kc_object_unref(dense);
    return ok ? 0 : 1;
}
