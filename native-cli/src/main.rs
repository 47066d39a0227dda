//! `cram`: cram a text into a frozen language model's input vectors and get it back.
//!
//! `main` parses the flags and calls one function per subcommand; every error is printed once, with
//! its causes, in the CLI's words ([`errors`]), and exits with status 2. A run whose texts did not
//! all come back exits with 1.

/// `println!` that never panics: a closed standard output (`cram ... | head`) must not abort a run
/// whose results are already written (`println!` panics when the write fails).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `print!` that never panics (see [`outln!`]).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

/// `eprintln!` that never panics: progress and warnings go to standard error, which may be closed
/// (`2>&1 | head`) or unwritable while the run goes on.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod cli;
mod commands;
mod errors;
mod host_memory;
mod model;
mod progress;
mod recipe;
mod report;
mod results;
mod sweep;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: each optimiser step allocates and frees the same large
/// buffers (the logits alone are 50 MB at 256 tokens), which glibc hands back to the kernel and
/// faults in again, zeroed, on the next step. mimalloc keeps them, once told not to purge freed
/// memory (by default it does so after 10 ms, which is shorter than a step).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h (the same index in mimalloc v2 and v3); -1 = never purge.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> ExitCode {
    // SAFETY: sets one mimalloc option before any thread is started; mimalloc reads it on each purge.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    let args = cli::Cli::parse();
    match run(args) {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            errln!("error: {}", errors::words(&err));
            ExitCode::from(2)
        }
    }
}

/// Runs the subcommand.
fn run(cli: cli::Cli) -> anyhow::Result<ExitCode> {
    use commands::{bench, capacity, compare, compress, data, decompress, encoder, info, plan, reproduce, score, start, zip};
    match cli.command {
        cli::Command::Info(a) => info::run(a),
        cli::Command::Score(a) => score::run(a),
        cli::Command::Compress(a) => compress::run(a),
        cli::Command::Decompress(a) => decompress::run(a),
        cli::Command::Zip(a) => zip::zip(a),
        cli::Command::Unzip(a) => zip::unzip(a),
        cli::Command::Capacity(a) => capacity::run(a),
        cli::Command::Compare(a) => compare::run(a),
        cli::Command::Merge(a) => capacity::merge(a),
        cli::Command::Bench(a) => bench::run(a),
        cli::Command::Plan(a) => plan::run(a),
        cli::Command::Data(a) => data::run(a),
        cli::Command::Reproduce(a) => reproduce::run(a),
        cli::Command::Encoder(c) => encoder::run(c),
        cli::Command::Start(c) => start::run(c),
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}
