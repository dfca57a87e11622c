#!/bin/sh
# Run ckeras' libFuzzer harnesses (tests/fuzz/README.md): `make fuzz SECONDS=N`.
#
#   scripts/fuzz.sh [SECONDS]     each harness for SECONDS (default 60)
#
# Builds build-fuzz/ with clang (AddressSanitizer + UBSan, the library
# instrumented for coverage), makes the seed corpora from the test fixtures,
# then runs fuzz_config, fuzz_description and fuzz_h5_file in turn, each on
# its corpus (kept in build-fuzz/corpus/ between runs), its seeds and its
# regression corpus (tests/fuzz/regressions/<harness>/).
#
# fuzz_h5_file and fuzz_keras_archive drive libhdf5 (and libzip), which
# are not memory-safe on corrupted files: they run in libFuzzer's -fork
# mode and keep going after a crash. Every crash, leak or timeout any
# harness finds is replayed and sorted by where it happened: inside libhdf5
# or libzip (reported and counted, not a failure: fixed only by newer
# libraries, and harmless under isolated loading), or anywhere else --
# ckeras -- which fails the run, with the report printed.
# Artifacts are kept in build-fuzz/artifacts/<harness>/.
#
# Without clang (or its libFuzzer runtime) this says SKIPPED and succeeds:
# `make deps` installs them.
set -u
secs=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/build-fuzz
harnesses="config description h5_file keras_archive"

if ! command -v clang >/dev/null 2>&1; then
    echo "fuzz: SKIPPED: clang is not installed (make deps installs clang and libclang-rt-14-dev)"
    exit 0
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d && n; }\n' > "$probe/p.c"
if ! clang -fsanitize=fuzzer,address "$probe/p.c" -o "$probe/p" 2>/dev/null; then
    echo "fuzz: SKIPPED: clang cannot build libFuzzer programs (install libclang-rt-14-dev)"
    exit 0
fi

if [ ! -f "$out/build.ninja" ]; then
    CC=clang meson setup "$out" -Dbuildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false \
        -Dtests=false -Dfuzz=true -Dc_args=-fsanitize=fuzzer-no-link -Dwerror=false >/dev/null || exit 1
fi
targets=""
for h in $harnesses; do targets="$targets tests/fuzz/fuzz_$h"; done
# the targets are looked up in the build files: bring them up to date first
ninja -C "$out" build.ninja >/dev/null 2>&1
# shellcheck disable=SC2086
meson compile -C "$out" $targets tests/fuzz/fuzz_seeds > "$out/fuzz_build.log" 2>&1 ||
    { echo "fuzz: the fuzz build failed"; tail -20 "$out/fuzz_build.log"; exit 1; }

rm -rf "$out/seeds"
ASAN_OPTIONS=detect_leaks=1 "$out/tests/fuzz/fuzz_seeds" "$out/seeds" "$root"/tests/data/keras/*.h5 \
    "$root"/tests/data/keras-ref/*.h5 "$root"/tests/data/keras-wild/seq_dense_k3.7.0.keras 2>/dev/null ||
    { echo "fuzz: making the seed corpora failed"; exit 1; }

# Where a report's first frame outside the sanitizers, libFuzzer and the C
# library is (glibc's frames show as libc.so.6 or by their sources in
# sysdeps/, string/, stdlib/, nptl/, csu/). Frames in the harness binary
# without a source line are the sanitizers' interceptors (strdup, strcmp,
# ... called by libhdf5): ckeras' own frames always have their source line.
where() {
    grep -E '^ +#[0-9]+ ' "$1" |
        grep -v -E 'libsanitizer|compiler-rt|/asan_|interceptor|__sanitizer_|fuzzer::|libFuzzer|libc\.so|ld-linux|(sysdeps|string|stdlib|nptl|csu|libio|malloc)/|in (malloc|calloc|realloc|free|memcpy|memmove|memset|strlen|abort|raise) ' |
        grep -v -E '\(\S*/fuzz_[a-z0-9_]+\+0x[0-9a-f]+\)' |
        head -1
}

status=0
for h in $harnesses; do
    corpus=$out/corpus/$h
    art=$out/artifacts/$h/$(date +%Y%m%d-%H%M%S)
    mkdir -p "$corpus" "$art"
    # the ckeras-only harnesses start from their regressions too; the
    # file harnesses would only crash in libhdf5 again on theirs (the suite
    # replays those, isolated)
    regressions=$root/tests/fuzz/regressions/$h
    case $h in h5_file | keras_archive) regressions="" ;; esac
    [ -d "$regressions" ] || regressions=""
    # a load of a fixture takes well under a second even here: libhdf5's
    # endless loops are found after 3
    opts="-max_total_time=$secs -timeout=3 -rss_limit_mb=2560 -max_len=2000000 -print_final_stats=1 -artifact_prefix=$art/"
    case $h in h5_file | keras_archive) opts="$opts -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1" ;; esac
    log=$out/fuzz_$h.log
    # shellcheck disable=SC2086
    (cd "$out" && ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        "./tests/fuzz/fuzz_$h" $opts "$corpus" "$out/seeds/$h" $regressions) > "$log" 2>&1
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    if [ -z "$runs" ]; then # -fork mode: the last "#N: cov: ..." line
        runs=$(sed -n 's/^#\([0-9][0-9]*\): cov:.*/\1/p' "$log" | tail -1)
        runs=${runs:-0}
        rate=$((runs / secs))
    fi
    in_hdf5=0
    in_ckeras=0
    gone=0
    for a in "$art"/*; do
        case "$a" in *.report) continue ;; esac
        [ -f "$a" ] || continue
        report=$a.report
        (cd "$out" && ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0:allocator_may_return_null=1 \
            timeout 60 "./tests/fuzz/fuzz_$h" -timeout=3 -rss_limit_mb=2560 -runs=1 "$a") > "$report" 2>&1
        frame=$(where "$report")
        case "$frame" in
        *libhdf5* | *libzip*) in_hdf5=$((in_hdf5 + 1)) ;;
        "") gone=$((gone + 1)) ;; # does not happen again when replayed alone
        *)
            in_ckeras=$((in_ckeras + 1))
            echo "fuzz $h: FAILURE in ckeras: $(basename "$a") ($report)"
            grep -E 'ERROR|SUMMARY|^ +#[0-9]+ ' "$report" | head -20
            ;;
        esac
    done
    echo "fuzz $h: $runs runs in ${secs} s ($rate exec/s), corpus $(ls "$corpus" | wc -l) inputs; problems found: $in_ckeras in ckeras, $in_hdf5 inside libhdf5 or libzip, $gone not reproducible alone (artifacts: $art)"
    [ "$in_ckeras" -eq 0 ] || status=1
    # a harness that stopped for any other reason (cannot start, bad option) is a failure too
    if ! grep -q -E '^Done [0-9]+ runs|INFO: exiting: 0|INFO: fuzzed for' "$log" && [ "$in_ckeras" -eq 0 ] &&
        [ "$(ls "$art" | wc -l)" -eq 0 ]; then
        echo "fuzz $h: did not run to the end; see $log"
        tail -20 "$log"
        status=1
    fi
done
exit $status
