# detour — build, test, install. `make help` lists the targets.

VERSION    := 0.1.0
PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc/detour
DESTDIR    ?=
BUILD      ?= build

PKGS       := libmicrohttpd libcurl jansson yaml-0.1 hiredis
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)
MOCK_CFLAGS  := $(shell pkg-config --cflags libmicrohttpd jansson 2>/dev/null)
MOCK_LIBS    := $(shell pkg-config --libs libmicrohttpd jansson 2>/dev/null)

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -DDETOUR_VERSION='"$(VERSION)"' -MMD -MP
LDLIBS  := -lpthread -lm

# `make V=1` shows the full commands.
Q := $(if $(V),,@)

ifeq ($(SANITIZE),1)
  # DETOUR_DEBUG turns DETOUR_ASSERT on (src/base/invariant.h).
  BASE_CFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -DDETOUR_DEBUG
  LDFLAGS     += -fsanitize=address,undefined
endif

# src/ has one folder a layer (docs/internals.md); every folder is on the include path.
SRC      := $(sort $(wildcard src/*/*.c))
SRC_INC  := $(patsubst %/,-I%,$(sort $(dir $(wildcard src/*/*.h))))
LIB_SRC  := $(filter-out src/serve/main.c,$(SRC))
LIB_OBJ  := $(LIB_SRC:src/%.c=$(BUILD)/src/%.o)
MAIN_OBJ := $(BUILD)/src/serve/main.o
MOCK_SRC := $(sort $(wildcard tests/mock/*.c))
MOCK_OBJ := $(MOCK_SRC:tests/mock/%.c=$(BUILD)/mock/%.o)
# detour-mock writes with detourd's capped buffer and takes nothing else from src/.
MOCK_BASE_OBJ := $(BUILD)/src/base/buf.o
UNIT_SRC := $(sort $(wildcard tests/unit/*.c))
UNIT_OBJ := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/unit/%.o)

# libFuzzer targets (tests/fuzz): clang only, each linked with the pure modules.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 3
FUZZ_BUILD   := build/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE $(WARN) -O1 -g $(FUZZ_SAN) $(PKG_CFLAGS) $(SRC_INC) -MMD -MP
FUZZ_MODULES := buf rng jsonscan request sse httpframe refusal anthropic anthropic_format anthropic_stream completion units cache \
                config config_load config_reader config_routes config_schema config_secret config_table \
                responses responses_answer responses_stream responses_write jsonwrite usage seam prefill
FUZZ_MOD_OBJ := $(patsubst src/%.c,$(FUZZ_BUILD)/src/%.o,$(foreach m,$(FUZZ_MODULES),$(wildcard src/*/$(m).c)))
FUZZ_SRC     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TARGETS := $(FUZZ_SRC:tests/fuzz/%.c=%)
FUZZ_BIN     := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/%)
FUZZ_LIBS    := $(shell pkg-config --libs jansson yaml-0.1 2>/dev/null) -lpthread -lm

DETOURD  := $(BUILD)/detourd
MOCK     := $(BUILD)/detour-mock
UNIT     := $(BUILD)/unit-tests

.PHONY: all help deps run check check-layers test test-unit test-integration test-sdk fuzz fuzz-smoke fuzz-build bench \
	chaos chaos-cuts chaos-smoke install uninstall clean

all: $(DETOURD) $(MOCK)

help:
	@echo "make deps     install the Debian packages and npm modules that are missing (root)"
	@echo "make run      build, start two detour-mock upstreams and detourd -c conf/demo.yaml"
	@echo "make check    the layer check, every test suite, then again under ASan + UBSan, and a fuzz smoke"
	@echo "make check-layers  fail on an include cycle, or an include of a higher layer, in src/"
	@echo "make fuzz     every libFuzzer target in tests/fuzz for FUZZ_SECONDS (60) each (clang)"
	@echo "make bench    benchmarks against detour-mock, nginx and a Node gateway"
	@echo "make chaos    detour under a seeded fault schedule, CHAOS_SECONDS (180) of it, beside nginx and a Node gateway"
	@echo "make install  PREFIX=$(PREFIX) DESTDIR=... SYSCONFDIR=$(SYSCONFDIR) (binaries, unit, docs, man pages)"
	@echo "make uninstall  the same variables; keeps an edited configuration and says so"
	@echo "make clean"

