/* segment.c - separating ink from paper under uneven light (Sauvola's local threshold on integral
 * images, with automatic polarity) and 8-connected components with their statistics. The first
 * stages of the scanning pipeline; they know nothing of digits or networks. */
#include "vis.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void vis_threshold_default_params(struct vis_threshold_params *p)
{
    /* Chosen on scenes of MNIST training digits (build/scenes-tune), never the test scenes. */
    p->window = 0;
    p->k = 0.6f;
    p->polarity = VIS_POLARITY_AUTO;
}

/* Integral images of grey and of its square, (w+1) x (h+1), 64-bit. */
struct integral {
    uint64_t *sum, *sq;
    size_t stride;
};

static int integral_init(struct integral *ig, const struct vis_image *g)
{
    const int w = g->w, h = g->h;
    ig->stride = (size_t)w + 1;
    ig->sum = calloc(ig->stride * (h + 1), sizeof *ig->sum);
    ig->sq = calloc(ig->stride * (h + 1), sizeof *ig->sq);
    if (!ig->sum || !ig->sq) {
        free(ig->sum), free(ig->sq);
        return dg_fail(DG_ENOMEM, "out of memory for a %dx%d image", w, h);
    }
    for (int y = 0; y < h; y++) {
        uint64_t rs = 0, rq = 0;
        for (int x = 0; x < w; x++) {
            const unsigned v = g->px[(size_t)y * w + x];
            rs += v;
            rq += (uint64_t)v * v;
            ig->sum[(size_t)(y + 1) * ig->stride + x + 1] =
                ig->sum[(size_t)y * ig->stride + x + 1] + rs;
            ig->sq[(size_t)(y + 1) * ig->stride + x + 1] =
                ig->sq[(size_t)y * ig->stride + x + 1] + rq;
        }
    }
    return DG_OK;
}

/* Mean and variance of the window of radius r around (x, y), clipped at the borders. */
static void window_stats(const struct integral *ig, int w, int h, int x, int y, int r, double *mean,
                         double *var)
{
    const int y0 = y - r < 0 ? 0 : y - r, y1 = y + r + 1 > h ? h : y + r + 1;
    const int x0 = x - r < 0 ? 0 : x - r, x1 = x + r + 1 > w ? w : x + r + 1;
    const size_t st = ig->stride;
    const double cnt = (double)(y1 - y0) * (x1 - x0);
    const double s1 = (double)(ig->sum[(size_t)y1 * st + x1] - ig->sum[(size_t)y0 * st + x1] -
                               ig->sum[(size_t)y1 * st + x0] + ig->sum[(size_t)y0 * st + x0]);
    const double s2 = (double)(ig->sq[(size_t)y1 * st + x1] - ig->sq[(size_t)y0 * st + x1] -
                               ig->sq[(size_t)y1 * st + x0] + ig->sq[(size_t)y0 * st + x0]);
    *mean = s1 / cnt;
    *var = s2 / cnt - *mean * *mean;
}

/* Ink departs far from the paper around it, in one direction: divided by a wide local mean
 * (radius r, so a light gradient cancels out), dark ink falls to about half while the paper beside
 * it rises only a little above 1; light chalk rises to several times a dark board. The 1% and 99%
 * points of that ratio tell which. */
static enum vis_polarity local_polarity(const struct integral *ig, const struct vis_image *g, int r)
{
    enum { BINS = 400 }; /* ratios 0 .. 4 */
    size_t hist[BINS] = {0};
    const int w = g->w, h = g->h;
    size_t n = 0;
    for (int y = 0; y < h; y += 2) /* every other pixel in each direction is plenty */
        for (int x = 0; x < w; x += 2) {
            double m, var;
            window_stats(ig, w, h, x, y, r, &m, &var);
            int b = (int)(100.0 * g->px[(size_t)y * w + x] / (m > 1.0 ? m : 1.0));
            hist[b < BINS ? b : BINS - 1]++;
            n++;
        }
    int lo = -1, hi = -1;
    size_t cum = 0;
    for (int i = 0; i < BINS; i++) {
        cum += hist[i];
        if (lo < 0 && (double)cum >= 0.01 * (double)n)
            lo = i;
        if (hi < 0 && (double)cum >= 0.99 * (double)n)
            hi = i;
    }
    return 100 - lo >= hi - 100 ? VIS_POLARITY_DARK_ON_LIGHT : VIS_POLARITY_LIGHT_ON_DARK;
}

static int default_radius(const struct vis_image *g, int window)
{
    int win = window ? window : (g->w < g->h ? g->w : g->h) / 12;
    return (win < 3 ? 3 : win) / 2;
}

/* Wide: a quarter of the shorter side, so even large digits are a minority of each window. */
static int polarity_radius(const struct vis_image *g)
{
    const int r = (g->w < g->h ? g->w : g->h) / 8;
    return r < 2 ? 2 : r;
}

