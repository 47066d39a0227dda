//! `cram score`: how well the model alone predicts a text.

use std::process::ExitCode;

use anyhow::Result;
use cram_core::score::score_text;

use crate::cli::ScoreArgs;

pub fn run(args: ScoreArgs) -> Result<ExitCode> {
    let text = super::read_text(args.input.path())?;
    let lm = super::load_model(&args.model)?;
    let ids = super::tokens_of(&lm, &text, args.input.tokens)?;
    let s = score_text(&lm.model, &ids)?;
    if args.json {
        outln!("{}", serde_json::to_string(&s)?);
    } else {
        outln!("tokens               {}", s.tokens);
        outln!("nll                  {:.4} nats/token ({:.4} bits)", s.nll_nats_per_token, s.nll_bits_per_token);
        outln!("next-token accuracy  {:.4}", s.next_token_accuracy);
    }
    Ok(ExitCode::SUCCESS)
}
