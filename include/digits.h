/* digits.h - libdigits: read handwritten digits and numbers in images, in C.
 *
 * The reader finds every handwritten digit in a picture (ink on paper, chalk on a board; a sheet
 * lying on a desk with clutter around it), normalises each the way MNIST's digits were made,
 * classifies it with a small convolutional network, and groups the digits of each text line into
 * numbers. It is the engine of the `digits` program (`digits scan`, `digits live`); this header is
 * all a program needs to use it. Link with `pkg-config --cflags --libs digits`.
 *
 *     #include <digits.h>
 *
 *     digits_reader *rd;
 *     if (digits_reader_open(NULL, 1, &rd) != DIGITS_OK) {   // NULL: the installed robust model
 *         fprintf(stderr, "%s\n", digits_errmsg());
 *         return 1;
 *     }
 *     digits_result *res;   // or digits_read_file(rd, "page.jpg", &res)
 *     if (digits_read(rd, pixels, width, height, stride, DIGITS_BGR, &res) == DIGITS_OK) {
 *         for (int i = 0; i < res->n_numbers; i++)
 *             printf("%s at %d,%d\n", res->numbers[i].text, res->numbers[i].box[0],
 *                    res->numbers[i].box[1]);
 *         digits_result_free(res);
 *     }
 *     digits_reader_close(rd);
 *
 * Images come from memory: 8-bit grey, RGB, BGR (OpenCV's order), RGBA or BGRA, rows `stride`
 * bytes apart (at least width times the bytes per pixel), from 1x1 up to 64 megapixels. Colour is
 * turned to grey by ITU-R BT.601 luma. A picture without digits gives an empty result, not an
 * error.
 *
 * Models are safetensors files written by `digits train` (PyTorch state_dict names, F32). NULL
 * names the installed default: $DIGITS_ROOT/models/robust.safetensors when DIGITS_ROOT is set (a
 * build tree), else robust.safetensors in the models directory chosen at build time
 * (PREFIX/share/digits/models). A model must take 1x28x28 inputs and give 10 digit classes, 11
 * with "not a digit", or 12 with "two digits" touching as well (both shipped models: robust, the
 * default for stills, and fast, which `digits live` uses).
 *
 * Errors: every function that can fail returns a DIGITS_* status (0 for success, negative for an
 * error) and leaves a one-line reason, in English, in digits_errmsg() of the calling thread. The
 * library never prints, never exits and never aborts on anything a caller, a file or an image can
 * cause. On failure, out-parameters are left untouched.
 *
 * Ownership: a reader and a result belong to whoever opened or received them, and are released
 * with digits_reader_close() and digits_result_free() (both accept NULL). A result does not refer
 * to its reader or image: it may outlive both.
 *
 * Threads: a reader is used by one thread at a time; give each thread its own reader (they may
 * read the same model file). Different readers run in parallel without locks. With threads > 1, a
 * reader spreads the network's work for one image over that many OpenMP threads; for many images,
 * one single-threaded reader per thread scales better. digits_errmsg() is per thread.
 *
 * Versions: DIGITS_VERSION_* give the version of this header, digits_version() that of the library
 * linked at run time. The library's SONAME changes when the ABI does. */
#ifndef DIGITS_H
#define DIGITS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DIGITS_VERSION_MAJOR 0
#define DIGITS_VERSION_MINOR 3
#define DIGITS_VERSION_PATCH 0
#define DIGITS_VERSION       "0.3.0"

/* The library's version, "MAJOR.MINOR.PATCH". */
const char *digits_version(void);

/* Status codes: 0 is success, every error is negative. */
enum digits_status {
    DIGITS_OK = 0,
    DIGITS_EIO = -1,     /* a file could not be read (the model) */
    DIGITS_EFORMAT = -2, /* a file is not what it must be (a corrupt or non-digit model) */
    DIGITS_ENOMEM = -3,  /* out of memory */
    DIGITS_EARG = -4,    /* an argument is out of range: a NULL pointer, a size, a stride, ... */
};

/* The last error's reason for the calling thread ("" when there was none). Valid until this
 * thread's next failing call. */
const char *digits_errmsg(void);

/* Pixel layouts digits_read() accepts. */
enum digits_format {
    DIGITS_GREY = 1, /* one byte per pixel */
    DIGITS_RGB = 2,  /* three bytes: red, green, blue */
    DIGITS_BGR = 3,  /* three bytes: blue, green, red (OpenCV's Mat) */
    DIGITS_RGBA = 4, /* four bytes, the last ignored */
    DIGITS_BGRA = 5, /* four bytes, the last ignored */
};

/* One digit found. box is [x, y, width, height] in image pixels (the ink's bounding box). */
typedef struct digits_digit {
    int digit;        /* 0..9 */
    float confidence; /* the network's probability for it */
    int top3[3];      /* the three likeliest digits, likeliest first */
    float top3_p[3];  /* their probabilities */
    int box[4];
} digits_digit;

