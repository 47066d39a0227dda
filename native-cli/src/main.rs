//! `cram`: cram a text into a frozen language model's input vectors and get it back.
//!
//! `main` parses the flags and calls one function per subcommand; every error is printed once, with
//! its causes, and exits with status 2. A run whose texts did not all come back exits with 1.

mod cli;
mod commands;
mod progress;
mod report;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: each optimiser step allocates and frees the same large
/// buffers, which glibc hands back to the kernel and faults in again, zeroed, on the next step.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match commands::run(args) {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}
