/* modelinspect predict: run a model on inputs from a JSON file (keras-ref's
 * format), so that outside tools can compare ckeras with Keras. */
#include "inspect.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int run_predict(int argc, char **argv);

const inspect_command cmd_predict = {
    .name = "predict",
    .synopsis = "predict FILE INPUT.json OUTPUT.json [--batch-size N] [--custom-lib LIB.so]...",
    .help = "Run the model in FILE on the inputs of INPUT.json, in keras-ref's format\n"
            "    {\"inputs\": [{\"shape\": [2, 3], \"data\": [...], \"dtype\": \"int32\"?}, ...]}\n"
            "(one entry per model input, in input order; data flat, row-major) and write\n"
            "    {\"outputs\": [{\"name\": ..., \"shape\": [...], \"data\": [...]}, ...]}\n"
            "to OUTPUT.json (\"-\" for stdout). Values are float32 printed exactly;\n"
            "non-finite ones as \"NaN\", \"Infinity\", \"-Infinity\". Inference mode, in\n"
            "batches of --batch-size (default 32), as Keras' Model.predict.\n"
            "Exit 0, 2 when a file cannot be read or the inputs do not fit the model.\n",
    .run = run_predict,
    .isolation = ISOLATE_ITSELF,
};

/* Inputs files are small; refuse anything absurd before reading it. */
#define MAX_INPUT_BYTES (1LL << 30)

static json_t *read_json_file(const char *path, kc_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err->message, sizeof err->message, "cannot open: %s", strerror(errno));
        snprintf(err->context, sizeof err->context, "%s", path);
        err->code = KC_EIO;
        return NULL;
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 1 << 16;
            if ((long long)cap > MAX_INPUT_BYTES) break;
            char *grown = realloc(text, cap);
            if (!grown) break;
            text = grown;
        }
        size_t got = fread(text + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    bool too_big = !feof(f), failed = ferror(f);
    fclose(f);
    json_t *json = NULL;
    if (too_big || failed) {
        snprintf(err->message, sizeof err->message, failed ? "read error" : "file too large or out of memory");
        err->code = failed ? KC_EIO : KC_ELIMIT;
    } else {
        json = kc_json_parse(text ? text : "", len, 0, err);
    }
    if (!json) snprintf(err->context, sizeof err->context, "%s", path);
    free(text);
    return json;
}

static int write_outputs(const char *path, kc_object *model, kc_tensor **outs, int n_out,
                         kc_error *err)
{
    json_t *root = json_object(), *list = json_array();
    json_object_set_new(root, "outputs", list);
    for (int i = 0; i < n_out; i++) {
        json_t *t;
        if (kc_tensor_to_json(outs[i], kc_model_output_name(model, i), &t, err) != KC_OK) {
            json_decref(root);
            inspect_print_error(err);
            return EXIT_INVALID;
        }
        json_array_append_new(list, t);
    }
    int rc = strcmp(path, "-") == 0 ? json_dumpf(root, stdout, JSON_REAL_PRECISION(9))
                                    : json_dump_file(root, path, JSON_REAL_PRECISION(9));
    json_decref(root);
    if (rc != 0) return inspect_fail(EXIT_INVALID, "cannot write %s", path);
    if (strcmp(path, "-") == 0) putchar('\n');
    return EXIT_OK;
}

static int run_predict(int argc, char **argv)
{
    const char *files[3] = {NULL, NULL, NULL};
    double batch_arg = 32;
    kc_error err = {0};
    const inspect_opt opts[] = {
        {"--custom-lib", OPT_PLUGIN, NULL},
        {"--batch-size", OPT_NUMBER, &batch_arg},
    };
    int rc = inspect_parse(&cmd_predict, argc, argv, opts, 2, files, 3, 3, "need FILE, INPUT.json and OUTPUT.json");
    if (rc >= 0) return rc;
    if (batch_arg < 1 || batch_arg != (double)(long long)batch_arg || batch_arg > 1e15)
        return inspect_usage(&cmd_predict, "--batch-size needs a positive integer");
    long long batch = (long long)batch_arg;

    kc_load_options lopts = {.warn = inspect_warn, .no_compile = true};
    kc_object *model = inspect_load_model(files[0], &lopts, &err);
    if (!model) {
        inspect_print_error(&err);
        return EXIT_INVALID;
    }
    int status = EXIT_INVALID, n_in = kc_model_num_inputs(model), n_out = 0, n_read = 0;
    kc_tensor *ins[KC_MAX_LAYER_OUTPUTS] = {0}, *outs[KC_MAX_LAYER_OUTPUTS] = {0};
    json_t *root = read_json_file(files[1], &err);
    if (!root) goto fail;
    json_t *list = json_object_get(root, "inputs");
    if (!json_is_array(list) || (int)json_array_size(list) != n_in) {
        status = inspect_fail(EXIT_INVALID, "%s: \"inputs\" must be a list of %d tensor%s (the model's inputs)",
                              files[1], n_in, n_in == 1 ? "" : "s");
        goto done;
    }
    if (n_in > KC_MAX_LAYER_OUTPUTS) {
        status = inspect_fail(EXIT_INVALID, "models with more than %d inputs are not supported", KC_MAX_LAYER_OUTPUTS);
        goto done;
    }
    for (; n_read < n_in; n_read++) {
        if (kc_tensor_from_json(json_array_get(list, (size_t)n_read), &ins[n_read], &err) != KC_OK) {
            snprintf(err.context, sizeof err.context, "%s: inputs[%d]", files[1], n_read);
            goto fail;
        }
    }
    if (kc_model_predict(model, ins, n_in, batch, outs, &n_out, &err) != KC_OK) goto fail;
    status = write_outputs(files[2], model, outs, n_out, &err);
    goto done;
fail:
    inspect_print_error(&err);
done:
    for (int i = 0; i < n_read; i++) kc_tensor_unref(ins[i]);
    for (int i = 0; i < n_out; i++) kc_tensor_unref(outs[i]);
    json_decref(root);
    kc_object_unref(model);
    return status;
}
