# shellcheck shell=bash
# Shared by scripts/demo and scripts/demo-cli (sourced, not run): where cargo put the binaries, and
# starting the emulators with a clear error, and their log, when they do not come up.

# The cargo target directory: `cargo metadata` knows CARGO_TARGET_DIR and `build.target-dir` of
# .cargo/config.toml; without it (no cargo?) CARGO_TARGET_DIR or ./target.
cargo_target_dir() {
  local meta
  if meta=$(cargo metadata --format-version 1 --no-deps --locked 2>/dev/null) &&
    [[ $meta =~ \"target_directory\":\"([^\"]+)\" ]]; then
    printf '%s\n' "${BASH_REMATCH[1]}"
  else
    printf '%s\n' "${CARGO_TARGET_DIR:-target}"
  fi
}

# start_emulator BIN_DIR WORK_DIR [ARGS...]: starts `vbm365-emulator ARGS... $VBM365_EMULATOR_ARGS`
# in the background (its stdout in WORK_DIR/emulator.json, its log in WORK_DIR/emulator.log) and
# waits up to 15 s for the line it prints once both servers listen. Sets emu_pid, ms_url, vbm_url
# and cert_sha256. If the emulator exits or stays silent, prints why and its log, and exits 1.
# VBM365_EMULATOR_ARGS adds arguments, e.g. "--ms-port 8400" or "--fault throttled=2".
start_emulator() {
  local bin=$1 work=$2
  shift 2
  local extra=()
  # shellcheck disable=SC2206 # word splitting is the point: several arguments in one variable
  [ -z "${VBM365_EMULATOR_ARGS:-}" ] || extra=($VBM365_EMULATOR_ARGS)
  "$bin/vbm365-emulator" "$@" "${extra[@]}" >"$work/emulator.json" 2>"$work/emulator.log" &
  emu_pid=$!
  local line="" why=""
  for _ in $(seq 150); do
    line=$(head -n 1 "$work/emulator.json" 2>/dev/null || true)
    if [[ $line =~ \"ms_url\":\"([^\"]+)\" ]]; then
      ms_url=${BASH_REMATCH[1]}
      if [[ $line =~ \"vbm_url\":\"([^\"]+)\" ]]; then
        vbm_url=${BASH_REMATCH[1]}
        if [[ $line =~ \"cert_sha256\":\"([0-9a-f]+)\" ]]; then
          cert_sha256=${BASH_REMATCH[1]}
          return 0
        fi
      fi
    fi
    if ! kill -0 "$emu_pid" 2>/dev/null; then
      local status=0
      wait "$emu_pid" || status=$?
      why="it exited with status $status"
      break
    fi
    sleep 0.1
  done
  if [ -z "$why" ]; then
    why="it did not report its addresses within 15 s"
    kill "$emu_pid" 2>/dev/null || true
    wait "$emu_pid" 2>/dev/null || true
  fi
  {
    echo "error: the emulators did not start: $why."
    echo "Command: $bin/vbm365-emulator $*${extra[*]:+ ${extra[*]}}"
    if [ -s "$work/emulator.log" ]; then
      echo "Emulator log:"
      sed 's/^/  /' "$work/emulator.log"
    else
      echo "The emulator wrote nothing to its log."
    fi
    if [ -n "$line" ]; then
      echo "It printed: $line"
    fi
  } >&2
  exit 1
}
