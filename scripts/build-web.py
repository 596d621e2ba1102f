#!/usr/bin/env python3
"""Builds the wasm module for the viewer with the settings in wasm-pack.toml.

    cargo build --lib --target wasm32-unknown-unknown --profile <profile>   (RUSTFLAGS for wasm32 only)
    wasm-bindgen --target <target> --out-dir <out-dir> --out-name <out-name> target/.../saliency.wasm

`--print-env` prints the cargo environment (for scripts/test-wasm.sh).
"""
import os, pathlib, shlex, subprocess, sys, tomllib

root = pathlib.Path(__file__).resolve().parent.parent
cfg = tomllib.loads((root / "wasm-pack.toml").read_text())["build"]
env_var = "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS"
flags = " ".join(cfg.get("rustflags", []))

if "--print-env" in sys.argv:
    print(f"export {env_var}={shlex.quote(flags)}")
    print(f"export SALIENCY_WASM_PROFILE={shlex.quote(cfg['profile'])}")
    sys.exit(0)

env = dict(os.environ, **{env_var: flags})
profile = cfg["profile"]
subprocess.run(["cargo", "build", "--lib", "--target", "wasm32-unknown-unknown", "--profile", profile], cwd=root, env=env, check=True)
wasm = root / "target" / "wasm32-unknown-unknown" / ("release" if profile == "release" else profile) / "saliency.wasm"
out = root / cfg["out-dir"]
out.mkdir(parents=True, exist_ok=True)
subprocess.run(["wasm-bindgen", "--target", cfg["target"], "--out-dir", str(out), "--out-name", cfg["out-name"], "--no-typescript", *cfg.get("wasm-bindgen-args", []), str(wasm)], cwd=root, check=True)
size = (out / f"{cfg['out-name']}_bg.wasm").stat().st_size
print(f"built {out.relative_to(root)}/{cfg['out-name']}_bg.wasm ({size / 1e6:.1f} MB)")
