// ckeras for C++17: a header-only wrapper over the C library (<ckeras.h>).
//
//   - Handles own one reference and release it when destroyed: ckeras::tensor,
//     ckeras::object (layers, models, losses, ...), ckeras::tape, ckeras::history,
//     ckeras::custom_objects. They move and do not copy; share() takes another
//     reference explicitly. get() lends the C pointer to C calls; release()
//     gives the reference up.
//   - Failures throw ckeras::error, which carries the kc_error (code, message,
//     context) of the C call.
//   - Shapes and values are initializer lists: tensor::from({1, 2, 3, 4}, {2, 2}).
//   - Every typed constructor of the C API works through make():
//         kc_layers_dense_args a{};
//         a.units = 8;
//         a.activation = ckeras::name("relu");
//         ckeras::object dense = ckeras::make(kc_layers_dense, a);
//     (C++17 has no designated initializers; a lambda that fills the struct
//     works too: make(kc_layers_dense, [](auto &a) { a.units = 8; })).
//
// samples/cpp_tour.cpp is the README's tour in C++ and runs in the suite.
#ifndef CKERAS_HPP
#define CKERAS_HPP

#include "ckeras.h"

#include <cstring>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace ckeras {

// ---- errors -------------------------------------------------------------------------

// What a failed C call reported.
class error : public std::runtime_error {
public:
    explicit error(const kc_error &e) : std::runtime_error(describe(e)), info_(e) {}
    const kc_error &info() const noexcept { return info_; }
    kc_status code() const noexcept { return info_.code; }

private:
    static std::string describe(const kc_error &e)
    {
        char buf[1024];
        return kc_error_format(&e, buf, sizeof buf);
    }
    kc_error info_;
};

namespace detail {
// A fresh kc_error for one call; throws when the call failed.
struct call {
    kc_error err{};
    void status(kc_status rc)
    {
        if (rc != KC_OK) fail(rc);
    }
    template <class T> T *ptr(T *p)
    {
        if (!p) fail(KC_EINTERNAL);
        return p;
    }
    [[noreturn]] void fail(kc_status rc)
    {
        if (err.code == KC_OK) kc_error_set(&err, rc, "failed without an error message");
        throw error(err);
    }
};
} // namespace detail

// ---- arguments of the typed constructors (args.h) --------------------------------------------

inline constexpr kc_bool yes{1};
inline constexpr kc_bool no{2};
inline kc_spec name(const char *n) { return kc_spec{n, nullptr, nullptr}; }
inline kc_shape shape(std::initializer_list<int64_t> dims)
{
    if (dims.size() > KC_MAX_DIMS) throw std::length_error("ckeras::shape: more than KC_MAX_DIMS dimensions");
    kc_shape s{};
    s.ndim = static_cast<int>(dims.size());
    std::copy(dims.begin(), dims.end(), s.dims);
    return s;
}

// ---- tensors ------------------------------------------------------------------------------

class tensor {
public:
    tensor() noexcept = default;
    // Takes the reference t holds (a C function's new reference).
    explicit tensor(kc_tensor *t) noexcept : t_(t) {}
    tensor(tensor &&o) noexcept : t_(o.release()) {}
    tensor &operator=(tensor &&o) noexcept
    {
        if (this != &o) reset(o.release());
        return *this;
    }
    tensor(const tensor &) = delete;
    tensor &operator=(const tensor &) = delete;
    ~tensor() { kc_tensor_unref(t_); }

    // A second handle on the same tensor (another reference).
    tensor share() const noexcept { return tensor(kc_tensor_ref(t_)); }
    // A handle on a borrowed pointer (adds a reference).
    static tensor borrow(kc_tensor *t) noexcept { return tensor(kc_tensor_ref(t)); }

    kc_tensor *get() const noexcept { return t_; }
    kc_tensor *release() noexcept { return std::exchange(t_, nullptr); }
    void reset(kc_tensor *t = nullptr) noexcept { kc_tensor_unref(std::exchange(t_, t)); }
    explicit operator bool() const noexcept { return t_ != nullptr; }

    // float32 tensors from values, row-major (shape {} : a vector of all values).
    static tensor from(std::initializer_list<float> values, std::initializer_list<int64_t> dims = {})
    {
        return from(std::vector<float>(values), std::vector<int64_t>(dims));
    }
    static tensor from(const std::vector<float> &values, std::vector<int64_t> dims = {})
    {
        if (dims.empty()) dims.push_back(static_cast<int64_t>(values.size()));
        detail::call c;
        return tensor(c.ptr(kc_tensor_from_data(KC_FLOAT32, static_cast<int>(dims.size()), dims.data(),
                                                values.data(), &c.err)));
    }
    static tensor zeros(std::initializer_list<int64_t> dims)
    {
        detail::call c;
        std::vector<int64_t> d(dims);
        return tensor(c.ptr(kc_tensor_zeros(KC_FLOAT32, static_cast<int>(d.size()), d.data(), &c.err)));
    }
    static tensor scalar(float v)
    {
        detail::call c;
        return tensor(c.ptr(kc_tensor_scalar(v, &c.err)));
    }

