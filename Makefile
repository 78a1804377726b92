# leadconduit — build, install, test, demo and the quality gates.
#
#   make [LUA_VERSION=5.4|5.3|5.2|5.1|jit]     build build/<ver>/leadconduit.so
#   make install PREFIX=/usr/local DESTDIR= standard Lua layout, bin/leadconduit, its man page and
#                                           bash completion, the LuaCATS annotations
#   make test                               deps, lint, the busted suite on every installed interpreter
#   make demo                               sync against the mock server and print a summary
#   make mock                               the mock server in the foreground, for your own tries

LUA_VERSION ?= 5.4
PREFIX      ?= /usr/local
DESTDIR     ?=

# Interpreter, pkg-config package and ABI directory (lib/lua/<abi>) per target.
ifeq ($(LUA_VERSION),jit)
  LUA_PKG := luajit
  LUA_BIN := luajit
  LUA_ABI := 5.1
else
  LUA_PKG := lua$(LUA_VERSION)
  LUA_BIN := lua$(LUA_VERSION)
  LUA_ABI := $(LUA_VERSION)
endif

# Every interpreter `make test` runs the suite under, when it is installed.
TEST_VERSIONS ?= 5.4 5.3 5.2 5.1 jit

# test-one needs pipefail.
SHELL := /bin/bash

PKG_CONFIG ?= pkg-config
CC         ?= cc
OPTFLAGS   ?= -O2
CFLAGS     ?= $(OPTFLAGS) -g
WARNFLAGS  := -std=c99 -Wall -Wextra -Werror -pedantic-errors -Wno-overlength-strings
# Where the headers and libraries are: pkg-config's answer, unless given (LuaRocks gives its own,
# see rockspec/). Lua modules resolve lua_* from the interpreter that loads them: never link liblua.
LUA_CFLAGS  ?= $(shell $(PKG_CONFIG) --cflags $(LUA_PKG))
CURL_CFLAGS ?= $(shell $(PKG_CONFIG) --cflags libcurl)
CURL_LIBS   ?= $(shell $(PKG_CONFIG) --libs libcurl)
# The decoder calls the Lua API a few times a token; -fno-plt makes each call one indirect jump
# through the GOT instead of a jump to a PLT stub that jumps again (twitter.json decodes about 2%
# faster, bench/README.md). Lua's loader binds every symbol at dlopen anyway (RTLD_NOW). Given
# only where the compiler takes it: an option it does not know would fail the build.
NO_PLT      := $(shell $(CC) -fno-plt -Werror -x c -c -o /dev/null /dev/null 2>/dev/null && echo -fno-plt)
MOD_CFLAGS   = $(WARNFLAGS) -fPIC -fvisibility=hidden $(NO_PLT) -pthread -D_GNU_SOURCE $(LUA_CFLAGS) $(CURL_CFLAGS)
MOD_LIBS     = $(CURL_LIBS) -lm -pthread