$(BUILD)/src/%.o: src/%.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(BASE_CFLAGS) $(PKG_CFLAGS) $(SRC_INC) -c -o $@ $<

$(BUILD)/mock/%.o: tests/mock/%.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(BASE_CFLAGS) $(MOCK_CFLAGS) -Isrc/base -c -o $@ $<

$(BUILD)/unit/%.o: tests/unit/%.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(BASE_CFLAGS) $(PKG_CFLAGS) $(CHECK_CFLAGS) $(SRC_INC) -c -o $@ $<

$(DETOURD): $(MAIN_OBJ) $(LIB_OBJ)
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

$(MOCK): $(MOCK_OBJ) $(MOCK_BASE_OBJ)
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(MOCK_LIBS) $(LDLIBS)

$(UNIT): $(UNIT_OBJ) $(LIB_OBJ)
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CHECK_LIBS) $(LDLIBS)

# Sources get coverage hooks only; -fsanitize=fuzzer on the link brings libFuzzer's main.
$(FUZZ_BUILD)/src/%.o: src/%.c
	@mkdir -p $(@D)
	@echo "  FUZZCC  $<"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/%.o: tests/fuzz/%.c
	@mkdir -p $(@D)
	@echo "  FUZZCC  $<"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/fuzz_%.o $(FUZZ_MOD_OBJ)
	@echo "  LINK    $@"
	$(Q)$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ $(FUZZ_LIBS)

deps:
	scripts/install-deps

run: all
	scripts/run-demo $(BUILD)

# One pass of every suite against the binaries in $(BUILD).
test: test-unit test-integration test-sdk

test-unit: $(UNIT)
	CK_FORK=yes $(UNIT)

test-integration: all
	DETOUR_BUILD=$(abspath $(BUILD)) DETOUR_SANITIZE=$(SANITIZE) \
		python3 -m unittest discover -s tests/integration -p 'test_*.py' $(if $(V),-v,)

test-sdk: all
	DETOUR_BUILD=$(abspath $(BUILD)) DETOUR_SANITIZE=$(SANITIZE) node --test tests/sdk/

# Modules include each other in one direction only, and never a higher layer's.
check-layers:
	scripts/check-layers src

check: check-layers
	$(MAKE) test BUILD=build
	$(MAKE) test BUILD=build/sanitize SANITIZE=1 CFLAGS='-O1 -g'
	$(MAKE) chaos-smoke BUILD=build/sanitize SANITIZE=1 CFLAGS='-O1 -g'
	$(MAKE) fuzz-smoke

fuzz-build: $(FUZZ_BIN)

# Kept, so a second make fuzz relinks nothing.
.SECONDARY: $(FUZZ_MOD_OBJ) $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%.o)

# Each target in turn, from the seeds in tests/fuzz/corpus/<target> (read only:
# what it finds goes to build/fuzz/corpus/<target>); a crash, leak, hang
# (-timeout) or broken property stops make with the input in build/fuzz/crashes.
fuzz: $(FUZZ_BIN)
	$(Q)for t in $(FUZZ_TARGETS); do \
		echo "  FUZZ    $$t ($(FUZZ_SECONDS) s)"; \
		mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/crashes; \
		$(FUZZ_BUILD)/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/crashes/$$t- \
			$(FUZZ_BUILD)/corpus/$$t tests/fuzz/corpus/$$t </dev/null \
			>$(FUZZ_BUILD)/$$t.log 2>&1 || { tail -n 60 $(FUZZ_BUILD)/$$t.log; exit 1; }; \
		grep -E '^(stat::number_of_executed_units|Done )' $(FUZZ_BUILD)/$$t.log | tr '\n' ' '; echo; \
	done

# A few seconds each: a harness that no longer builds or crashes at once fails.
fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS)

