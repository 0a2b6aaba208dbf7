# raptor — build, dependencies, tests, demo and benchmarks (DESIGN.md §8).
#   make deps    install the Debian packages that are missing (as root)
#   make         build ./raptor
#   make check   deps, build, lint, unit tests plain, under ASan+UBSan and valgrind,
#                each fuzz target briefly, integration tests
#   make fuzz    each libFuzzer target FUZZ_SECONDS (60); tests/fuzz/RESULTS.md
#   make demo    build and show raptor on the examples
#   make bench   benchmarks; results in tests/bench/RESULTS.md

VERSION := 0.1.0
GIT_REV := $(shell git rev-parse --short HEAD 2>/dev/null)
FULL_VERSION := $(VERSION)$(if $(GIT_REV),+g$(GIT_REV))

CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS := yaml-0.1 libgit2 libxml-2.0 libcurl jansson
TEST_PKGS := cmocka jansson

CPPFLAGS += -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -DRAPTOR_VERSION='"$(FULL_VERSION)"' -Ireconciler
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -MMD -MP
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
TEST_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(TEST_PKGS) 2>/dev/null) -Wno-missing-field-initializers
TEST_LIBS = $(shell $(PKG_CONFIG) --libs $(TEST_PKGS) 2>/dev/null)
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

