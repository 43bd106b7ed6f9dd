# VBM365 Auth — developer commands. `make help` lists them.
.PHONY: help setup build test demo demo-cli bench soak fmt lint deb windows windows-test

help:
	@echo "make demo      build, start the emulators and open the desktop app with a demo tenant"
	@echo "make demo-cli  build, start the emulators and walk through the sign-in with the CLI"
	@echo "make test      install what is missing, fmt + clippy + all tests (what CI runs)"
	@echo "make bench     benchmarks: prints a table of measured figures"
	@echo "make soak      10-minute fault soak: app + 3 CLIs, 50 tenants (VBM365_SOAK_SECS=600)"
	@echo "make deb       build the .deb package"
	@echo "make windows   cross-build the Windows zip and NSIS installer (dist/windows/)"
	@echo "make windows-test  Windows lint, and the core and CLI tests cross-built and run under Wine"

setup:
	scripts/setup

build: setup
	cargo build --workspace --locked

test:
	scripts/test

demo-cli: setup
	scripts/demo-cli

demo: setup
	scripts/demo

bench: setup
	scripts/bench

soak: setup
	scripts/bench soak

fmt:
	cargo fmt --all

lint:
	cargo clippy --workspace --all-targets --locked -- -D warnings

deb: setup
	scripts/package

windows: setup
	scripts/windows/package

windows-test: setup
	scripts/windows/test
