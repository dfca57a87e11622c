/* The forward convolution kernel, shared by the conv op (training, and any
 * call on a tape) and by the inference path, which fuses an activation into
 * it: one kernel for both is what makes their results the same bits.
 *
 * How it works. The output's rows (one per output position, cout values
 * each) are computed in blocks, spread over the worker pool:
 *   - depthwise (every group has one input channel, DepthwiseConv2D): direct
 *     loops, one output line (a row of output pixels) at a time; the valid
 *     window rows are found once per line and the taps of a pixel read the
 *     input straight (no im2col), each tap a vector loop over the channels;
 *   - otherwise, per block of rows and group, im2col into the thread's
 *     scratch then one single-threaded sgemm into the block (a 1x1 kernel
 *     with stride 1 and no padding needs no im2col: x is its own col).
 * Each block starts from the bias, adds the taps or the product, and gets
 * the activation while it is still in cache. The blocks depend only on the
 * geometry, never on the number of threads, so any thread count gives the
 * same values (an element of the output sees the same operations in the
 * same order). */
#include "conv_int.h"
#include "../core/blas_int.h"
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

static bool is_depthwise(const kc__conv_plan *t) { return t->cg == 1 && !t->direct; }

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
    if (is_depthwise(t) || t->direct) return toff_bytes(t);
    return toff_bytes(t) + align64(sizeof(float) * (size_t)kc__conv_block_rows(t) * (size_t)t->kg);
}

void kc__im2col(const kc__conv_plan *t, const float *x, int64_t r0, int64_t nr, int64_t c0, float *col,
                int64_t *toff)
{
    size_t bytes = sizeof(float) * (size_t)t->cg;
    for (int64_t r = 0; r < nr; r++) {
        kc__conv_row_taps(t, r0 + r, toff);
        float *dst = col + r * t->kg;
        for (int64_t i = 0; i < t->taps; i++, dst += t->cg) {
            if (toff[i] < 0)
                memset(dst, 0, bytes);
            else
                memcpy(dst, x + toff[i] + c0, bytes);
        }
    }
}

/* rows of out[rows][c] = b (or zeros) */
static void fill_bias(float *out, int64_t rows, int64_t c, const float *b)
{
    if (!b) {
        memset(out, 0, sizeof(float) * (size_t)(rows * c));
        return;
    }
    for (int64_t i = 0; i < rows; i++) memcpy(out + i * c, b, sizeof(float) * (size_t)c);
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

/* ---- depthwise: direct loops ------------------------------------------------------------ */

/* yp[c] += xp[c] * wp[c] over one pixel's channels (depth multiplier 1), or
 * with dm outputs per input channel. */
KC__VECTORIZE static void dw_tap(float *restrict yp, const float *restrict xp, const float *restrict wp,
                                 int64_t cin, int64_t dm)
{
    if (dm == 1) {
        for (int64_t c = 0; c < cin; c++) yp[c] += xp[c] * wp[c];
    } else {
        for (int64_t c = 0; c < cin; c++)
            for (int64_t q = 0; q < dm; q++) yp[c * dm + q] += xp[c] * wp[c * dm + q];
    }
}

static void dw_lines(void *ctx, int64_t l0, int64_t l1, int slot)
{
    const fwd_job *j = ctx;
    const kc__conv_plan *t = j->t;
    int64_t *rowoff = (int64_t *)(j->scratch + (size_t)slot * j->scratch_bytes);
    int64_t dm = t->coutg, line = t->out[2] * t->cout;
    for (int64_t l = l0; l < l1; l++) {
        int64_t oy = l % t->out[1], q = l / t->out[1];
        int64_t oz = q % t->out[0], bi = q / t->out[0];
        /* the window rows inside the input: offset of their first pixel and
         * index of their first tap (taps are numbered z, y, x) */
        int64_t n_rows = 0;
        int64_t *tap0 = rowoff + t->k[0] * t->k[1];
        for (int64_t kz = 0; kz < t->k[0]; kz++) {
            int64_t iz = oz * t->s[0] - t->p[0] + kz * t->d[0];
            if (iz < 0 || iz >= t->in[0]) continue;
            for (int64_t ky = 0; ky < t->k[1]; ky++) {
                int64_t iy = oy * t->s[1] - t->p[1] + ky * t->d[1];
                if (iy < 0 || iy >= t->in[1]) continue;
                rowoff[n_rows] = ((bi * t->in[0] + iz) * t->in[1] + iy) * t->in[2] * t->cin;
                tap0[n_rows++] = (kz * t->k[1] + ky) * t->k[2];
            }
        }
        float *yl = j->y + l * line;
        fill_bias(yl, t->out[2], t->cout, j->b);
        for (int64_t ox = 0; ox < t->out[2]; ox++) {
            float *yp = yl + ox * t->cout;
            int64_t ix0 = ox * t->s[2] - t->p[2];
            for (int64_t r = 0; r < n_rows; r++) {
                for (int64_t kx = 0; kx < t->k[2]; kx++) {
                    int64_t ix = ix0 + kx * t->d[2];
                    if (ix < 0 || ix >= t->in[2]) continue;
                    dw_tap(yp, j->x + rowoff[r] + ix * t->cin, j->w + (tap0[r] + kx) * t->cout, t->cin, dm);
                }
            }
        }
        kc__act_apply(j->act, yl, line);
    }
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
        fill_bias(yb, nr, t->cout, j->b);
        for (int64_t g = 0; g < t->groups; g++) {
            const float *a = j->x + r0 * t->cin + g * t->cg;
            int64_t lda = t->cin;
            if (!t->direct) {
                kc__im2col(t, j->x, r0, nr, g * t->cg, col, toff);
                a = col;
                lda = t->kg;
            }
            kc__sgemm(false, false, nr, t->coutg, t->kg, 1.0f, a, lda, j->w + g * t->coutg, t->cout, 1.0f,
                      yb + g * t->coutg, t->cout);
        }
        kc__act_apply(j->act, yb, nr * t->cout);
    }
}

void kc__conv_forward(const kc__conv_plan *t, const float *x, const float *w, const float *b, float *y,
                      const kc__act *act, void *scratch)
{
    if (t->m <= 0 || t->cout <= 0) return;
    fwd_job j = {t, x, w, b, y, act, scratch, kc__conv_scratch_bytes(t), kc__conv_block_rows(t)};
    if (is_depthwise(t)) {
        int64_t lines = t->n * t->out[0] * t->out[1];
        int64_t work = t->out[2] * t->taps * t->cout;
        kc__parallel_for_slots(lines, 1 + 65536 / (work > 0 ? work : 1), dw_lines, &j);
    } else {
        kc__parallel_for_slots(ceil_div(t->m, j.rows), 1, gemm_blocks, &j);
    }
}