    std::vector<int64_t> shape() const
    {
        const int64_t *d = kc_tensor_dims(t_);
        return std::vector<int64_t>(d, d + kc_tensor_ndim(t_));
    }
    int64_t size() const { return kc_tensor_size(t_); }
    float item() const { return kc_tensor_item(t_); }
    double operator[](int64_t i) const { return kc_tensor_get(t_, i); }
    std::vector<float> values() const
    {
        std::vector<float> v(static_cast<size_t>(size()));
        for (size_t i = 0; i < v.size(); i++) v[i] = static_cast<float>(kc_tensor_get(t_, static_cast<int64_t>(i)));
        return v;
    }

private:
    kc_tensor *t_ = nullptr;
};

namespace detail {
inline tensor binary(kc_tensor *(*fn)(kc_tensor *, kc_tensor *, kc_error *), const tensor &a, const tensor &b)
{
    call c;
    return tensor(c.ptr(fn(a.get(), b.get(), &c.err)));
}
inline tensor scalar_op(kc_tensor *(*fn)(kc_tensor *, float, kc_error *), const tensor &a, float b)
{
    call c;
    return tensor(c.ptr(fn(a.get(), b, &c.err)));
}
inline tensor unary(kc_tensor *(*fn)(kc_tensor *, kc_error *), const tensor &a)
{
    call c;
    return tensor(c.ptr(fn(a.get(), &c.err)));
}
} // namespace detail

inline tensor operator+(const tensor &a, const tensor &b) { return detail::binary(kc_add, a, b); }
inline tensor operator-(const tensor &a, const tensor &b) { return detail::binary(kc_sub, a, b); }
inline tensor operator*(const tensor &a, const tensor &b) { return detail::binary(kc_mul, a, b); }
inline tensor operator/(const tensor &a, const tensor &b) { return detail::binary(kc_div, a, b); }
inline tensor operator+(const tensor &a, float b) { return detail::scalar_op(kc_add_scalar, a, b); }
inline tensor operator-(const tensor &a, float b) { return detail::scalar_op(kc_sub_scalar, a, b); }
inline tensor operator*(const tensor &a, float b) { return detail::scalar_op(kc_mul_scalar, a, b); }
inline tensor operator/(const tensor &a, float b) { return detail::scalar_op(kc_div_scalar, a, b); }
inline tensor operator*(float a, const tensor &b) { return b * a; }
inline tensor operator-(const tensor &a) { return detail::unary(kc_neg, a); }
inline tensor square(const tensor &a) { return detail::unary(kc_square, a); }
inline tensor abs(const tensor &a) { return detail::unary(kc_abs, a); }
inline tensor exp(const tensor &a) { return detail::unary(kc_exp, a); }
inline tensor log(const tensor &a) { return detail::unary(kc_log, a); }
inline tensor relu(const tensor &a) { return detail::unary(kc_relu, a); }
inline tensor stop_gradient(const tensor &a) { return detail::unary(kc_stop_gradient, a); }
inline tensor matmul(const tensor &a, const tensor &b, bool transpose_a = false, bool transpose_b = false)
{
    detail::call c;
    return tensor(c.ptr(kc_matmul(a.get(), b.get(), transpose_a, transpose_b, &c.err)));
}
inline tensor reduce_sum(const tensor &a)
{
    detail::call c;
    return tensor(c.ptr(kc_reduce_sum(a.get(), nullptr, 0, false, &c.err)));
}
inline tensor reduce_mean(const tensor &a)
{
    detail::call c;
    return tensor(c.ptr(kc_reduce_mean(a.get(), nullptr, 0, false, &c.err)));
}

// ---- objects: layers, models, losses, metrics, optimizers, ... --------------------------------

class object {
public:
    object() noexcept = default;
    // Takes the reference o holds (a constructor's new reference).
    explicit object(kc_object *o) noexcept : o_(o) {}
    object(object &&x) noexcept : o_(x.release()) {}
    object &operator=(object &&x) noexcept
    {
        if (this != &x) reset(x.release());
        return *this;
    }
    object(const object &) = delete;
    object &operator=(const object &) = delete;
    ~object() { kc_object_unref(o_); }

