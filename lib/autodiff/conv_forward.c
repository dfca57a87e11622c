/* The forward convolution kernel, shared by the conv op (training, and any
 * call on a tape) and by the inference path, which fuses an activation into
 * it: one kernel for both is what makes their results the same bits.
 *
 * How it works. The output is computed in pieces spread over the worker
 * pool, three ways:
 *   - depthwise (every group has one input channel, DepthwiseConv2D):
 *     direct loops, one output line (a row of output pixels) at a time; the
 *     valid window rows are found once per line, and a 3x3 window inside
 *     the input is summed 16 channels at a time with its nine weights kept
 *     in registers across the line (each value: bias, then the taps in
 *     order, as the general loop adds them);
 *   - few input channels (an image's first layer): direct loops too, 16
 *     output channels at a time in registers (im2col would copy a handful
 *     of floats per tap);
 *   - otherwise, per block of output rows and group, im2col into the
 *     thread's scratch then one single-threaded sgemm (a 1x1 kernel with
 *     stride 1 and no padding needs no im2col: x is its own col).
 * Each piece gets its bias (after the products, except in the depthwise
 * loops) and the activation while it is still in cache. The pieces depend
 * only on the geometry, never on the number of threads, so any thread
 * count gives the same values; that matters because OpenBLAS's results for
 * a row depend on the rows computed with it (small-matrix kernels, tail
 * tiles). */
#include "conv_int.h"
#include "../core/blas_int.h"
#include "../core/conv_backend.h"
#include "kernels.h"
#include "vmath.h"

#include <string.h>

/* Bytes of im2col rows built at once, and floats of output per block of a
 * 1x1 convolution. */
#define COL_BLOCK_BYTES ((size_t)1 << 20)
#define OUT_BLOCK_FLOATS 16384
/* Blocks to aim for at least, so that small images still spread. */
#define MIN_BLOCKS 8

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

void kc__conv_shape_of(const kc__conv_plan *t, kc__conv_shape *s)
{
    memset(s, 0, sizeof(*s));
    int off = 3 - t->nsp;
    s->nsp = t->nsp;
    s->n = t->n;
    s->cin = t->cin;
    s->cout = t->cout;
    s->groups = t->groups;
    for (int i = 0; i < t->nsp; i++) {
        s->in[i] = t->in[off + i];
        s->out[i] = t->out[off + i];
        s->k[i] = t->k[off + i];
        s->stride[i] = t->s[off + i];
        s->dilation[i] = t->d[off + i];
        s->pad[i] = t->p[off + i];
    }
}

static bool is_depthwise(const kc__conv_plan *t) { return t->cg == 1 && !t->direct; }

/* Few input channels (an image's first layer): direct loops beat im2col. */
static bool is_small_cin(const kc__conv_plan *t)
{
    return t->groups == 1 && t->cg <= 4 && !t->direct && !is_depthwise(t) && t->taps <= 64;
}

int64_t kc__conv_block_rows(const kc__conv_plan *t)
{
    int64_t rows = t->direct ? OUT_BLOCK_FLOATS / (t->cout > 0 ? t->cout : 1)
                             : (int64_t)(COL_BLOCK_BYTES / sizeof(float)) / (t->kg > 0 ? t->kg : 1);
    int64_t spread = ceil_div(t->m, MIN_BLOCKS);
    if (rows > spread) rows = spread;
    if (rows < 32) rows = 32;
    return rows < t->m ? rows : (t->m > 0 ? t->m : 1);
}

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Tap offsets of a row (im2col), or a line's window rows and their first
 * taps (depthwise): taps + k0 * k1 >= both. */
static size_t toff_bytes(const kc__conv_plan *t)
{
    return align64(sizeof(int64_t) * (size_t)(t->taps + t->k[0] * t->k[1]));
}

size_t kc__conv_scratch_bytes(const kc__conv_plan *t)
{
    if (is_depthwise(t) || is_small_cin(t) || t->direct) return toff_bytes(t);
    return toff_bytes(t) + align64(sizeof(float) * (size_t)kc__conv_block_rows(t) * (size_t)t->kg);
}

/* GCC would turn the short copy loops below back into memcpy calls, which
 * cost more than they move for a few channels. */
#if defined(__GNUC__) && !defined(__clang__)
#define KC__NO_MEMCPY_LOOPS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define KC__NO_MEMCPY_LOOPS
#endif