enum vis_polarity vis_detect_polarity(const struct vis_image *grey)
{
    struct integral ig;
    if (integral_init(&ig, grey) != DG_OK)
        return VIS_POLARITY_DARK_ON_LIGHT; /* the common case, when memory is short */
    enum vis_polarity pol = local_polarity(&ig, grey, polarity_radius(grey));
    free(ig.sum), free(ig.sq);
    return pol;
}

int vis_threshold(const struct vis_image *grey, const struct vis_threshold_params *p,
                  struct vis_image *mask, enum vis_polarity *found)
{
    const int w = grey->w, h = grey->h;
    if (w < 1 || h < 1 || !(p->k > 0.0f && p->k < 1.0f) || p->window < 0)
        return dg_fail(DG_EARG, "threshold: bad image or parameters");
    const int r = default_radius(grey, p->window);
    struct integral ig;
    struct vis_image out = {0};
    int rc = integral_init(&ig, grey);
    if (rc != DG_OK)
        return rc;
    if ((rc = vis_image_init(&out, w, h)) != DG_OK) {
        free(ig.sum), free(ig.sq);
        return rc;
    }
    const enum vis_polarity pol = p->polarity == VIS_POLARITY_AUTO
                                      ? local_polarity(&ig, grey, polarity_radius(grey))
                                      : p->polarity;
    const int invert = pol == VIS_POLARITY_LIGHT_ON_DARK;
    /* Wolf and Jolion's normalisation of Sauvola, on the picture with ink dark:
     *   T = (1 - k) m + k M + k (s / R) (m - M)
     * with m, s the window's mean and deviation, M the darkest level of the image (its 0.1%
     * point, against noise) and R the largest window deviation in it. Faint pencil then counts as
     * ink where the page has nothing stronger, and flat paper stays paper. */
    size_t hist[256] = {0};
    double r_max = 1.0;
    for (int y = 0; y < h; y += 2)
        for (int x = 0; x < w; x += 2) {
            double m, var;
            window_stats(&ig, w, h, x, y, r, &m, &var);
            const double sd = sqrt(var > 0.0 ? var : 0.0);
            r_max = sd > r_max ? sd : r_max;
            const unsigned g = grey->px[(size_t)y * w + x];
            hist[invert ? 255u - g : g]++;
        }
    size_t cum = 0, n_sampled = (size_t)((w + 1) / 2) * ((h + 1) / 2);
    int darkest = 0;
    while (darkest < 255 && (cum += hist[darkest]) < n_sampled / 1000)
        darkest++;
    const double k = p->k, big_m = darkest;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double m, var;
            window_stats(&ig, w, h, x, y, r, &m, &var);
            if (invert)
                m = 255.0 - m;
            const double sd = sqrt(var > 0.0 ? var : 0.0);
            const double t = (1.0 - k) * m + k * big_m + k * (sd / r_max) * (m - big_m);
            const unsigned g = grey->px[(size_t)y * w + x];
            out.px[(size_t)y * w + x] = (invert ? 255u - g : g) < t ? 255 : 0;
        }
    free(ig.sum), free(ig.sq);
    vis_image_destroy(mask);
    *mask = out;
    if (found)
        *found = pol;
    return DG_OK;
}

/* Thickness of the ink through (x, y) across direction (dx, dy), up to limit + 1. */
static int thickness(const uint8_t *m, int w, int h, int x, int y, int dx, int dy, int limit)
{
    int t = 1;
    for (int s = 1; t <= limit; s++) {
        const int xx = x + s * dx, yy = y + s * dy;
        if (xx < 0 || yy < 0 || xx >= w || yy >= h || !m[(size_t)yy * w + xx])
            break;
        t++;
    }
    for (int s = 1; t <= limit; s++) {
        const int xx = x - s * dx, yy = y - s * dy;
        if (xx < 0 || yy < 0 || xx >= w || yy >= h || !m[(size_t)yy * w + xx])
            break;
        t++;
    }
    return t;
}

