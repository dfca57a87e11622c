/* modelinspect config: the model_config (or training_config) JSON of a
 * file, pretty-printed, or the part of it an RFC 6901 JSON pointer names. */
#include "inspect.h"

#include <stdlib.h>
#include <string.h>

static int run_config(int argc, char **argv);

const inspect_command cmd_config = {
    .name = "config",
    .synopsis = "config FILE [--pointer /json/pointer] [--training] [--json]",
    .help = "Print the model_config attribute of FILE (the architecture, as Keras wrote it)\n"
            "as indented JSON, numbers as Python prints them.\n\n"
            "  --training          print training_config instead (loss, metrics, optimizer)\n"
            "  --pointer POINTER   print only the value at this RFC 6901 JSON pointer, e.g.\n"
            "                      /config/layers/1/config/units (\"~1\" stands for '/',\n"
            "                      \"~0\" for '~'); exit 2 when it does not resolve\n"
            "  --json              print {\"file\", \"attribute\", \"pointer\", \"value\"}\n\n"
            "Exit 0, 2 when the file cannot be read, has no such attribute (weights-only\n"
            "files have no model_config) or the pointer does not resolve, 64 for a\n"
            "malformed pointer.\n",
    .run = run_config,
    .isolation = ISOLATE_WHOLE,
};

/* Decode one reference token (~1 -> '/', ~0 -> '~') into out; false when
 * a '~' is not followed by 0 or 1. */
static bool unescape(const char *tok, size_t len, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        if (tok[i] != '~') {
            out[k++] = tok[i];
            continue;
        }
        if (i + 1 == len || (tok[i + 1] != '0' && tok[i + 1] != '1')) return false;
        out[k++] = tok[++i] == '1' ? '/' : '~';
    }
    out[k] = '\0';
    return true;
}

/* An array index token: "0" or digits without a leading zero. */
static bool array_index(const char *tok, size_t *index)
{
    if (!tok[0] || (tok[0] == '0' && tok[1]) || strspn(tok, "0123456789") != strlen(tok) || strlen(tok) > 18)
        return false;
    *index = (size_t)strtoull(tok, NULL, 10);
    return true;
}

/* The value at pointer, or NULL with a message in why. Returns 0, or
 * EXIT_USAGE for a pointer that is not one. */
static int resolve(const json_t *root, const char *pointer, const json_t **out, char *why, size_t why_size)
{
    *out = NULL;
    if (pointer[0] && pointer[0] != '/') {
        snprintf(why, why_size, "a JSON pointer is empty or starts with '/'");
        return EXIT_USAGE;
    }
    size_t plen = strlen(pointer);
    char *tok = malloc(plen + 1);
    if (!tok) {
        snprintf(why, why_size, "out of memory");
        return EXIT_INVALID;
    }
    const json_t *cur = root;
    const char *p = pointer;
    int rc = 0;
    while (*p == '/') {
        const char *start = p + 1, *end = strchr(start, '/');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        if (!unescape(start, len, tok)) {
            snprintf(why, why_size, "'~' must be followed by 0 or 1 in a JSON pointer");
            rc = EXIT_USAGE;
            break;
        }
        size_t at = (size_t)(start - pointer) + len;
        size_t index;
        const json_t *next = NULL;
        if (json_is_object(cur)) {
            if (!(next = json_object_get(cur, tok)))
                snprintf(why, why_size, "no key \"%s\" at %.*s", tok, (int)(start - 1 - pointer), pointer);
        } else if (json_is_array(cur)) {
            if (!array_index(tok, &index))
                snprintf(why, why_size, "\"%s\" is not an array index at %.*s", tok, (int)(start - 1 - pointer), pointer);
            else if (!(next = json_array_get(cur, index)))
                snprintf(why, why_size, "index %zu is past the end of the %zu items at %.*s", index,
                         json_array_size(cur), (int)(start - 1 - pointer), pointer);
        } else {
            snprintf(why, why_size, "%.*s is not an object or an array", (int)(start - 1 - pointer), pointer);
        }
        if (!next) break;
        cur = next;
        p = pointer + at;
    }
    free(tok);
    if (rc == 0 && *p == '\0') *out = cur;
    return rc;
}

static int run_config(int argc, char **argv)
{
    const char *file = NULL, *pointer = NULL;
    bool training = false, as_json = false;
    const inspect_opt opts[] = {
        {"--pointer", OPT_STRING, &pointer},
        {"--training", OPT_FLAG, &training},
        {"--json", OPT_FLAG, &as_json},
    };
    int rc = inspect_parse(&cmd_config, argc, argv, opts, 3, &file, 1, 1, "missing FILE");
    if (rc >= 0) return rc;
    kc_h5file *f = inspect_open(file);
    if (!f) return EXIT_INVALID;
    const char *attr = training ? "training_config" : "model_config";
    json_t *root = NULL;
    kc_error err = {0};
    if (kc_h5file_attr_json(f, attr, &root, &err) != KC_OK) {
        inspect_print_error(&err);
        kc_h5file_close(f);
        return EXIT_INVALID;
    }
    kc_h5file_close(f);
    if (!root) {
        if (!training) return inspect_fail(EXIT_INVALID, WEIGHTS_ONLY_MESSAGE, file);
        return inspect_fail(EXIT_INVALID, "'%s' has no training_config (the model was not compiled, or saved without its optimizer)", file);
    }
    const json_t *value = root;
    if (pointer) {
        char why[512];
        rc = resolve(root, pointer, &value, why, sizeof why);
        if (rc == EXIT_USAGE) {
            json_decref(root);
            return inspect_usage(&cmd_config, "bad JSON pointer '%s': %s", pointer, why);
        }
        if (!value) {
            json_decref(root);
            return inspect_fail(EXIT_INVALID, "JSON pointer '%s' does not resolve in %s: %s (%s)", pointer, attr, why, file);
        }
    }
    if (as_json) {
        json_t *out = json_pack("{s:s, s:s, s:s, s:O}", "file", file, "attribute", attr, "pointer", pointer ? pointer : "",
                                "value", value);
        json_decref(root);
        return inspect_emit_json(out);
    }
    inspect_json_print(stdout, value, 2);
    putchar('\n');
    json_decref(root);
    return EXIT_OK;
}