KC__NO_MEMCPY_LOOPS void kc__im2col(const kc__conv_plan *t, const float *x, int64_t r0, int64_t nr, int64_t c0,
                                    float *col, int64_t *toff)
{
    (void)toff;
    int64_t cg = t->cg;
    size_t bytes = sizeof(float) * (size_t)cg;
    for (int64_t r = 0; r < nr; r++) {
        int64_t rr = r0 + r;
        int64_t ox = rr % t->out[2], q = rr / t->out[2];
        int64_t oy = q % t->out[1];
        q /= t->out[1];
        int64_t oz = q % t->out[0], b = q / t->out[0];
        float *dst = col + r * t->kg;
        for (int64_t kz = 0; kz < t->k[0]; kz++) {
            int64_t iz = oz * t->s[0] - t->p[0] + kz * t->d[0];
            bool vz = iz >= 0 && iz < t->in[0];
            for (int64_t ky = 0; ky < t->k[1]; ky++) {
                int64_t iy = oy * t->s[1] - t->p[1] + ky * t->d[1];
                bool vy = vz && iy >= 0 && iy < t->in[1];
                const float *row = x + ((b * t->in[0] + iz) * t->in[1] + iy) * t->in[2] * t->cin + c0;
                for (int64_t kx = 0; kx < t->k[2]; kx++, dst += cg) {
                    int64_t ix = ox * t->s[2] - t->p[2] + kx * t->d[2];
                    if (!vy || ix < 0 || ix >= t->in[2]) {
                        for (int64_t c = 0; c < cg; c++) dst[c] = 0.0f;
                    } else if (cg <= 16) {
                        const float *src = row + ix * t->cin;
                        for (int64_t c = 0; c < cg; c++) dst[c] = src[c];
                    } else {
                        memcpy(dst, row + ix * t->cin, bytes);
                    }
                }
            }
        }
    }
}

/* out[i][k] += b[k] over rows: the bias, added after the products. */
KC__VECTORIZE static void add_bias_rows(float *restrict out, int64_t rows, int64_t c, const float *restrict b)
{
    for (int64_t i = 0; i < rows; i++)
        for (int64_t k = 0; k < c; k++) out[i * c + k] = out[i * c + k] + b[k];
}

/* The end of every block: bias, then the activation, while in cache. */
static void epilogue(float *y, int64_t rows, int64_t c, const float *b, const kc__act *act)
{
    if (b) add_bias_rows(y, rows, c, b);
    kc__act_apply(act, y, rows * c);
}

typedef struct fwd_job {
    const kc__conv_plan *t;
    const float *x, *w, *b;
    float *y;
    const kc__act *act;
    char *scratch;
    size_t scratch_bytes; /* per slot */
    int64_t rows;         /* GEMM blocks */
} fwd_job;

/* ---- direct loops ----------------------------------------------------------------------------- */

/* The window rows of output line l (a row of output pixels) that lie
 * inside the input: the offset of each one's first pixel and the index of
 * its first tap (taps are numbered z, y, x). Returns their count. */
static int64_t window_rows(const kc__conv_plan *t, int64_t l, int64_t *rowoff, int64_t *tap0)
{
    int64_t oy = l % t->out[1], q = l / t->out[1];
    int64_t oz = q % t->out[0], bi = q / t->out[0];
    int64_t n = 0;
    for (int64_t kz = 0; kz < t->k[0]; kz++) {
        int64_t iz = oz * t->s[0] - t->p[0] + kz * t->d[0];
        if (iz < 0 || iz >= t->in[0]) continue;
        for (int64_t ky = 0; ky < t->k[1]; ky++) {
            int64_t iy = oy * t->s[1] - t->p[1] + ky * t->d[1];
            if (iy < 0 || iy >= t->in[1]) continue;
            rowoff[n] = ((bi * t->in[0] + iz) * t->in[1] + iy) * t->in[2] * t->cin;
            tap0[n++] = (kz * t->k[1] + ky) * t->k[2];
        }
    }
    return n;
}

/* The valid taps of the pixel whose window starts at column ix0: where
 * each reads x, and its weights (w_tap floats per tap). Returns the count
 * (at most t->taps). */