    object share() const noexcept { return object(kc_object_ref(o_)); }
    static object borrow(kc_object *o) noexcept { return object(kc_object_ref(o)); }
    kc_object *get() const noexcept { return o_; }
    kc_object *release() noexcept { return std::exchange(o_, nullptr); }
    void reset(kc_object *o = nullptr) noexcept { kc_object_unref(std::exchange(o_, o)); }
    explicit operator bool() const noexcept { return o_ != nullptr; }

    std::string class_name() const { return kc_object_name(o_); }
    std::string config() const
    {
        detail::call c;
        json_t *cfg = nullptr;
        c.status(kc_object_get_config(o_, &cfg, &c.err));
        char *text = kc_json_dump(cfg, &c.err);
        json_decref(cfg);
        std::string s = c.ptr(text);
        kc_json_free(text);
        return s;
    }

    // Layers
    std::string layer_name() const { return kc_layer_name(o_); }
    tensor operator()(const tensor &x, bool training = false) const
    {
        detail::call c;
        return tensor(c.ptr(kc_layer_call1(o_, x.get(), training, &c.err)));
    }
    int num_weights() const { return kc_layer_num_weights(o_); }
    tensor weight(int i) const { return tensor::borrow(kc_variable_value(kc_layer_weight(o_, i))); }
    int64_t count_params() const { return kc_layer_count_params(o_); }

private:
    kc_object *o_ = nullptr;
};

// The object of a spec's slot: ckeras::use(obj) (referenced by the constructor).
inline kc_spec use(const object &o) { return kc_spec{nullptr, o.get(), nullptr}; }

// A typed constructor with its arguments: make(kc_layers_dense, args) or
// make(kc_layers_dense, [](kc_layers_dense_args &a) { a.units = 8; }).
template <class Args, class R> auto make(R *(*ctor)(const Args *, kc_error *), const Args &args)
{
    detail::call c;
    if constexpr (std::is_same<R, kc_object>::value) {
        return object(c.ptr(ctor(&args, &c.err)));
    } else {
        return c.ptr(ctor(&args, &c.err)); // a kc_callback *: free it with kc_callback_free
    }
}
template <class Args, class R, class Fill,
          class = decltype(std::declval<Fill>()(std::declval<Args &>()))>
auto make(R *(*ctor)(const Args *, kc_error *), Fill fill)
{
    Args args{};
    fill(args);
    return make(ctor, args);
}

// A layer from its Keras class name and JSON config.
inline object layer(const char *class_name, const char *config = nullptr)
{
    detail::call c;
    return object(c.ptr(kc_layer_create(class_name, config, &c.err)));
}

class custom_objects {
public:
    custom_objects()
    {
        detail::call c;
        co_ = c.ptr(kc_custom_objects_new(&c.err));
    }
    custom_objects(custom_objects &&o) noexcept : co_(std::exchange(o.co_, nullptr)) {}
    custom_objects(const custom_objects &) = delete;
    custom_objects &operator=(const custom_objects &) = delete;
    ~custom_objects() { kc_custom_objects_free(co_); }
    custom_objects &add(const kc_class *cls, const char *name = nullptr)
    {
        detail::call c;
        c.status(kc_custom_objects_add_class(co_, name, cls, &c.err));
        return *this;
    }
    custom_objects &add(const object &obj, const char *name = nullptr)
    {
        detail::call c;
        c.status(kc_custom_objects_add_object(co_, name, obj.get(), &c.err));
        return *this;
    }
    const kc_custom_objects *get() const noexcept { return co_; }

private:
    kc_custom_objects *co_ = nullptr;
};

class history {
public:
    explicit history(kc_history *h) noexcept : h_(h) {}
    history(history &&o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
    history(const history &) = delete;
    history &operator=(const history &) = delete;
    ~history() { kc_history_free(h_); }
    int epochs() const { return kc_history_num_epochs(h_); }
    std::vector<double> operator[](const char *key) const
    {
        const double *v = kc_history_values(h_, key);
        if (!v) throw std::out_of_range(std::string("history has no key ") + key);
        return std::vector<double>(v, v + epochs());
    }

private:
    kc_history *h_ = nullptr;
};

// ---- models ------------------------------------------------------------------------------------

class model : public object {
public:
    model() noexcept = default;
    explicit model(kc_object *m) noexcept : object(m) {}

