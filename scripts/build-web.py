#!/usr/bin/env python3
"""Builds the wasm module(s) for the viewer with the settings in wasm-pack.toml.

For [build] and each [[variant]]:
    cargo build --lib --target wasm32-unknown-unknown --profile <profile>   (RUSTFLAGS for wasm32 only)
    wasm-bindgen --target <target> --out-dir <out-dir> --out-name <out-name> <flags> target/.../saliency.wasm

`--print-env` prints the cargo environment of [build] (for scripts/test-wasm.sh);
`--only-main` skips the variants (and removes a stale one: `make serve` builds only the main
module, which every browser runs).
"""
import os, pathlib, shlex, subprocess, sys, tomllib

root = pathlib.Path(__file__).resolve().parent.parent
conf = tomllib.loads((root / "wasm-pack.toml").read_text())
main = conf["build"]
env_var = "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS"

if "--print-env" in sys.argv:
    print(f"export {env_var}={shlex.quote(' '.join(main.get('rustflags', [])))}")
    print(f"export SALIENCY_WASM_PROFILE={shlex.quote(main['profile'])}")
    sys.exit(0)


def build(cfg):
    cfg = {**main, **cfg}
    env = dict(os.environ, **{env_var: " ".join(cfg.get("rustflags", []))})
    target_dir = root / cfg.get("target-dir", "target")
    env["CARGO_TARGET_DIR"] = str(target_dir)
    profile = cfg["profile"]
    subprocess.run(["cargo", "build", "--lib", "--target", "wasm32-unknown-unknown", "--profile", profile], cwd=root, env=env, check=True)
    wasm = target_dir / "wasm32-unknown-unknown" / ("release" if profile == "release" else profile) / "saliency.wasm"
    # The module must not be a linker "command", which runs tract's ~150 static constructors
    # again at the start of every exported function (src/wasm.rs: init).
    if b".command_export" in wasm.read_bytes():
        sys.exit(f"{wasm}: exports are wrapped to run the static constructors on every call; "
                 "src/wasm.rs must call __wasm_call_ctors itself (init)")
    out = root / cfg["out-dir"]
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(["wasm-bindgen", "--target", cfg["target"], "--out-dir", str(out), "--out-name", cfg["out-name"], "--no-typescript",
                    *cfg.get("wasm-bindgen-args", []), str(wasm)], cwd=root, check=True)
    size = (out / f"{cfg['out-name']}_bg.wasm").stat().st_size
    print(f"built {out.relative_to(root)}/{cfg['out-name']}_bg.wasm ({size / 1e6:.1f} MB)", flush=True)


build({})
for v in conf.get("variant", []):
    if "--only-main" not in sys.argv:
        build({k: v[k] for k in v if k != "name"})
    elif (root / v["out-dir"]).exists():
        # A variant left from an earlier full build would be stale beside the new main module,
        # and the worker would prefer it: remove it (the worker then falls back to the main one).
        import shutil
        shutil.rmtree(root / v["out-dir"])
        print(f"removed {v['out-dir']} (stale beside this build; `make build` rebuilds it)", flush=True)
