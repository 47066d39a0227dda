//! cram-core's integration tests, one module per file, linked into one test binary (each binary
//! links the whole crate and burn: one link instead of one per file). Run a part with a filter on
//! its module: `cargo test -p cram-core --test all reference::` (or `reference::wgpu` for the
//! transformers cases on wgpu). `common` holds the helpers the modules share.
//!
//! Two files stay binaries of their own (core/Cargo.toml): `tokenizer_memory.rs` installs a
//! `#[global_allocator]` that counts the bytes each thread holds, which would count (and slow) every
//! other test's allocations; `hub.rs` changes the process environment (`HF_HOME`, `HF_ENDPOINT`,
//! ...), which is unsound while other tests run on other threads and would send their hub lookups
//! to its loopback server.

mod common;

mod batch;
mod checkpoint_layouts;
mod encoder;
mod geometry;
mod kv_cache;
mod mamba;
mod messages;
mod methods;
mod one_pass;
mod reference;
mod robustness;
mod sharded;
mod smollm2;
mod start;
mod tokenizer_fingerprint;
mod wgpu_roundtrip;
