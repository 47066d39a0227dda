//! A tokenizer leaves no memory behind once dropped. `tokenizers` 0.23 keeps each BPE model's word
//! cache in a thread-local map that outlives the model, so every tokenizer that encoded a text used to
//! leave its cached words behind (found by the `gguf_tokenizer` fuzz target, whose memory grew by
//! 2.4 GB over 10 M inputs); cram turns that cache off (`tokenizer::without_bpe_cache`).
//!
//! The bytes each thread holds are counted by this binary's allocator: a loop on its own thread
//! loads a tokenizer, encodes a text of distinct words, drops it, and must end holding what it held
//! after a warm-up.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use cram_core::tokenizer::Tokenizer;
use cram_core::tokenizer::gguf::tokenizer_from_gguf;
use cram_core::weights::gguf::GgufFile;

thread_local! {
    /// Bytes allocated minus bytes freed on this thread.
    static HELD: Cell<isize> = const { Cell::new(0) };
}

fn count(bytes: isize) {
    // `try_with`: allocations while the thread's locals are being torn down are not counted.
    let _ = HELD.try_with(|held| held.set(held.get() + bytes));
}

/// The system allocator, counting the bytes each thread holds.
struct PerThread;

unsafe impl GlobalAlloc for PerThread {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            count(layout.size() as isize);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            count(layout.size() as isize);
        }
        ptr
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        new
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        count(-(layout.size() as isize));
    }
}

#[global_allocator]
static ALLOCATOR: PerThread = PerThread;

const WARM_UP: usize = 5;
const ROUNDS: usize = 100;

/// 300 distinct lower-case words: with the cache on, each would stay behind as a cached word.
fn distinct_words() -> String {
    let letters: Vec<char> = ('a'..='z').collect();
    (0..300).map(|i| format!("{}{}{}", letters[i % 26], letters[(i / 26) % 26], letters[(i / 7) % 26])).collect::<Vec<_>>().join(" ")
}

/// Bytes this thread still holds per round after `ROUNDS` rounds of `load` + encode + drop.
fn held_per_round(load: impl Fn() -> Tokenizer + Send + 'static) -> isize {
    std::thread::spawn(move || {
        let text = distinct_words();
        let round = || {
            let tokenizer = load();
            let ids = tokenizer.encode(&text).expect("encodes");
            assert!(ids.len() >= 300, "{} ids", ids.len());
        };
        (0..WARM_UP).for_each(|_| round());
        let before = HELD.with(Cell::get);
        (0..ROUNDS).for_each(|_| round());
        (HELD.with(Cell::get) - before) / ROUNDS as isize
    })
    .join()
    .expect("the counting thread")
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/llama_gguf/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn a_dropped_tokenizer_leaves_no_memory_behind() {
    // From GGUF metadata: the BPE model is built without a cache, so nothing at all is left.
    let gguf = fixture("tiny-llama.gguf");
    let per_round = held_per_round(move || {
        let file = GgufFile::read(&gguf[..]).expect("the fixture reads");
        Tokenizer::new(tokenizer_from_gguf(&file).expect("the fixture's tokenizer builds"))
    });
    assert!(per_round <= 16, "a GGUF tokenizer left {per_round} bytes behind per load and encode");

    // From a tokenizer.json: the cache gets capacity 0, which still leaves one empty map entry
    // (about a hundred bytes) per model; with the cache on, the 300 words would leave kilobytes.
    let json = fixture("tokenizer.json");
    let per_round = held_per_round(move || Tokenizer::from_json_bytes(&json, "tokenizer.json").expect("the fixture parses"));
    assert!(per_round <= 256, "a tokenizer.json tokenizer left {per_round} bytes behind per load and encode");
}
