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

/* Box statistics by sliding sums: for each row in turn, the mean and standard deviation of grey
 * over the (2r+1)^2 window around every pixel, clipped at the borders. Column sums over the
 * window's rows are updated by one row in and one row out; their prefix along the row gives any
 * window's sum. O(1) per pixel and O(w) memory. */
struct box {
    const struct vis_image *g;
    int r, y;     /* the row the column sums are for (-1 before the first) */
    uint32_t *c1; /* per column: sum of grey over the window's rows */
    uint32_t *c2; /*             sum of grey^2 (< 65025 * (2r+1), fits while r < 33000) */
    uint64_t *p1; /* prefix sums of c1 and c2 along the row, w + 1 entries */
    uint64_t *p2;
    float *mean, *sd; /* the current row's results */
    void *mem;        /* the one allocation all of these live in */
};

static void box_free(struct box *b)
{
    free(b->mem);
    b->mem = NULL;
}

static int box_init(struct box *b, const struct vis_image *g, int r)
{
    const size_t w = (size_t)g->w;
    /* one block: c1, c2 (w each), p1, p2 (w+1 each), mean, sd (w each) */
    char *mem =
        malloc(2 * w * sizeof(uint32_t) + 2 * (w + 1) * sizeof(uint64_t) + 2 * w * sizeof(float));
    if (!mem)
        return dg_fail(DG_ENOMEM, "out of memory for a %dx%d image", g->w, g->h);
    b->g = g;
    b->r = r < g->h ? r : g->h;
    b->y = -1;
    b->p1 = (uint64_t *)mem;
    b->p2 = b->p1 + w + 1;
    b->c1 = (uint32_t *)(b->p2 + w + 1);
    b->c2 = b->c1 + w;
    b->mean = (float *)(b->c2 + w);
    b->sd = b->mean + w;
    b->mem = mem;
    return DG_OK;
}

static void add_row(struct box *b, int y, int sign)
{
    const uint8_t *row = b->g->px + (size_t)y * b->g->w;
    uint32_t *restrict c1 = b->c1, *restrict c2 = b->c2;
    if (sign > 0)
        for (int x = 0; x < b->g->w; x++)
            c1[x] += row[x], c2[x] += (uint32_t)row[x] * row[x];
    else
        for (int x = 0; x < b->g->w; x++)
            c1[x] -= row[x], c2[x] -= (uint32_t)row[x] * row[x];
}

/* Moves to the next row and, when stats is set, fills mean[x] and sd[x] for every step-th x. */
static void box_next(struct box *b, int stats, int step)
{
    const int w = b->g->w, h = b->g->h, r = b->r;
    const int y = ++b->y;
    if (y == 0) {
        memset(b->c1, 0, 2 * (size_t)w * sizeof *b->c1);
        for (int yy = 0; yy <= r && yy < h; yy++)
            add_row(b, yy, 1);
    } else {
        if (y + r < h)
            add_row(b, y + r, 1);
        if (y - r - 1 >= 0)
            add_row(b, y - r - 1, -1);
    }
    if (!stats)
        return;
    uint64_t *restrict p1 = b->p1, *restrict p2 = b->p2;
    p1[0] = p2[0] = 0;
    for (int x = 0; x < w; x++) {
        p1[x + 1] = p1[x] + b->c1[x];
        p2[x + 1] = p2[x] + b->c2[x];
    }
    const int rows = (y + r + 1 < h ? y + r + 1 : h) - (y - r > 0 ? y - r : 0);
    const float inv_full = 1.0f / (float)(rows * (2 * r + 1)); /* away from the side borders */
    for (int x = 0; x < w; x += step) {
        const int x0 = x - r > 0 ? x - r : 0, x1 = x + r + 1 < w ? x + r + 1 : w;
        const float inv = x1 - x0 == 2 * r + 1 ? inv_full : 1.0f / (float)(rows * (x1 - x0));
        const float m = (float)(p1[x1] - p1[x0]) * inv;
        const float var = (float)(p2[x1] - p2[x0]) * inv - m * m;
        b->mean[x] = m;
        b->sd[x] = sqrtf(var > 0.0f ? var : 0.0f);
    }
}

/* Ink departs far from the paper around it, in one direction: divided by a wide local mean
 * (radius r, so a light gradient cancels out), dark ink falls to about half while the paper beside
 * it rises only a little above 1; light chalk rises to several times a dark board. The 1% and 99%
 * points of that ratio tell which. */
