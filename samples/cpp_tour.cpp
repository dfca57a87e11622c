// The README's tour in C++17 (include/ckeras.hpp): a custom layer made in C,
// a Sequential built from typed constructors, compile, fit, save, load with
// custom objects, the same predictions; then a gradient tape over
// f(w1, w2) = 3 w1^2 + 2 w1 w2 at (5, 3) -> (36, 10), and an error as an
// exception. Handles release their references (the suite runs it under
// ASan too). Exit 1 when a check fails.
//
// Lines: not a seed part (the C++ tour).
#include <ckeras.hpp>

#include <cmath>
#include <cstdio>
#include <iostream>

// The tour's custom layer, Scale (y = x * scale), written with the C API.
struct scale_layer {
    kc_layer base;
    kc_variable *scale;
};

static kc_status scale_build(kc_object *self, const kc_shape *in, int, kc_error *err)
{
    kc_weight_args w{};
    w.initializer = ckeras::name("ones");
    reinterpret_cast<scale_layer *>(self)->scale =
        kc_layer_add_weight_ex(self, "scale", ckeras::shape({in[0].dims[in[0].ndim - 1]}), &w, err);
    return reinterpret_cast<scale_layer *>(self)->scale ? KC_OK : err->code;
}

static kc_status scale_call(kc_object *self, const kc_call_args *args, kc_tensor **out, int, kc_error *err)
{
    out[0] = kc_mul(args->inputs[0], kc_variable_value(reinterpret_cast<scale_layer *>(self)->scale), err);
    return out[0] ? KC_OK : err->code;
}

static const kc_layer_methods scale_methods = {0, 0, scale_build, scale_call, nullptr, nullptr, nullptr};
static const kc_class scale_class = {KC_CLASS_ABI, KC_KIND_LAYER, "Scale", sizeof(scale_layer), 1, nullptr, nullptr,
                                     nullptr, nullptr, &scale_methods, nullptr};

static int failed = 0;
static void check(bool ok, const char *what)
{
    std::printf("%s: %s\n", ok ? "ok" : "FAIL", what);
    failed |= !ok;
}

int main()
try {
    kc_set_random_seed(1);
    std::vector<float> xs(256 * 4), ys(256);
    kc_rng_fill_uniform(kc_global_rng(), xs.data(), xs.size(), -1.0f, 1.0f);
    for (int i = 0; i < 256; i++) ys[i] = xs[4 * i] + xs[4 * i + 1] + xs[4 * i + 2] + xs[4 * i + 3];
    ckeras::tensor x = ckeras::tensor::from(xs, {256, 4}), y = ckeras::tensor::from(ys, {256, 1});

    // keras.Sequential([Input((4,)), Scale(), Dense(8, activation="relu"), Dense(1)])
    ckeras::object input = ckeras::make(kc_layers_input_layer, [](kc_layers_args &a) { a.input_shape = ckeras::shape({4}); });
    kc_error err{};
    ckeras::object scale(kc_object_new(&scale_class, &err));
    ckeras::object hidden = ckeras::make(kc_layers_dense, [](kc_layers_dense_args &a) {
        a.units = 8;
        a.activation = ckeras::name("relu");
    });
    ckeras::object out = ckeras::make(kc_layers_dense, [](kc_layers_dense_args &a) { a.units = 1; });
    ckeras::model model = ckeras::model::sequential_of("cpp_tour", input, scale, hidden, out);

    // model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    ckeras::object adam = ckeras::make(kc_optimizers_adam, [](kc_optimizers_adam_args &a) { a.learning_rate = 0.01; });
    kc_compile_specs specs{};
    specs.optimizer = ckeras::use(adam);
    specs.loss = ckeras::name("mse");
    specs.metrics[0] = ckeras::name("mae");
    model.compile(specs);

    kc_fit_args fit{};
    fit.epochs = 20;
    fit.validation_split = 0.1;
    ckeras::history history = model.fit(x, y, fit);
    std::printf("loss: epoch 1 %.4f, epoch 20 %.4f\n", history["loss"][0], history["loss"][19]);
    check(history["loss"][19] < history["loss"][0] / 4, "the loss went down");

    model.save("cpp_tour.h5");
    ckeras::custom_objects custom;
    custom.add(&scale_class);
    ckeras::model loaded = ckeras::model::load("cpp_tour.h5", &custom);
    ckeras::tensor p1 = model.predict(x), p2 = loaded.predict(x);
    check(p1.values() == p2.values(), "the loaded model predicts the same values");
    std::remove("cpp_tour.h5");

    // with tf.GradientTape() as tape: z = 3 w1^2 + 2 w1 w2
    ckeras::variable w1("w1", ckeras::tensor::scalar(5)), w2("w2", ckeras::tensor::scalar(3));
    ckeras::tape tape;
    ckeras::tensor z = 3.0f * ckeras::square(w1.value()) + 2.0f * (w1.value() * w2.value());
    std::vector<ckeras::tensor> g = tape.gradient(z, {&w1.value(), &w2.value()});
    std::printf("tape: %.1f %.1f\n", g[0].item(), g[1].item());
    check(g[0].item() == 36 && g[1].item() == 10, "the tape gives (36, 10)");

    // a failure is an exception carrying the kc_error
    try {
        ckeras::make(kc_layers_dense, [](kc_layers_dense_args &a) { a.units = -3; });
        check(false, "a Dense with -3 units is refused");
    } catch (const ckeras::error &e) {
        std::printf("error: %s\n", e.what());
        check(e.code() == KC_EFORMAT && std::strstr(e.info().message, "kc_layers_dense.units"),
              "a Dense with -3 units throws ckeras::error naming the field");
    }
    return failed;
} catch (const ckeras::error &e) {
    std::cerr << "cpp_tour: " << e.what() << "\n";
    return 1;
}