static int pixel_taps(const kc__conv_plan *t, int64_t ix0, const int64_t *rowoff, const int64_t *tap0, int64_t n_rows,
                      const float *x, const float *w, int64_t w_tap, const float **xs, const float **ws)
{
    int n = 0;
    for (int64_t r = 0; r < n_rows; r++)
        for (int64_t kx = 0; kx < t->k[2]; kx++) {
            int64_t ix = ix0 + kx * t->d[2];
            if (ix < 0 || ix >= t->in[2]) continue;
            xs[n] = x + rowoff[r] + ix * t->cin;
            ws[n++] = w + (tap0[r] + kx) * w_tap;
        }
    return n;
}

/* Depthwise. */

/* Every output value is its bias (or 0) plus x * w for each tap of its
 * window that lies inside the input, added in tap order (z, y, x): the
 * general loop and the unrolled 3x3 one below do exactly that. */

/* One pixel, any window: yp = b, then yp += xp[t] * wp[t] per valid tap. */
static inline void dw_pixel(float *restrict yp, const float *const *xs, const float *const *ws, int n_taps,
                            const float *restrict b, int64_t cin, int64_t dm)
{
    int64_t cout = cin * dm;
    for (int64_t c = 0; c < cout; c++) yp[c] = b ? b[c] : 0.0f;
    for (int t = 0; t < n_taps; t++) {
        const float *restrict xp = xs[t], *restrict wp = ws[t];
        if (dm == 1) {
            for (int64_t c = 0; c < cin; c++) yp[c] += xp[c] * wp[c];
        } else {
            for (int64_t c = 0; c < cin; c++)
                for (int64_t q = 0; q < dm; q++) yp[c * dm + q] += xp[c] * wp[c * dm + q];
        }
    }
}

/* Pixels ox0 .. ox1 of a line whose 3x3 windows lie wholly inside the
 * input (depth multiplier 1): 16 channels at a time, their nine weights
 * held in registers across the pixels, the nine products summed in tap
 * order after the bias, as dw_pixel sums them. rows: the input rows'
 * first pixels. */
#define DW_CHUNK 16
/* 16 floats: one AVX-512 register, two AVX2 ones, four SSE ones (GCC's
 * vector extension splits it as each clone's target allows). */
typedef float kc__v16 __attribute__((vector_size(64)));
/* (through memory: unaligned loads and stores; no vector-valued function
 * crosses a call, whose ABI would depend on the clone) */
#define V16_LOAD(v, p) memcpy(&(v), (p), sizeof(kc__v16))
#define V16_STORE(p, v) memcpy((p), &(v), sizeof(kc__v16))
static inline void dw_interior_3x3(float *restrict yl, const float *const rows[3], const float *restrict w,
                                   const float *restrict b, int64_t ox0, int64_t ox1, const kc__conv_plan *t)
{
    int64_t cn = t->cout, dx = t->d[2] * t->cin;
    for (int64_t c0 = 0; c0 < cn; c0 += DW_CHUNK) {
        int64_t n = cn - c0 < DW_CHUNK ? cn - c0 : DW_CHUNK;
        float wk[9][DW_CHUNK], bk[DW_CHUNK];
        for (int i = 0; i < 9; i++)
            for (int64_t k = 0; k < DW_CHUNK; k++) wk[i][k] = k < n ? w[i * cn + c0 + k] : 0.0f;
        for (int64_t k = 0; k < DW_CHUNK; k++) bk[k] = b && k < n ? b[c0 + k] : 0.0f;
        kc__v16 vw[9], vb;
        V16_LOAD(vb, bk);
        for (int i = 0; i < 9; i++) V16_LOAD(vw[i], wk[i]);
        for (int64_t ox = ox0; ox < ox1; ox++) {
            int64_t ix = (ox * t->s[2] - t->p[2]) * t->cin + c0;
            const float *r0 = rows[0] + ix, *r1 = rows[1] + ix, *r2 = rows[2] + ix;
            float *yp = yl + ox * cn + c0;
#define DW_SUM(count)                                                                              \
    for (int64_t k = 0; k < (count); k++) {                                                        \
        float a = bk[k];                                                                           \
        a = a + r0[k] * wk[0][k];                                                                  \
        a = a + r0[dx + k] * wk[1][k];                                                             \
        a = a + r0[2 * dx + k] * wk[2][k];                                                         \
        a = a + r1[k] * wk[3][k];                                                                  \
        a = a + r1[dx + k] * wk[4][k];                                                             \
        a = a + r1[2 * dx + k] * wk[5][k];                                                         \
        a = a + r2[k] * wk[6][k];                                                                  \
        a = a + r2[dx + k] * wk[7][k];                                                             \
        a = a + r2[2 * dx + k] * wk[8][k];                                                         \
        yp[k] = a;                                                                                 \
    }
            if (n == DW_CHUNK) {
                kc__v16 a = vb, xv;
                const float *src[9] = {r0, r0 + dx, r0 + 2 * dx, r1, r1 + dx, r1 + 2 * dx, r2, r2 + dx, r2 + 2 * dx};
                for (int i = 0; i < 9; i++) {
                    V16_LOAD(xv, src[i]);
                    a = a + xv * vw[i];
                }
                V16_STORE(yp, a);
            } else {
                DW_SUM(n)
            }
#undef DW_SUM
        }
    }
}