    // keras.Sequential([layers...], name): the model takes the layers.
    static model sequential(std::initializer_list<object *> layers, const char *name = nullptr)
    {
        detail::call c;
        std::vector<kc_object *> raw;
        for (object *l : layers) raw.push_back(l->release());
        return model(c.ptr(kc_sequential_new_take(name, raw.data(), static_cast<int>(raw.size()), &c.err)));
    }
    template <class... Layers> static model sequential_of(const char *name, Layers &&...layers)
    {
        return sequential({&layers...}, name);
    }
    static model load(const char *path, const custom_objects *co = nullptr)
    {
        detail::call c;
        kc_load_options opts{};
        opts.custom_objects = co ? co->get() : nullptr;
        return model(c.ptr(kc_model_load(path, &opts, &c.err)));
    }

    void add(object &&layer)
    {
        detail::call c;
        c.status(kc_sequential_add_take(get(), layer.release(), &c.err));
    }
    void compile(const kc_compile_specs &specs)
    {
        detail::call c;
        c.status(kc_model_compile_specs(get(), &specs, &c.err));
    }
    void compile(const char *json, const custom_objects *co = nullptr)
    {
        detail::call c;
        c.status(kc_model_compile(get(), json, co ? co->get() : nullptr, &c.err));
    }
    history fit(const tensor &x, const tensor &y, kc_fit_args args = {})
    {
        detail::call c;
        kc_tensor *xs[1] = {x.get()}, *ys[1] = {y.get()};
        args.x = xs, args.n_x = 1, args.y = ys, args.n_y = 1;
        kc_history *h = nullptr;
        c.status(kc_model_fit(get(), &args, &h, &c.err));
        return history(h);
    }
    tensor predict(const tensor &x, int64_t batch_size = 32)
    {
        detail::call c;
        kc_tensor *xs[1] = {x.get()}, *out[KC_MAX_LAYER_OUTPUTS];
        int n = 0;
        c.status(kc_model_predict(get(), xs, 1, batch_size, out, &n, &c.err));
        for (int i = 1; i < n; i++) kc_tensor_unref(out[i]);
        return tensor(out[0]);
    }
    void save(const char *path)
    {
        detail::call c;
        c.status(kc_model_save(get(), path, nullptr, &c.err));
    }
    std::string summary() const
    {
        detail::call c;
        char *s = c.ptr(kc_model_summary(get(), &c.err));
        std::string out = s;
        kc_string_free(s);
        return out;
    }
    int num_layers() const { return kc_model_num_layers(get()); }
    // Layer i, borrowed from the model (the handle adds a reference).
    object layer(int i) const { return object::borrow(kc_model_layer(get(), i)); }
};

// ---- gradient tapes --------------------------------------------------------------------------------

// tf.GradientTape: records from construction until stop() (or gradient()).
class tape {
public:
    explicit tape(unsigned flags = 0)
    {
        detail::call c;
        t_ = c.ptr(kc_tape_begin(flags, &c.err));
    }
    tape(const tape &) = delete;
    tape &operator=(const tape &) = delete;
    ~tape() { kc_tape_free(t_); }
    void watch(const tensor &x)
    {
        detail::call c;
        c.status(kc_tape_watch(t_, x.get(), &c.err));
    }
    void stop() noexcept { kc_tape_end(t_); }
    // d target / d sources: an empty tensor where target does not depend on a source (None).
    std::vector<tensor> gradient(const tensor &target, std::initializer_list<const tensor *> sources)
    {
        stop();
        detail::call c;
        std::vector<kc_tensor *> src, grads(sources.size());
        for (const tensor *s : sources) src.push_back(s->get());
        c.status(kc_tape_gradient(t_, target.get(), src.data(), static_cast<int>(src.size()), grads.data(), &c.err));
        std::vector<tensor> out;
        for (kc_tensor *g : grads) out.emplace_back(g);
        return out;
    }

private:
    kc_tape *t_ = nullptr;
};

// A trainable variable; value() is the tensor ops and tapes see.
class variable {
public:
    variable(const char *name, const tensor &initial, bool trainable = true)
    {
        detail::call c;
        v_ = c.ptr(kc_variable_new(name, initial.get(), trainable, &c.err));
        value_ = tensor::borrow(kc_variable_value(v_));
    }
    variable(const variable &) = delete;
    variable &operator=(const variable &) = delete;
    ~variable()
    {
        value_.reset();
        kc_variable_unref(v_);
    }
    const tensor &value() const noexcept { return value_; }
    void assign_add(const tensor &delta)
    {
        detail::call c;
        c.status(kc_variable_assign_add(v_, delta.get(), &c.err));
    }
    kc_variable *get() const noexcept { return v_; }

private:
    kc_variable *v_ = nullptr;
    tensor value_;
};

} // namespace ckeras

#endif // CKERAS_HPP
