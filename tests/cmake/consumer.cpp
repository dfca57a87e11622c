// The same through ckeras.hpp, when CMake finds a C++ compiler.
#include <ckeras.hpp>

#include <cstdio>

int main()
try {
    ckeras::object dense = ckeras::make(kc_layers_dense, [](kc_layers_dense_args &a) {
        a.units = 2;
        a.kernel_initializer = ckeras::name("ones");
    });
    ckeras::tensor y = dense(ckeras::tensor::from({1, 2, 3}, {1, 3}));
    bool ok = y[0] == 6 && y[1] == 6;
    std::printf("consumer_cpp: %s\n", ok ? "ok" : "wrong values");
    return ok ? 0 : 1;
} catch (const ckeras::error &e) {
    std::printf("consumer_cpp: %s\n", e.what());
    return 1;
}
