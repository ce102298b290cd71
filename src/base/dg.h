/* dg.h - the base of digits: status codes, the thread-local error message, a seedable RNG and a
 * monotonic clock. Everything else in the tree depends on this; it depends on nothing but libc.
 * Invariants: library functions never print and never exit; a failing function returns a negative
 * DG_E* code and leaves a one-line reason in dg_errmsg() of the calling thread. */
#ifndef DG_H
#define DG_H

#include <stddef.h>
#include <stdint.h>

/* Hot loops (the network's kernels, the image stages) are compiled for three x86-64 levels
 * (AVX-512, AVX2, baseline) and the best one the CPU supports is picked when the program loads:
 * one portable binary, no -march=native. Under ISO C (-std=c11) GCC does not contract a*b+c into
 * FMA, so every level computes identical bits. Helpers they call should be DG_INLINE, so they are
 * compiled into each clone. Not under ThreadSanitizer, whose runtime is not ready when the clones'
 * resolvers run at load time. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define DG_HOT    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define DG_INLINE static inline __attribute__((always_inline))
#elif defined(__wasm__)
/* the browser build (clang): kernels must still be inlined so their tile sizes are constants */
#define DG_HOT
#define DG_INLINE static inline __attribute__((always_inline))
#else
#define DG_HOT
#define DG_INLINE static inline
#endif

/* Status codes. 0 is success; every error is negative. */
enum {
    DG_OK = 0,
    DG_EIO = -1,     /* a file or device could not be read or written */
    DG_EFORMAT = -2, /* the bytes are not what the format says they must be */
    DG_ENOMEM = -3,  /* an allocation failed or a size would overflow */
    DG_EARG = -4,    /* a caller-supplied value is out of range or malformed */
    DG_EINTR = -5,   /* interrupted by the user (Ctrl-C) */
};

/* The last error's message for this thread ("" when none). Valid until the next dg_fail(). */
const char *dg_errmsg(void);

/* Records a printf-style message for this thread and returns code (so `return dg_fail(...)`).
 * Messages longer than 511 bytes are truncated. */
int dg_fail(int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* a*b (and a*b*c) with overflow detection: returns 0 and stores the product, or DG_ENOMEM. */
int dg_mul_size(size_t a, size_t b, size_t *out);

/* Scratch that only grows: afterwards *buf (realloc'ed) holds at least n elements of elem bytes,
 * the old contents kept, and *cap (in elements) says how many. DG_ENOMEM on an overflowing size
 * or a failed allocation, *buf and *cap untouched. */
int dg_grow(void **buf, size_t *cap, size_t n, size_t elem);

/* xoshiro256** - a small, fast generator whose whole state can be saved and restored. Not for
 * cryptography. A struct, never a global: callers own their streams. */
struct dg_rng {
    uint64_t s[4];
};

void dg_rng_seed(struct dg_rng *rng, uint64_t seed);
uint64_t dg_rng_next(struct dg_rng *rng);
/* Uniform float in [0, 1) with 24 random bits. */
float dg_rng_uniform(struct dg_rng *rng);
/* Uniform integer in [0, n) without modulo bias; n must be > 0. */
uint32_t dg_rng_below(struct dg_rng *rng, uint32_t n);
/* The state as 64 hex digits and back (for checkpoints). text must hold 65 bytes.
 * dg_rng_from_hex returns DG_EFORMAT and leaves rng unchanged on a malformed string. */
void dg_rng_to_hex(const struct dg_rng *rng, char text[65]);
int dg_rng_from_hex(struct dg_rng *rng, const char *text);

/* Seconds on a monotonic clock with an arbitrary origin. */
double dg_now(void);

/* Whole-file read: *out is malloc'ed (caller frees), *n_bytes its length. Fails with DG_EIO when
 * the file cannot be opened or read, DG_EARG when it is larger than max_bytes. On failure *out is
 * left unchanged. */
int dg_read_file(const char *path, size_t max_bytes, unsigned char **out, size_t *n_bytes);

/* Atomic file write: the bytes produced by write_fn go to "<path>.tmp", which is flushed, synced
 * and renamed over path; on any failure the temporary is removed and path is untouched.
 * write_fn returns 0 or a DG_E* code; it writes through dg_write_bytes(). */
struct dg_writer;
int dg_write_bytes(struct dg_writer *wr, const void *data, size_t n_bytes);
int dg_write_atomic(const char *path, int (*write_fn)(struct dg_writer *wr, void *ctx), void *ctx);

#endif