bench: all
	tests/bench/run $(BUILD)

# The fault schedule against detour (and the Node gateway and nginx when installed);
# the table goes to docs/benchmarks.md, section Chaos.
chaos: all
	python3 tests/chaos/chaos.py $(BUILD)

# Streams only, random cuts on two of three upstreams, once with streams.on_cut:
# error and once with continue; the share of whole streams goes to
# docs/benchmarks.md, section "Chaos: cut streams".
chaos-cuts: all
	CHAOS_CUTS=1 python3 tests/chaos/chaos.py $(BUILD)

# 15 s of the schedule, a short outage, detour alone: fails on a silent truncation,
# a hang, a reset, an error that is not OpenAI-shaped, or a detourd that crashes,
# leaks or reports (under SANITIZE=1). The share of full answers depends on the
# machine, so it is not asserted.
chaos-smoke: all
	CHAOS_SECONDS=15 CHAOS_OUTAGE_SECONDS=3 CHAOS_RECOVERY_TRIALS=1 CHAOS_PEERS=0 CHAOS_DOCS=0 \
		CHAOS_STRICT=1 python3 tests/chaos/chaos.py $(BUILD)

MANDIR ?= $(PREFIX)/share/man
MAN_PAGES := docs/man/detourd.8 docs/man/detour.yaml.5 docs/man/detour-mock.1

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SYSCONFDIR) \
		$(DESTDIR)$(PREFIX)/lib/systemd/system $(DESTDIR)$(PREFIX)/share/doc/detour \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(DETOURD) $(MOCK) $(DESTDIR)$(PREFIX)/bin/
	@# An operator's edited configuration is never overwritten.
	test -e $(DESTDIR)$(SYSCONFDIR)/detour.yaml || install -m 0644 conf/detour.yaml $(DESTDIR)$(SYSCONFDIR)/
	install -m 0644 conf/demo.yaml $(DESTDIR)$(SYSCONFDIR)/
	sed 's|/usr/local|$(PREFIX)|g; s|/etc/detour|$(SYSCONFDIR)|g' systemd/detour.service \
		> $(DESTDIR)$(PREFIX)/lib/systemd/system/detour.service
	install -m 0644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/detour/
	install -m 0644 docs/man/detour-mock.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 docs/man/detour.yaml.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 docs/man/detourd.8 $(DESTDIR)$(MANDIR)/man8/

# Removes what install put in place. The configuration goes only when it is the
# example as installed; an edited one, and whatever else the operator put in
# $(SYSCONFDIR) (detour.env, client keys), stays, and is named.
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/detourd $(DESTDIR)$(PREFIX)/bin/detour-mock \
		$(DESTDIR)$(PREFIX)/lib/systemd/system/detour.service \
		$(DESTDIR)$(MANDIR)/man1/detour-mock.1 $(DESTDIR)$(MANDIR)/man5/detour.yaml.5 \
		$(DESTDIR)$(MANDIR)/man8/detourd.8 $(DESTDIR)$(SYSCONFDIR)/demo.yaml
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/detour
	@if cmp -s conf/detour.yaml $(DESTDIR)$(SYSCONFDIR)/detour.yaml; then \
		rm -f $(DESTDIR)$(SYSCONFDIR)/detour.yaml; \
	elif [ -e $(DESTDIR)$(SYSCONFDIR)/detour.yaml ]; then \
		echo "uninstall: kept $(DESTDIR)$(SYSCONFDIR)/detour.yaml: it was edited"; \
	fi
	@rmdir $(DESTDIR)$(SYSCONFDIR) 2>/dev/null || \
		{ [ -d $(DESTDIR)$(SYSCONFDIR) ] && echo "uninstall: kept $(DESTDIR)$(SYSCONFDIR), which still holds:" \
		  $$(ls -A $(DESTDIR)$(SYSCONFDIR)); } || true

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(MOCK_OBJ:.o=.d) $(UNIT_OBJ:.o=.d)
-include $(FUZZ_MOD_OBJ:.o=.d) $(FUZZ_BIN:=.d)
