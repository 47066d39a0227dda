//! The end-to-end tests of the `cram` binary, one module per file, linked into one test binary
//! (each binary links cram-core and burn: one link instead of seven). Run a part with a filter on
//! its module, e.g. `cargo test -p cram-tests --test all sweeps::`. The helpers they share are the
//! `cram_tests` library (`tests/src`).

mod cli;
mod docs;
mod encoder;
mod families;
mod layering;
mod methods;
mod one_pass;
mod real_model;
mod start;
mod sweeps;
