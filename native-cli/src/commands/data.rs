//! `cram data`: the evaluation texts of the paper, made reproducibly (see data/README.md).

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use cram_core::data::{books, jsonl, load_texts, random_words};
use cram_core::format::write_atomic;

use crate::cli::DataCommand;

pub fn run(cmd: DataCommand) -> Result<ExitCode> {
    match cmd {
        DataCommand::Books(a) => {
            super::check_output(&a.out)?;
            let mut texts = load_texts(&a.books)?;
            if let Some(m) = a.books_limit {
                texts.truncate(m);
            }
            let chunks = books::chunk_books(&texts, a.chunks_per_book, a.words, a.seed);
            if chunks.is_empty() {
                bail!("{}: no book was long enough for chunks of {} words", a.books.display(), a.words);
            }
            write_atomic(&a.out, jsonl::to_jsonl(&chunks)?.as_bytes())?;
            errln!("wrote {} chunk(s) to {}", chunks.len(), a.out.display());
        }
        DataCommand::RandomWords(a) => {
            super::check_output(&a.out)?;
            let text = std::fs::read_to_string(&a.vocab).with_context(|| format!("cannot read {}", a.vocab.display()))?;
            let vocab = random_words::parse_vocab(&text);
            let texts = random_words::random_word_texts(&vocab, a.count, a.words, a.seed)?;
            write_atomic(&a.out, jsonl::to_jsonl(&texts)?.as_bytes())?;
            errln!("wrote {} text(s) to {}", texts.len(), a.out.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
