# libFuzzer targets (tests/fuzz/README.md), included by the top Makefile.
#   make fuzz        each target FUZZ_SECONDS (60) on a working copy of its corpus
#                    (build/fuzz/corpus/); results in tests/fuzz/RESULTS.md
#   make fuzz-check  each target FUZZ_CHECK_SECONDS (10) from the committed corpus;
#                    fails on any crash, leak, timeout or broken property (make check)
#   make fuzz-clean  removes build/fuzz (binaries, objects, working corpora, artifacts)
# Options: FUZZ_TARGETS="units progname" to run some; FUZZ_RUNS=N to stop each
# after N executions instead (and after FUZZ_SECONDS too only when that is also
# given); FUZZ_NICE=19 (default 0) to run niced. Targets run one at a time.
#
# The reconciler is compiled a third time, with clang and coverage
# instrumentation, into build/fuzz/obj: the gcc objects of build/plain and
# build/asan carry no coverage for libFuzzer to follow.

FUZZ_CC ?= clang
FUZZ_ALL := yaml_file yaml_tree xmlrpc_response progname units planfile
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_SECONDS ?= 60
FUZZ_CHECK_SECONDS ?= 10
FUZZ_RUNS ?=
FUZZ_NICE ?= 0
FUZZ_SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

FUZZ_LIB := $(patsubst reconciler/%.c,build/fuzz/obj/%.o,$(LIB_SRCS))
FUZZ_BINS = $(addprefix build/fuzz/fuzz_,$(FUZZ_TARGETS))
FUZZ_RUN = python3 tests/fuzz/run_fuzz.py --bin-dir build/fuzz --nice $(FUZZ_NICE)
# FUZZ_RUNS alone is a count, not a count capped by the default 60 s
FUZZ_TIME = $(if $(and $(FUZZ_RUNS),$(filter file,$(origin FUZZ_SECONDS))),0,$(FUZZ_SECONDS))

.PHONY: fuzz fuzz-build fuzz-check fuzz-clean
# reached only through the pattern rule below, they would count as intermediate
.SECONDARY: $(FUZZ_LIB)

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	$(FUZZ_RUN) --seconds $(FUZZ_TIME) $(if $(FUZZ_RUNS),--runs $(FUZZ_RUNS)) \
		--record tests/fuzz/RESULTS.md $(FUZZ_TARGETS)

fuzz-check: fuzz-build
	$(FUZZ_RUN) --check --seconds $(FUZZ_CHECK_SECONDS) $(FUZZ_TARGETS)

fuzz-clean:
	rm -rf build/fuzz

build/fuzz/obj/%.o: reconciler/%.c | build/fuzz/obj
	$(call say,CC,$@)$(FUZZ_CC) $(CPPFLAGS) $(CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) -c -o $@ $<

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB) | build/fuzz
	$(call say,LINK,$@)$(FUZZ_CC) $(CPPFLAGS) $(CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer $(PKG_CFLAGS) -o $@ $< $(FUZZ_LIB) $(PKG_LIBS)

build/fuzz build/fuzz/obj:
	mkdir -p $@

-include $(wildcard build/fuzz/*.d build/fuzz/obj/*.d)