static int local_polarity(const struct vis_image *g, int r, enum vis_polarity *out)
{
    enum { BINS = 400 }; /* ratios 0 .. 4 */
    size_t hist[BINS] = {0};
    const int w = g->w, h = g->h;
    size_t n = 0;
    struct box b;
    if (box_init(&b, g, r) != DG_OK)
        return DG_ENOMEM;
    for (int y = 0; y < h; y++) {
        box_next(&b, y % 2 == 0, 2); /* every other pixel in each direction is plenty */
        if (y % 2)
            continue;
        for (int x = 0; x < w; x += 2) {
            const float m = b.mean[x];
            int k = (int)(100.0f * g->px[(size_t)y * w + x] / (m > 1.0f ? m : 1.0f));
            hist[k < BINS ? k : BINS - 1]++;
            n++;
        }
    }
    box_free(&b);
    int lo = -1, hi = -1;
    size_t cum = 0;
    for (int i = 0; i < BINS; i++) {
        cum += hist[i];
        if (lo < 0 && (double)cum >= 0.01 * (double)n)
            lo = i;
        if (hi < 0 && (double)cum >= 0.99 * (double)n)
            hi = i;
    }
    *out = 100 - lo >= hi - 100 ? VIS_POLARITY_DARK_ON_LIGHT : VIS_POLARITY_LIGHT_ON_DARK;
    return DG_OK;
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
    enum vis_polarity pol = VIS_POLARITY_DARK_ON_LIGHT; /* the common case, when memory is short */
    local_polarity(grey, polarity_radius(grey), &pol);
    return pol;
}

int vis_threshold(const struct vis_image *grey, const struct vis_threshold_params *p,
                  struct vis_image *mask, enum vis_polarity *found)
{
    const int w = grey->w, h = grey->h;
    if (w < 1 || h < 1 || !(p->k > 0.0f && p->k < 1.0f) || p->window < 0)
        return dg_fail(DG_EARG, "threshold: bad image or parameters");
    const int r = default_radius(grey, p->window);
    enum vis_polarity pol = p->polarity;
    if (pol == VIS_POLARITY_AUTO && local_polarity(grey, polarity_radius(grey), &pol) != DG_OK)
        return DG_ENOMEM;
    struct box b;
    struct vis_image out = {0};
    int rc = box_init(&b, grey, r);
    if (rc != DG_OK)
        return rc;
    if ((rc = vis_image_init(&out, w, h)) != DG_OK) {
        box_free(&b);
        return rc;
    }
    const int invert = pol == VIS_POLARITY_LIGHT_ON_DARK;
    /* Wolf and Jolion's normalisation of Sauvola, on the picture with ink dark:
     *   T = (1 - k) m + k M + k (s / R) (m - M)
     * with m, s the window's mean and deviation, M the darkest level of the image (its 0.1%
     * point, against noise) and R the largest window deviation in it. Faint pencil then counts as
     * ink where the page has nothing stronger, and flat paper stays paper. */
    size_t hist[256] = {0};
    float r_max = 1.0f;
    for (int y = 0; y < h; y++) {
        box_next(&b, y % 2 == 0, 2);
        if (y % 2)
            continue;
        for (int x = 0; x < w; x += 2) {
            r_max = b.sd[x] > r_max ? b.sd[x] : r_max;
            const unsigned g = grey->px[(size_t)y * w + x];
            hist[invert ? 255u - g : g]++;
        }
    }
    size_t cum = 0, n_sampled = (size_t)((w + 1) / 2) * ((h + 1) / 2);
    int darkest = 0;
    while (darkest < 255 && (cum += hist[darkest]) < n_sampled / 1000)
        darkest++;
    const float k = p->k, big_m = (float)darkest, inv_r = 1.0f / r_max;
    b.y = -1;
    for (int y = 0; y < h; y++) {
        box_next(&b, 1, 1);
        const uint8_t *row = grey->px + (size_t)y * w;
        uint8_t *o = out.px + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            const float m = invert ? 255.0f - b.mean[x] : b.mean[x];
            const float t = (1.0f - k) * m + k * big_m + k * (b.sd[x] * inv_r) * (m - big_m);
            const float g = invert ? 255.0f - row[x] : row[x];
            o[x] = g < t ? 255 : 0;
        }
    }
    box_free(&b);
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