SRCS := $(wildcard reconciler/*.c)
LIB_SRCS := $(filter-out reconciler/raptor.c,$(SRCS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)

# two flavours of every object: build/plain and build/asan
objs = $(patsubst reconciler/%.c,build/$(1)/%.o,$(2))
PLAIN_LIB := $(call objs,plain,$(LIB_SRCS))
ASAN_LIB := $(call objs,asan,$(LIB_SRCS))
PLAIN_TESTS := $(patsubst tests/unit/%.c,build/plain/tests/%,$(UNIT_SRCS))
ASAN_TESTS := $(patsubst tests/unit/%.c,build/asan/tests/%,$(UNIT_SRCS))

DEBS := build-essential pkg-config libyaml-dev libgit2-dev libcurl4-openssl-dev libxml2-dev \
	libjansson-dev libcmocka-dev supervisor nginx-light python3 git curl \
	clang libclang-rt-14-dev llvm clang-tidy cppcheck valgrind

.PHONY: all deps check unit unit-asan integration lint valgrind demo demo-down bench format clean
.DELETE_ON_ERROR:

all: raptor

raptor: build/plain/raptor
	$(Q)cp $< $@

# `make V=1` shows the full commands
Q = $(if $(V),,@)
say = $(if $(V),,@printf '  %-6s %s\n' $(1) $(2);)

build/plain/raptor: build/plain/raptor.o $(PLAIN_LIB)
	$(call say,LINK,$@)$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

build/asan/raptor: build/asan/raptor.o $(ASAN_LIB)
	$(call say,LINK,$@)$(CC) $(CFLAGS) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

build/plain/%.o: reconciler/%.c | build/plain
	$(call say,CC,$@)$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

build/asan/%.o: reconciler/%.c | build/asan
	$(call say,CC,$@)$(CC) $(CPPFLAGS) $(CFLAGS) $(SAN_FLAGS) -O1 $(PKG_CFLAGS) -c -o $@ $<

build/plain/tests/%: tests/unit/%.c tests/unit/unit.h $(PLAIN_LIB) | build/plain/tests
	$(call say,LINK,$@)$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) $(TEST_CFLAGS) -o $@ $< $(PLAIN_LIB) $(PKG_LIBS) $(TEST_LIBS)

build/asan/tests/%: tests/unit/%.c tests/unit/unit.h $(ASAN_LIB) | build/asan/tests
	$(call say,LINK,$@)$(CC) $(CPPFLAGS) $(CFLAGS) $(SAN_FLAGS) -O1 $(PKG_CFLAGS) $(TEST_CFLAGS) -o $@ $< $(ASAN_LIB) $(PKG_LIBS) $(TEST_LIBS)

build/plain build/asan build/plain/tests build/asan/tests:
	mkdir -p $@

# Installs only what is missing, non-interactively; never starts a service.
deps:
	@missing=""; \
	for p in $(DEBS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	case "$$missing" in *nginx-light*) command -v nginx >/dev/null 2>&1 && missing=$$(echo "$$missing" | sed 's/ nginx-light//');; esac; \
	if [ -z "$$missing" ]; then echo "deps: all present"; exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then echo "make deps: missing:$$missing; run 'make deps' as root" >&2; exit 1; fi; \
	echo "deps: installing$$missing"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null

unit: $(PLAIN_TESTS)
	@set -e; for t in $(PLAIN_TESTS); do echo "== $$t"; (cd tests/unit && ../../$$t); done

unit-asan: $(ASAN_TESTS)
	@set -e; for t in $(ASAN_TESTS); do echo "== $$t (asan+ubsan)"; \
		(cd tests/unit && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 ../../$$t); done

integration: raptor build/asan/raptor
	@RAPTOR=$(CURDIR)/build/asan/raptor bash tests/integration/run.sh

check: deps
	$(MAKE) all
	$(MAKE) lint
	$(MAKE) unit
	$(MAKE) unit-asan
	$(MAKE) valgrind
	$(MAKE) fuzz-check
	$(MAKE) integration

demo: raptor
	@bash tests/demo.sh

demo-down:
	@bash tests/sandbox/nginx.sh down /tmp/raptor-demo/nginx; bash tests/sandbox/sandbox.sh down /tmp/raptor-demo/fleet; rm -rf /tmp/raptor-demo

build/plain/bench_planner: tests/bench/bench_planner.c $(PLAIN_LIB) | build/plain
	$(call say,LINK,$@)$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(PLAIN_LIB) $(PKG_LIBS)

build/plain/bench_xmlparse: tests/bench/bench_xmlparse.c $(PLAIN_LIB) | build/plain
	$(call say,LINK,$@)$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(PLAIN_LIB) $(PKG_LIBS)

# every benchmark runs, whatever the others found; the exit status is the worst (0 met, 1 missed, 2 could not run)
bench: raptor build/plain/bench_planner build/plain/bench_xmlparse
	@rc=0; for b in "bench_validate.py --raptor ./raptor --runs 9" \
		"bench_plan.py --bin build/plain/bench_planner" \
		"bench_fleet.py --raptor ./raptor --parse-bin build/plain/bench_xmlparse"; do \
		echo "python3 tests/bench/$$b"; python3 tests/bench/$$b; r=$$?; [ $$r -le $$rc ] || rc=$$r; \
	done; exit $$rc

# clang-tidy with the checks of .clang-tidy (why each left-out one is left
# out is written there) and cppcheck, both over reconciler/, both clean
LINT_DEFS := -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -Ireconciler
lint:
	@mkdir -p build; echo "== lint: cppcheck"
	@cppcheck --std=c11 --enable=warning,portability,performance --inline-suppr \
		--error-exitcode=1 -q -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -Ireconciler \
		reconciler/*.c
	@echo "== lint: clang-tidy (.clang-tidy)"
	@ls reconciler/*.c | xargs -P$$(nproc) -n6 sh -c 'clang-tidy --quiet "$$@" -- \
		$(LINT_DEFS) $(PKG_CFLAGS) 2>/dev/null' sh >build/lint.log; \
		if grep -E "(warning|error):" build/lint.log; then exit 1; fi; echo "lint: clean"

# valgrind memcheck over the plain unit tests (the ASan build is checked in
# make check already; valgrind sees what ASan cannot: uninitialised reads).
# valgrind 3.19 does not know pidfd_open (syscall 434) and says so in five
# lines at every call: child.c then polls for the exit, and those lines are
# left out here, counted in one.
VALGRIND_434 = ^--[0-9]+-- (WARNING: unhandled amd64-linux syscall: 434|You may be able to write your own handler|Read the file README_MISSING_SYSCALL_OR_IOCTL|Nevertheless we consider this a bug|it at http://valgrind.org/support/bug_reports.html)
valgrind: $(PLAIN_TESTS)
	@set -e; for t in $(PLAIN_TESTS); do echo "== $$t (valgrind)"; \
		rc=0; (cd tests/unit && valgrind -q --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite,indirect ../../$$t >/dev/null) 2>build/valgrind.log || rc=$$?; \
		grep -Ev '$(VALGRIND_434)' build/valgrind.log || true; \
		n=$$(grep -Ec 'unhandled amd64-linux syscall: 434' build/valgrind.log || true); \
		[ "$$n" = 0 ] || echo "   ($$n pidfd_open calls refused by valgrind: child.c polled instead)"; \
		[ $$rc = 0 ] || exit $$rc; done; rm -f build/valgrind.log; echo "valgrind: clean"

format:
	clang-format -i reconciler/*.[ch] tests/unit/*.[ch]

clean:
	rm -rf build raptor

# fuzzing (libFuzzer, clang): make fuzz, and fuzz-check (brief, in make check)
-include tests/fuzz/fuzz.mk

-include $(wildcard build/plain/*.d build/asan/*.d build/*/tests/*.d)