/* One number: the digits of one text line that stand close together, in reading order. */
typedef struct digits_number {
    const char *text; /* the digits as a string, "2024" (owned by the result) */
    float confidence; /* the product of its digits' confidences */
    int box[4];       /* [x, y, width, height] around its digits */
    int first, count; /* its digits: digits[first .. first + count) */
} digits_number;

/* What the picture lacked for a good reading (digits_result.hints). */
enum { DIGITS_HINT_DARK = 1, DIGITS_HINT_NOISY = 2, DIGITS_HINT_BLURRED = 4 };

/* What digits_read() found: the same content as a line of `digits scan --json`. Read-only; free
 * it with digits_result_free(). Digits are listed line by line, in reading order. */
typedef struct digits_result {
    int width, height; /* the image read */
    int n_digits;
    const digits_digit *digits;
    int n_numbers;
    const digits_number *numbers;
    double ms; /* time digits_read took, milliseconds (the result's copy included) */
    /* Since 0.3: what the reader saw of the camera ("camera" of `digits scan --json`): the level
       a tenth of the pixels reach (0-255), the noise as a share of it, the blur (0 sharp .. 1
       flat), each -1 for an image read as a crop (under 64 px); hints, DIGITS_HINT_* bits for a
       picture too dark, grainy or blurred to read well, and advice, one line saying what would
       help ("" for none; a static string). */
    float light, noise, blur;
    unsigned hints;
    const char *advice;
} digits_result;

/* An opaque reader: a model, its inference engine and the scanner's working memory. */
typedef struct digits_reader digits_reader;

/* Opens a reader on the model file at model_path (NULL: the installed default, see above) that
 * uses up to threads threads per image (1 or more; 0: as many as the machine has cores).
 * DIGITS_EIO: the file cannot be read; DIGITS_EFORMAT: it is not a digit model (wrong shapes,
 * corrupt, NaN or infinite weights); DIGITS_EARG: threads < 0 or out NULL. */
int digits_reader_open(const char *model_path, int threads, digits_reader **out);

/* The path digits_reader_open(NULL, ...) opens (see Models above); static storage. */
const char *digits_default_model(void);

/* Closes the reader and frees its memory. NULL is fine. */
void digits_reader_close(digits_reader *rd);

/* Sets the confidence below which a candidate is not reported as a digit (0.5 by default; lower
 * finds more digits and more false ones). DIGITS_EARG unless 0 <= min_confidence <= 1. */
int digits_reader_set_min_confidence(digits_reader *rd, float min_confidence);

/* With on != 0 the images that follow are read as frames of one video, as `digits live` reads
 * them: a candidate that looks as it did in the image before (its box in the same place, its
 * 28x28 input within 0.04 on average) takes the network's answer of then when that answer was
 * 98% sure, instead of being read again. On hand-held video that spares a third to two thirds of
 * the network's work a frame, and changes a few readings in a thousand (a sure answer held for a
 * frame or two). With on == 0 (the default) every image is read afresh, so the same image always
 * gives the same result. DIGITS_EARG when rd is NULL. */
int digits_reader_set_video(digits_reader *rd, int on);

/* Reads the digits and numbers in an image: pixels in format, width x height, rows stride bytes
 * apart. *out receives a new result on success. DIGITS_EARG for a NULL pointer, a size under 1x1
 * or over 64 megapixels, a stride shorter than a row, or an unknown format; DIGITS_ENOMEM. */
int digits_read(digits_reader *rd, const uint8_t *pixels, int width, int height, size_t stride,
                enum digits_format format, digits_result **out);

/* Reads an image file (PNG, JPEG, BMP, PGM/PPM, TGA, GIF; up to 64 megapixels; a JPEG's EXIF
 * orientation applied) as `digits scan` does: the same result for the same file. DIGITS_EIO: the
 * file cannot be read; DIGITS_EFORMAT: it is not an image it can decode, or is cut short; *out is
 * left untouched on failure. */
int digits_read_file(digits_reader *rd, const char *path, digits_result **out);

/* Frees a result. NULL is fine. */
void digits_result_free(digits_result *res);

/* Classifies n ready inputs: images[i * 784 .. i * 784 + 784) is a 28x28 MNIST-style digit, white
 * (255) ink on black (0), its ink fitted into the middle 20x20 and centred by mass, as MNIST's
 * files hold them. labels[i] gets the likeliest digit, 0..9; probs (may be NULL) gets 11
 * probabilities per input: digits 0..9, then "not a digit" (0 for a 10-class model; with a
 * 12-class model, "not a digit" or "two digits": not one digit). They sum to 1.
 * DIGITS_EARG for NULL arrays or n < 0. */
int digits_classify(digits_reader *rd, const uint8_t *images, int n, int *labels, float *probs);

#ifdef __cplusplus
}
#endif

#endif