BUILD_DIR ?= build/$(LUA_VERSION)
MODULE    := $(BUILD_DIR)/leadconduit.so
SOURCES   := $(wildcard csrc/*.c)
HEADERS   := $(wildcard csrc/*.h)
OBJECTS   := $(SOURCES:csrc/%.c=$(BUILD_DIR)/%.o)
LUA_FILES := $(wildcard lua/leadconduit/*.lua)

# Where install puts things (DESTDIR is prepended, for staged installs; LuaRocks sets the INST_*).
INST_LIBDIR     ?= $(PREFIX)/lib/lua/$(LUA_ABI)
INST_LUADIR     ?= $(PREFIX)/share/lua/$(LUA_ABI)
INST_BINDIR     ?= $(PREFIX)/bin
INST_MANDIR     ?= $(PREFIX)/share/man/man1
INST_COMPDIR    ?= $(PREFIX)/share/bash-completion/completions
LUA_INTERPRETER ?= $(or $(shell command -v $(LUA_BIN)),/usr/bin/env $(LUA_BIN))

# Extra test and benchmark data, where a checkout has it beside it (CI does); the specs look for
# its files themselves (spec/support/shared.lua), LEADCONDUIT_SHARED=dir looks elsewhere.
SHARED := $(or $(LEADCONDUIT_SHARED),../shared)

.PHONY: all install uninstall rock clean deps deps-demo deps-test deps-check lint test test-one demo

all: $(MODULE)

$(BUILD_DIR)/%.o: csrc/%.c $(HEADERS) | $(BUILD_DIR)
	$(CC) $(CFLAGS) $(MOD_CFLAGS) -c -o $@ $<

$(MODULE): $(OBJECTS)
	$(CC) -shared $(CFLAGS) $(LDFLAGS) -o $@ $(OBJECTS) $(MOD_LIBS)

$(BUILD_DIR):
	mkdir -p $@

install: $(MODULE)
	install -d $(DESTDIR)$(INST_LIBDIR) $(DESTDIR)$(INST_LUADIR)/leadconduit $(DESTDIR)$(INST_BINDIR) \
	  $(DESTDIR)$(INST_MANDIR) $(DESTDIR)$(INST_COMPDIR)
	install -m 0755 $(MODULE) $(DESTDIR)$(INST_LIBDIR)/leadconduit.so
	install -m 0644 $(LUA_FILES) $(DESTDIR)$(INST_LUADIR)/leadconduit/
	install -m 0644 types/leadconduit.lua $(DESTDIR)$(INST_LUADIR)/leadconduit/types.lua
	install -m 0644 doc/leadconduit.1 $(DESTDIR)$(INST_MANDIR)/leadconduit.1
	install -m 0644 completions/leadconduit $(DESTDIR)$(INST_COMPDIR)/leadconduit
	sed -e '1s|^#!.*|#!$(LUA_INTERPRETER)|' \
	    -e 's|^-- @LEADCONDUIT_INSTALL_PATHS@$$|pinned = { lua = [==[$(INST_LUADIR)]==], lib = [==[$(INST_LIBDIR)]==] }|' \
	    bin/leadconduit > $(DESTDIR)$(INST_BINDIR)/leadconduit && chmod 0755 $(DESTDIR)$(INST_BINDIR)/leadconduit

uninstall:
	rm -f $(DESTDIR)$(INST_LIBDIR)/leadconduit.so $(DESTDIR)$(INST_BINDIR)/leadconduit
	rm -f $(DESTDIR)$(INST_MANDIR)/leadconduit.1 $(DESTDIR)$(INST_COMPDIR)/leadconduit
	rm -rf $(DESTDIR)$(INST_LUADIR)/leadconduit

# The LuaRocks build of this checkout, as rockspec/*.rockspec says to run it:
# make rock [LUA_VERSION=5.4] [ROCK_TREE=dir] (default: the user's tree, ~/.luarocks)
ROCKSPEC ?= rockspec/leadconduit-scm-1.rockspec
rock:
	luarocks make --lua-version=$(LUA_ABI) --deps-mode=none $(if $(ROCK_TREE),--tree=$(ROCK_TREE),--local) \
	  $(ROCKSPEC)

# Every build output lives under build/; a LuaRocks build writes there too (BUILD_DIR=build/rock).
# The two files of the root are what other build tools leave: a stray leadconduit.so in the
# checkout would be loaded by a later `lua` run from here.
clean:
	rm -rf build
	rm -f csrc/*.o leadconduit.so

# Installs missing Debian packages when run as root on Debian; otherwise says what is missing.
# Each target asks for the set it needs (.ci/install-deps): demo < test < check.
deps: deps-check
deps-demo deps-test deps-check: deps-%:
	@sh .ci/install-deps $*

# luacheck on every Lua file, cppcheck on the C, and the C layout of .clang-format.
C_FILES := $(wildcard csrc/*.c csrc/*.h spec/fuzz/*.c spec/fuzz/*.h) bench/curl_loop.c \
  .ci/asan_lua.c
lint: deps-test
	luacheck lua spec bench bin/leadconduit examples types
	clang-format --dry-run --Werror --style=file $(C_FILES)
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance --std=c99 \
	  --suppress=missingIncludeSystem --suppress=toomanyconfigs -I csrc $(shell $(PKG_CONFIG) --cflags-only-I $(LUA_PKG)) \
	  csrc bench/curl_loop.c

# The busted suite under one interpreter: make test-one LUA_VERSION=5.1
test-one: $(MODULE)
	@mkdir -p build/logs
	set -o pipefail; $(LUA_BIN) /usr/bin/busted --lpath='lua/?.lua;spec/?.lua' --cpath='$(BUILD_DIR)/?.so' \
	  spec 2>&1 | tee build/logs/busted-$(LUA_VERSION).log

# One closing line with the totals of the busted runs whose logs are given.
totals = sed 's/\x1b\[[0-9;]*m//g' $(1) | \
  awk '/ successes \/ .* failures \/ .* errors/ { p += $$1; f += $$4 + $$7 } \
       END { printf "%d passed, %d failed\n", p, f }'

# Names, once, the extra checks that had no ../shared data to run on (spec/support/shared.lua).
SKIPPED_EXTRAS = package.path = "spec/?.lua;" .. package.path; \
  for _, m in ipairs(require("support.shared").missing()) do print("== skipped, no data: " .. m) end

# Every installed interpreter, then one closing line with the totals of all the runs.
test: deps-test lint
	@rm -rf build/logs; passed=; failed=; for v in $(TEST_VERSIONS); do \
	  bin=lua$$v; [ $$v = jit ] && bin=luajit; \
	  if ! command -v $$bin >/dev/null 2>&1; then echo "== $$bin not installed: skipped"; continue; fi; \
	  echo "== busted under $$bin"; \
	  if $(MAKE) --no-print-directory test-one LUA_VERSION=$$v; then passed="$$passed $$v"; \
	  else failed="$$failed $$v"; fi; \
	done; echo "== suite passed under:$${passed:- none}$${failed:+; failed under:$$failed}"; \
	LEADCONDUIT_SHARED='$(SHARED)' $(LUA_BIN) -e '$(SKIPPED_EXTRAS)'; \
	$(call totals,build/logs/busted-*.log); \
	[ -n "$$passed" ] && [ -z "$$failed" ]

# The demo runs the library and the installed tool against the mock server.
DEMO_PREFIX := $(abspath build/demo-$(LUA_VERSION))
demo: deps-demo
	@$(MAKE) --no-print-directory install PREFIX=$(DEMO_PREFIX) >/dev/null
	LEADCONDUIT_PREFIX=$(DEMO_PREFIX) LUA_PATH='lua/?.lua;spec/?.lua;;' LUA_CPATH='$(BUILD_DIR)/?.so;;' \
	  $(LUA_BIN) examples/demo.lua

# The mock LeadConduit server for your own scripts and nginx configs, in the foreground until
# Ctrl-C or SIGTERM. It first prints three lines a shell can eval (LEADCONDUIT_BASE_URL,
# LEADCONDUIT_CA_FILE, LEADCONDUIT_API_KEY); README.md lists its scenarios.
.PHONY: mock
mock: deps-demo
	@LUA_PATH='spec/?.lua;;' lua5.4 spec/support/run_mock.lua

# bench/request.lua: sync_account vs the same request from a plain C libcurl loop.
BENCH_LOOP := build/bench/curl_loop
$(BENCH_LOOP): bench/curl_loop.c
	mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -std=c99 -Wall -Wextra -Werror -D_GNU_SOURCE -o $@ $< $(MOD_LIBS)

# The benchmarks reach the module, the spec support (mock server, sys) and bench/stats.lua.
BENCH_ENV = LUA_PATH='lua/?.lua;spec/?.lua;bench/?.lua;;' LUA_CPATH='$(BUILD_DIR)/?.so;;'

.PHONY: bench-decode bench-request bench-request-breakdown
bench-request bench-request-breakdown: bench-%: deps-test $(MODULE) $(BENCH_LOOP)
	$(BENCH_ENV) $(LUA_BIN) bench/$(subst -,_,$*).lua $(BENCH_LOOP) $(ROUNDS) $(N)

# bench/gate.lua: a feature gate on account_cache vs the same location ungated, with wrk (which
# this target alone needs, and installs when it can).
.PHONY: bench-gate
bench-gate: deps-test
	@command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null || \
	  { echo "bench-gate needs wrk: apt-get install wrk"; exit 1; }
	$(BENCH_ENV) lua5.4 bench/gate.lua $(ROUNDS)

# bench/nginx.lua: syncs per request inside nginx, leadconduit vs lua-resty-http + cjson (loaded in
# place from ../shared/anchors; skipped with a message without them), with wrk.
.PHONY: bench-nginx
bench-nginx: deps-test
	@command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null || \
	  { echo "bench-nginx needs wrk: apt-get install wrk"; exit 1; }
	$(BENCH_ENV) lua5.4 bench/nginx.lua $(or $(ROUNDS),3) 5

bench-decode: deps-test $(MODULE)
	$(BENCH_ENV) $(LUA_BIN) bench/decode.lua $(ROUNDS)

# The same corpora counted in instructions by callgrind: stable where wall time is not.
.PHONY: bench-decode-instructions
bench-decode-instructions: deps-test $(MODULE)
	$(BENCH_ENV) lua5.4 bench/decode_instructions.lua $(LUA_BIN) $(BUILD_DIR)

# ---- Decoder quality gates ---------------------------------------------------------------
#   make fuzz [FUZZ_SECONDS=30] [FUZZ_LUA=lua5.1]  each libFuzzer target of spec/fuzz/ for FUZZ_SECONDS,
#                                seeded from fixtures and JSONTestSuite (lua5.1 exercises its
#                                8000-slot C stack limit): decode_fuzz (the decoder's contract),
#                                roundtrip_fuzz (decode -> encode -> decode gives the same value,
#                                inputs up to 1 MiB), encode_fuzz (arbitrary strings and numbers)
#   make bench                   every bench/*.lua, each printing ratios measured in the same run
#   make sanitize                the whole busted suite, module built with ASan+UBSan (build/asan)
#   make check-portable          the decoder, encoder and RFC 8259 specs, module built without SSE2,
#                                little-endian word reads or x86 division (build/portable)
#   make valgrind [VALGRIND_SPECS=...]  the busted suite (or the given specs) under valgrind; leaks are errors
#   make check                   test + sanitize + valgrind + check-portable + fuzz (30 s per
#                                target, then 15 s each on Lua 5.1)
FUZZ_SECONDS   ?= 30
FUZZ_DIR       := build/fuzz
FUZZ_LUA       ?= lua5.4
FUZZ_TARGETS   := decode_fuzz roundtrip_fuzz encode_fuzz
FUZZ_BINS      := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/%-$(FUZZ_LUA))
FUZZ_CSRC      := csrc/decode.c csrc/string_cache.c csrc/number.c csrc/encode.c
# The longest input per target: the round trip takes whole documents (repeated_keys.json is 500 KB).
FUZZ_MAX_LEN_decode_fuzz    := 65536
FUZZ_MAX_LEN_roundtrip_fuzz := 1048576
FUZZ_MAX_LEN_encode_fuzz    := 65536
FUZZ_SEEDS      = spec/fixtures $(wildcard spec/fuzz/regressions) \
                  $(wildcard $(SHARED)/conformance/JSONTestSuite $(SHARED)/conformance/JSONTestSuite-transform)
SAN_FLAGS      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
ASAN_DIR       := build/asan
# intercept_tls_get_addr=0: up to GCC 13, ASan's __tls_get_addr hook takes a dynamic TLS block
# that happens to start 16 bytes into a page for a pre-2.25 glibc block and records the two words
# before it as the block's range; LeakSanitizer then faults scanning that range at exit ("Tracer
# caught signal 11", google/sanitizers#1322), depending only on where malloc put the block. The
# cost is that dynamic TLS is not scanned for pointers; nothing of ours lives there.
ASAN_RUNTIME   := ASAN_OPTIONS=detect_leaks=1:intercept_tls_get_addr=0
VALGRIND_SPECS ?= spec
BUSTED_ARGS     = --lpath='lua/?.lua;spec/?.lua' --cpath='$(BUILD_DIR)/?.so'

.PHONY: fuzz bench sanitize valgrind check check-portable

$(FUZZ_DIR)/%-$(FUZZ_LUA): spec/fuzz/%.c spec/fuzz/same_value.h $(FUZZ_CSRC) $(HEADERS)
	mkdir -p $(FUZZ_DIR)
	clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE \
	  $(WARNFLAGS) $(shell $(PKG_CONFIG) --cflags $(FUZZ_LUA)) -o $@ $< $(FUZZ_CSRC) \
	  $(shell $(PKG_CONFIG) --libs $(FUZZ_LUA)) -lm

# Each target in turn, for FUZZ_SECONDS each. New inputs go to build/fuzz/corpus-<target>; a
# crash leaves build/fuzz/<target>-crash-*: add it to spec/fuzz/regressions/, where
# decode_spec.lua replays every file (an encode_fuzz input is not JSON: its first byte is the shape).
# Each input starts with an empty key cache (spec/fuzz/same_value.h), so a crash comes back from
# its file alone.
# libFuzzer's progress lines go to build/fuzz/<target>.log: its totals are shown, or its end on a
# failure; every target runs even when one fails, then the failed ones are named.
fuzz: deps-check $(FUZZ_BINS)
	@failed=; for t in $(foreach t,$(FUZZ_TARGETS),$(t):$(FUZZ_MAX_LEN_$(t))); do \
	  len=$${t#*:}; t=$${t%:*}; log=$(FUZZ_DIR)/$$t.log; mkdir -p $(FUZZ_DIR)/corpus-$$t; \
	  echo "== $$t ($(FUZZ_LUA)) for $(FUZZ_SECONDS) s, inputs up to $$len bytes (log: $$log)"; \
	  $(FUZZ_DIR)/$$t-$(FUZZ_LUA) -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -max_len=$$len \
	    -dict=spec/fuzz/json.dict -artifact_prefix=$(FUZZ_DIR)/$$t- -print_final_stats=1 \
	    $(FUZZ_DIR)/corpus-$$t $(FUZZ_SEEDS) >$$log 2>&1; \
	  if [ $$? = 0 ]; then grep -E '^(Done|stat::)' $$log; else tail -n 60 $$log; failed="$$failed $$t"; fi; \
	done; if [ -n "$$failed" ]; then echo "== fuzz failed:$$failed"; exit 1; fi

# The fuzz targets again on Lua 5.1, whose C stack limit (8000 slots) the decoder must respect.
.PHONY: fuzz-5.1
fuzz-5.1:
	@$(MAKE) --no-print-directory fuzz FUZZ_LUA=lua5.1 FUZZ_SECONDS=$(FUZZ_SECONDS_5.1)
FUZZ_SECONDS_5.1 ?= 15

bench: bench-decode bench-request bench-request-breakdown bench-gate bench-nginx

# The ASan runtime is linked into a small lua5.4 (.ci/asan_lua.c) put first in PATH rather
# than preloaded into /usr/bin/lua5.4: LD_PRELOAD would be inherited by the mock server's nginx.
sanitize: deps-check
	$(MAKE) --no-print-directory all LUA_VERSION=5.4 BUILD_DIR=$(ASAN_DIR) CFLAGS='-O1 -g $(SAN_FLAGS)' \
	  LDFLAGS='$(SAN_FLAGS)'
	mkdir -p $(ASAN_DIR)/bin
	$(CC) -O1 -g $(SAN_FLAGS) $(WARNFLAGS) $(shell $(PKG_CONFIG) --cflags lua5.4) -o $(ASAN_DIR)/bin/lua5.4 \
	  .ci/asan_lua.c $(shell $(PKG_CONFIG) --libs lua5.4)
	mkdir -p build/logs
	set -o pipefail; PATH='$(abspath $(ASAN_DIR)/bin)':"$$PATH" $(ASAN_RUNTIME) \
	  LSAN_OPTIONS=suppressions='$(abspath .ci/lsan.supp)' UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  lua5.4 /usr/bin/busted --lpath='lua/?.lua;spec/?.lua' --cpath='$(ASAN_DIR)/?.so' spec 2>&1 | \
	  tee build/logs/sanitize.log

# The conditional paths of the scanners, UTF-8 runs, digits and division (compat.h, LC_PORTABLE)
# that an x86-64 build leaves out, built and run: every branch is compiled and tested somewhere.
PORTABLE_DIR   := build/portable
PORTABLE_SPECS := spec/decode_spec.lua spec/encode_spec.lua spec/rfc8259_spec.lua
check-portable: deps-check
	$(MAKE) --no-print-directory all LUA_VERSION=5.4 BUILD_DIR=$(PORTABLE_DIR) \
	  CFLAGS='$(OPTFLAGS) -g -U__SSE2__ -DLC_PORTABLE'
	mkdir -p build/logs
	set -o pipefail; lua5.4 /usr/bin/busted --lpath='lua/?.lua;spec/?.lua' --cpath='$(PORTABLE_DIR)/?.so' \
	  $(PORTABLE_SPECS) 2>&1 | tee build/logs/portable.log

valgrind: deps-check $(MODULE)
	mkdir -p build/logs
	set -o pipefail; valgrind -q --leak-check=full --error-exitcode=1 $(LUA_BIN) /usr/bin/busted $(BUSTED_ARGS) \
	  $(VALGRIND_SPECS) 2>&1 | tee build/logs/valgrind.log

# Everything CI runs; the closing line totals every busted run (5 interpreters, ASan, valgrind,
# the portable build).
check: test sanitize valgrind check-portable fuzz fuzz-5.1
	@$(call totals,build/logs/*.log)
