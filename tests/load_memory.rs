//! Loading a model must not allocate far beyond what the model needs: in wasm a failed
//! allocation aborts the module, and natively the fuzzers treat 2 GB as a crash.
//!
//! This binary counts the bytes live on the heap (its own global allocator) and checks the peak
//! while loading models whose constants fold into tensors of 2^27 values (512 MiB): tract's
//! eager evaluation built such a tensor while typing the model and only then dropped it for
//! being over its folding budget. The analysis now asks the operator's rules for the output
//! shape first and skips that evaluation (src/load/analysis.rs, `folds_over_budget`).

use saliency::error::ErrorKind;
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, layout, new_size) };
        if !q.is_null() {
            if new_size >= layout.size() {
                let live = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                    - layout.size();
                PEAK.fetch_max(live, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Tests in this binary run one at a time so that each peak is its own.
static SERIAL: Mutex<()> = Mutex::new(());

/// Loads a probe model; returns the result and the peak heap growth while loading, in bytes.
fn load_peak(name: &str) -> (saliency::error::Result<saliency::Model>, usize) {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/probes")
        .join(format!("{name}.onnx"));
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let model = saliency::Model::load(&bytes, None);
    (model, PEAK.load(Ordering::Relaxed) - before)
}

const MIB: usize = 1 << 20;

#[test]
fn folding_constants_into_a_huge_tensor_is_refused_without_building_it() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for name in [
        "fold_expand_huge",
        "fold_mul_bcast_huge",
        "fold_resize_huge",
    ] {
        let (model, peak) = load_peak(name);
        let e = model.err().unwrap_or_else(|| panic!("{name}: loaded"));
        // The folded tensor (2^27 values) is an intermediate tensor now, and over the bound on
        // all of them together.
        assert_eq!(e.kind, ErrorKind::Limit, "{name}: {e}");
        assert!(
            e.message().contains("intermediate tensors hold 1342179"),
            "{name}: {e}"
        );
        assert!(
            peak < 64 * MIB,
            "{name}: {} MiB live at the peak",
            peak / MIB
        );
    }
}

#[test]
fn small_constants_still_fold_while_loading() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // A bundled net with the usual shape arithmetic around its Flatten/Reshape: it must still
    // load (its small constants fold as before) and within a modest peak.
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/mnist_cam.onnx");
    let bytes = std::fs::read(&p).unwrap();
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let model = saliency::Model::load(&bytes, None).expect("bundled model loads");
    let peak = PEAK.load(Ordering::Relaxed) - before;
    assert_eq!(model.classes, 10);
    assert!(peak < 64 * MIB, "{} MiB live at the peak", peak / MIB);
}
