/* segment.c - separating ink from paper under uneven light (Sauvola's local threshold on integral
 * images, with automatic polarity) and 8-connected components with their statistics. The first
 * stages of the scanning pipeline; they know nothing of digits or networks. */
#include "vis.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void vis_threshold_default_params(struct vis_threshold_params *p)
{
    p->window = 0;
    p->k = 0.2f;
    p->polarity = VIS_POLARITY_AUTO;
}

enum vis_polarity vis_detect_polarity(const struct vis_image *grey)
{
    /* Paper is most of the picture and ink a thin tail on one side of it: dark ink on light
     * paper when the dark tail reaches further from the median than the bright one. */
    size_t hist[256] = {0};
    const size_t n = (size_t)grey->w * grey->h;
    for (size_t i = 0; i < n; i++)
        hist[grey->px[i]]++;
    int q[3] = {-1, -1, -1};
    const double at[3] = {0.02, 0.5, 0.98};
    size_t cum = 0;
    for (int v = 0; v < 256; v++) {
        cum += hist[v];
        for (int j = 0; j < 3; j++)
            if (q[j] < 0 && (double)cum >= at[j] * (double)n)
                q[j] = v;
    }
    return q[1] - q[0] >= q[2] - q[1] ? VIS_POLARITY_DARK_ON_LIGHT : VIS_POLARITY_LIGHT_ON_DARK;
}

int vis_threshold(const struct vis_image *grey, const struct vis_threshold_params *p,
                  struct vis_image *mask, enum vis_polarity *found)
{
    const int w = grey->w, h = grey->h;
    if (w < 1 || h < 1 || !(p->k > 0.0f && p->k < 1.0f) || p->window < 0)
        return dg_fail(DG_EARG, "threshold: bad image or parameters");
    enum vis_polarity pol =
        p->polarity == VIS_POLARITY_AUTO ? vis_detect_polarity(grey) : p->polarity;
    int win = p->window ? p->window : (w < h ? w : h) / 8;
    win = win < 3 ? 3 : win;
    const int r = win / 2;
    /* Integral images of the ink-polarity picture (ink dark) and of its square; 64-bit sums. */
    const size_t stride = (size_t)w + 1;
    uint64_t *sum = calloc(stride * (h + 1), sizeof *sum);
    uint64_t *sq = calloc(stride * (h + 1), sizeof *sq);
    struct vis_image out = {0};
    int rc = vis_image_init(&out, w, h);
    if (!sum || !sq || rc != DG_OK) {
        free(sum);
        free(sq);
        vis_image_destroy(&out);
        return rc != DG_OK ? rc : dg_fail(DG_ENOMEM, "out of memory for a %dx%d threshold", w, h);
    }
    const int invert = pol == VIS_POLARITY_LIGHT_ON_DARK;
    for (int y = 0; y < h; y++) {
        uint64_t rs = 0, rq = 0;
        for (int x = 0; x < w; x++) {
            const unsigned v =
                invert ? 255u - grey->px[(size_t)y * w + x] : grey->px[(size_t)y * w + x];
            rs += v;
            rq += (uint64_t)v * v;
            sum[(size_t)(y + 1) * stride + x + 1] = sum[(size_t)y * stride + x + 1] + rs;
            sq[(size_t)(y + 1) * stride + x + 1] = sq[(size_t)y * stride + x + 1] + rq;
        }
    }
    /* Sauvola: ink where v < m * (1 + k * (s / 128 - 1)), with m and s the mean and standard
     * deviation in the window around the pixel (clipped at the borders). */
    for (int y = 0; y < h; y++) {
        const int y0 = y - r < 0 ? 0 : y - r, y1 = y + r + 1 > h ? h : y + r + 1;
        for (int x = 0; x < w; x++) {
            const int x0 = x - r < 0 ? 0 : x - r, x1 = x + r + 1 > w ? w : x + r + 1;
            const double cnt = (double)(y1 - y0) * (x1 - x0);
            const double s1 =
                (double)(sum[(size_t)y1 * stride + x1] - sum[(size_t)y0 * stride + x1] -
                         sum[(size_t)y1 * stride + x0] + sum[(size_t)y0 * stride + x0]);
            const double s2 = (double)(sq[(size_t)y1 * stride + x1] - sq[(size_t)y0 * stride + x1] -
                                       sq[(size_t)y1 * stride + x0] + sq[(size_t)y0 * stride + x0]);
            const double m = s1 / cnt, var = s2 / cnt - m * m;
            const double t = m * (1.0 + p->k * (sqrt(var > 0.0 ? var : 0.0) / 128.0 - 1.0));
            const unsigned v =
                invert ? 255u - grey->px[(size_t)y * w + x] : grey->px[(size_t)y * w + x];
            out.px[(size_t)y * w + x] = v < t ? 255 : 0;
        }
    }
    free(sum);
    free(sq);
    vis_image_destroy(mask);
    *mask = out;
    if (found)
        *found = pol;
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
