/* draw.c - a tiny pixel font for labelling contact sheets and annotated images without a font file.
 * Not a text renderer: the live window uses SDL2_ttf. */
#include "vis.h"

#include <string.h>

/* 3x5 glyphs, one row per 3-bit number, MSB left. */
static const char GLYPH_CHARS[] = "0123456789 >?.:-%";
static const uint8_t GLYPHS[][5] = {
    {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1},
    {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 2, 2}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7},
    {0, 0, 0, 0, 0}, {4, 2, 1, 2, 4}, {7, 1, 3, 0, 2}, {0, 0, 0, 0, 2}, {0, 2, 0, 2, 0},
    {0, 0, 7, 0, 0}, {5, 1, 2, 4, 5},
};

void vis_draw_text(uint8_t *rgb, int w, int h, int x, int y, const char *text, int scale,
                   const uint8_t color[3])
{
    for (; *text; text++, x += 4 * scale) {
        const char *g = strchr(GLYPH_CHARS, *text);
        if (!g || !*text)
            continue;
        const uint8_t *rows = GLYPHS[g - GLYPH_CHARS];
        for (int r = 0; r < 5; r++)
            for (int c = 0; c < 3; c++) {
                if (!(rows[r] >> (2 - c) & 1))
                    continue;
                for (int dy = 0; dy < scale; dy++)
                    for (int dx = 0; dx < scale; dx++) {
                        int px = x + c * scale + dx, py = y + r * scale + dy;
                        if (px < 0 || py < 0 || px >= w || py >= h)
                            continue;
                        memcpy(rgb + ((size_t)py * w + px) * 3, color, 3);
                    }
            }
    }
}

void vis_draw_rect(uint8_t *rgb, int w, int h, int x, int y, int bw, int bh, int t,
                   const uint8_t color[3])
{
    for (int yy = y; yy < y + bh; yy++)
        for (int xx = x; xx < x + bw; xx++) {
            const int edge = yy < y + t || yy >= y + bh - t || xx < x + t || xx >= x + bw - t;
            if (edge && xx >= 0 && yy >= 0 && xx < w && yy < h)
                memcpy(rgb + ((size_t)yy * w + xx) * 3, color, 3);
        }
}