#define DW_MAX_TAPS 64

/* Output lines l0 .. l1 (a line: one row of output pixels). */
KC__VECTORIZE static void dw_run_lines(const fwd_job *j, int64_t l0, int64_t l1, int64_t *rowoff)
{
    const kc__conv_plan *t = j->t;
    int64_t dm = t->coutg, line = t->out[2] * t->cout;
    int64_t *tap0 = rowoff + t->k[0] * t->k[1];
    bool small = t->taps <= DW_MAX_TAPS, k3 = t->k[0] == 1 && t->k[1] == 3 && t->k[2] == 3 && dm == 1;
    (void)tap0;
    /* output columns whose window lies inside the input along x */
    int64_t span = (t->k[2] - 1) * t->d[2];
    int64_t ox_lo = (t->p[2] + t->s[2] - 1) / t->s[2];
    int64_t ox_hi = t->in[2] - 1 - span + t->p[2] < 0 ? 0 : (t->in[2] - 1 - span + t->p[2]) / t->s[2] + 1;
    if (ox_hi > t->out[2]) ox_hi = t->out[2];
    const float *xs[DW_MAX_TAPS], *ws[DW_MAX_TAPS];
    for (int64_t l = l0; l < l1; l++) {
        int64_t n_rows = window_rows(t, l, rowoff, tap0);
        bool interior = k3 && n_rows == 3 && ox_lo < ox_hi;
        float *yl = j->y + l * line;
        if (interior) {
            const float *rows[3] = {j->x + rowoff[0], j->x + rowoff[1], j->x + rowoff[2]};
            dw_interior_3x3(yl, rows, j->w, j->b, ox_lo, ox_hi, t);
        }
        for (int64_t ox = 0; ox < t->out[2]; ox++) {
            if (interior && ox >= ox_lo && ox < ox_hi) continue;
            float *yp = yl + ox * t->cout;
            int64_t ix0 = ox * t->s[2] - t->p[2];
            if (!small) { /* very large windows: tap by tap, straight from the tables */
                for (int64_t c = 0; c < t->cout; c++) yp[c] = j->b ? j->b[c] : 0.0f;
                for (int64_t r = 0; r < n_rows; r++)
                    for (int64_t kx = 0; kx < t->k[2]; kx++) {
                        int64_t ix = ix0 + kx * t->d[2];
                        if (ix < 0 || ix >= t->in[2]) continue;
                        const float *xs1 = j->x + rowoff[r] + ix * t->cin, *ws1 = j->w + (tap0[r] + kx) * t->cout;
                        for (int64_t c = 0; c < t->cin; c++)
                            for (int64_t qq = 0; qq < dm; qq++) yp[c * dm + qq] += xs1[c] * ws1[c * dm + qq];
                    }
                continue;
            }
            int n_taps = pixel_taps(t, ix0, rowoff, tap0, n_rows, j->x, j->w, t->cout, xs, ws);
            dw_pixel(yp, xs, ws, n_taps, j->b, t->cin, dm);
        }
        kc__act_apply(j->act, yl, line);
    }
}

static void dw_lines(void *ctx, int64_t l0, int64_t l1, int slot)
{
    const fwd_job *j = ctx;
    dw_run_lines(j, l0, l1, (int64_t *)(j->scratch + (size_t)slot * j->scratch_bytes));
}

/* ---- few input channels: direct loops ---------------------------------------------------------- */

/* One pixel: yp[co] = the sum over the taps (in order) and their input
 * channels (in order) of x * w, 16 output channels at a time in
 * registers. */