int vis_remove_lines(struct vis_image *mask, int min_len_h, int min_len_v, int max_thick)
{
    enum { ON_H = 1, ON_V = 2 };
    const int w = mask->w, h = mask->h;
    const size_t n = (size_t)w * h;
    uint8_t *src = malloc(2 * n);
    if (!src)
        return dg_fail(DG_ENOMEM, "out of memory");
    uint8_t *on = src + n;
    memcpy(src, mask->px, n);
    memset(on, 0, n);
    /* Mark pixels on long horizontal and vertical runs; decisions read the untouched copy. */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w;) {
            int x1 = x;
            while (x1 < w && src[(size_t)y * w + x1])
                x1++;
            if (x1 - x >= min_len_h)
                for (int xx = x; xx < x1; xx++)
                    on[(size_t)y * w + xx] |= ON_H;
            x = x1 > x ? x1 : x + 1;
        }
    for (int x = 0; x < w; x++)
        for (int y = 0; y < h;) {
            int y1 = y;
            while (y1 < h && src[(size_t)y1 * w + x])
                y1++;
            if (y1 - y >= min_len_v)
                for (int yy = y; yy < y1; yy++)
                    on[(size_t)yy * w + x] |= ON_V;
            y = y1 > y ? y1 : y + 1;
        }
    /* A pixel on one line goes where the ink across it is line-thin (a crossing stroke is
     * thicker); a pixel where two lines cross goes too. */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const uint8_t f = on[(size_t)y * w + x];
            if (!f)
                continue;
            int erase = f == (ON_H | ON_V);
            if (f == ON_H)
                erase = thickness(src, w, h, x, y, 0, 1, max_thick) <= max_thick;
            else if (f == ON_V)
                erase = thickness(src, w, h, x, y, 1, 0, max_thick) <= max_thick;
            if (erase)
                mask->px[(size_t)y * w + x] = 0;
        }
    free(src);
    return DG_OK;
}

/* Union-find over provisional labels, with path halving. */
static int32_t find(int32_t *parent, int32_t a)
{
    while (parent[a] != a) {
        parent[a] = parent[parent[a]];
        a = parent[a];
    }
    return a;
}

int vis_components(const struct vis_image *mask, int32_t *labels, struct vis_component **out,
                   int *n_out)
{
    const int w = mask->w, h = mask->h;
    const size_t n = (size_t)w * h;
    /* At most one provisional label per two pixels of a row pair... bound it simply by n/2+1. */
    const size_t max_labels = n / 2 + 2;
    int32_t *parent = malloc(max_labels * sizeof *parent);
    if (!parent)
        return dg_fail(DG_ENOMEM, "out of memory for components");
    int32_t next = 1;
    parent[0] = 0;
    /* First pass: provisional labels from the four already-seen 8-neighbours. */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const size_t i = (size_t)y * w + x;
            if (!mask->px[i]) {
                labels[i] = 0;
                continue;
            }
            int32_t nb[4], k = 0;
            if (x > 0 && labels[i - 1])
                nb[k++] = labels[i - 1];
            if (y > 0) {
                if (x > 0 && labels[i - w - 1])
                    nb[k++] = labels[i - w - 1];
                if (labels[i - w])
                    nb[k++] = labels[i - w];
                if (x + 1 < w && labels[i - w + 1])
                    nb[k++] = labels[i - w + 1];
            }
            if (k == 0) {
                if ((size_t)next >= max_labels) {
                    free(parent);
                    return dg_fail(DG_EARG, "components: too many labels");
                }
                parent[next] = next;
                labels[i] = next++;
                continue;
            }
            int32_t root = find(parent, nb[0]);
            for (int j = 1; j < k; j++) {
                int32_t rj = find(parent, nb[j]);
                if (rj < root) {
                    parent[root] = rj;
                    root = rj;
                } else if (rj > root) {
                    parent[rj] = root;
                }
            }
            labels[i] = root;
        }
    /* Final labels 1..count in order of first appearance (raster order). */
    int32_t *final = calloc((size_t)next, sizeof *final);
    if (!final) {
        free(parent);
        return dg_fail(DG_ENOMEM, "out of memory for components");
    }
    int count = 0;
    for (int32_t l = 1; l < next; l++) {
        int32_t root = find(parent, l);
        if (!final[root])
            final[root] = ++count;
        final[l] = final[root];
    }
    struct vis_component *comp = calloc(count ? (size_t)count : 1, sizeof *comp);
    double *mx = calloc(count ? (size_t)count : 1, 2 * sizeof *mx);
    if (!comp || !mx) {
        free(parent), free(final), free(comp), free(mx);
        return dg_fail(DG_ENOMEM, "out of memory for components");
    }
    for (int c = 0; c < count; c++) {
        comp[c].x0 = w;
        comp[c].y0 = h;
        comp[c].x1 = comp[c].y1 = -1;
    }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const size_t i = (size_t)y * w + x;
            if (!labels[i])
                continue;
            const int c = final[labels[i]] - 1;
            labels[i] = c + 1;
            struct vis_component *cp = &comp[c];
            cp->area++;
            cp->x0 = x < cp->x0 ? x : cp->x0;
            cp->x1 = x > cp->x1 ? x : cp->x1;
            cp->y0 = y < cp->y0 ? y : cp->y0;
            cp->y1 = y > cp->y1 ? y : cp->y1;
            mx[2 * c] += x + 0.5;
            mx[2 * c + 1] += y + 0.5;
        }
    for (int c = 0; c < count; c++) {
        comp[c].cx = (float)(mx[2 * c] / comp[c].area);
        comp[c].cy = (float)(mx[2 * c + 1] / comp[c].area);
    }
    free(parent);
    free(final);
    free(mx);
    *out = comp;
    *n_out = count;
    return DG_OK;
}