static inline void small_cin_pixel(float *restrict yp, const float *const *xs, const float *const *ws, int n_taps,
                                   int64_t cin, int64_t cout)
{
    int64_t c0 = 0;
    for (; c0 + DW_CHUNK <= cout; c0 += DW_CHUNK) {
        kc__v16 acc = {0}, wv;
        for (int t = 0; t < n_taps; t++)
            for (int64_t ci = 0; ci < cin; ci++) {
                V16_LOAD(wv, ws[t] + ci * cout + c0);
                acc = acc + xs[t][ci] * wv;
            }
        V16_STORE(yp + c0, acc);
    }
    if (c0 < cout) {
        int64_t n = cout - c0;
        float acc[DW_CHUNK] = {0};
        for (int t = 0; t < n_taps; t++)
            for (int64_t ci = 0; ci < cin; ci++) {
                float xv = xs[t][ci];
                const float *wp = ws[t] + ci * cout + c0;
                for (int64_t k = 0; k < n; k++) acc[k] += xv * wp[k];
            }
        for (int64_t k = 0; k < n; k++) yp[c0 + k] = acc[k];
    }
}

/* Each output pixel is the sum, over its valid taps in order and their
 * input channels in order, of x * w, then the bias. */
KC__VECTORIZE static void small_cin_lines(const fwd_job *j, int64_t l0, int64_t l1, int64_t *rowoff)
{
    const kc__conv_plan *t = j->t;
    int64_t line = t->out[2] * t->cout, *tap0 = rowoff + t->k[0] * t->k[1];
    for (int64_t l = l0; l < l1; l++) {
        int64_t n_rows = window_rows(t, l, rowoff, tap0);
        float *yl = j->y + l * line;
        const float *xs[DW_MAX_TAPS], *ws[DW_MAX_TAPS];
        for (int64_t ox = 0; ox < t->out[2]; ox++) {
            int n_taps = pixel_taps(t, ox * t->s[2] - t->p[2], rowoff, tap0, n_rows, j->x, j->w, t->cin * t->cout, xs, ws);
            small_cin_pixel(yl + ox * t->cout, xs, ws, n_taps, t->cin, t->cout);
        }
        epilogue(yl, t->out[2], t->cout, j->b, j->act);
    }
}

static void small_cin_run(void *ctx, int64_t l0, int64_t l1, int slot)
{
    const fwd_job *j = ctx;
    small_cin_lines(j, l0, l1, (int64_t *)(j->scratch + (size_t)slot * j->scratch_bytes));
}

/* ---- im2col + GEMM ----------------------------------------------------------------------- */

static void gemm_blocks(void *ctx, int64_t b0, int64_t b1, int slot)
{
    const fwd_job *j = ctx;
    const kc__conv_plan *t = j->t;
    char *s = j->scratch + (size_t)slot * j->scratch_bytes;
    int64_t *toff = (int64_t *)s;
    float *col = (float *)(s + toff_bytes(t));
    for (int64_t blk = b0; blk < b1; blk++) {
        int64_t r0 = blk * j->rows, nr = t->m - r0 < j->rows ? t->m - r0 : j->rows;
        float *yb = j->y + r0 * t->cout;
        for (int64_t g = 0; g < t->groups; g++) {
            const float *a = j->x + r0 * t->cin + g * t->cg;
            int64_t lda = t->cin;
            if (!t->direct) {
                kc__im2col(t, j->x, r0, nr, g * t->cg, col, toff);
                a = col;
                lda = t->kg;
            }
            kc__sgemm(false, false, nr, t->coutg, t->kg, 1.0f, a, lda, j->w + g * t->coutg, t->cout, 0.0f,
                      yb + g * t->coutg, t->cout);
        }
        epilogue(yb, nr, t->cout, j->b, j->act);
    }
}

void kc__conv_forward(const kc__conv_plan *t, const float *x, const float *w, const float *b, float *y,
                      const kc__act *act, void *scratch)
{
    if (t->m <= 0 || t->cout <= 0) return;
    fwd_job j = {t, x, w, b, y, act, scratch, kc__conv_scratch_bytes(t), kc__conv_block_rows(t)};
    if (is_depthwise(t) || is_small_cin(t)) {
        int64_t lines = t->n * t->out[0] * t->out[1];
        int64_t work = t->out[2] * t->taps * t->cout * t->cg;
        kc__parallel_for_slots(lines, 1 + 65536 / (work > 0 ? work : 1), is_depthwise(t) ? dw_lines : small_cin_run,
                               &j);
    } else {
        kc__parallel_for_slots(ceil_div(t->m, j.rows), 1, gemm_blocks, &j);
    }
}
