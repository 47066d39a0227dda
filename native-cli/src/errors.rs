//! The CLI's words for errors. Core names the settings at fault plainly and carries them typed
//! ([`cram_core::Error::Setting`], a [`ConfigError`]); here they become the flags that set them, so a
//! message tells the user which flag to change. `main` prints every error through [`words`].

use cram_core::methods::{ConfigError, Setting};

/// The flag that sets `setting`.
pub fn flag(setting: Setting) -> &'static str {
    match setting {
        Setting::Method => "--method",
        Setting::Mem => "--mem",
        Setting::Rank => "--rank",
        Setting::LoraAlpha => "--lora-alpha",
        Setting::StepsPerToken => "--steps-per-token",
        Setting::Layout => "--layout",
        Setting::Protocol => "--protocol",
        Setting::Checkpoint => "--checkpoint",
        Setting::MaxSteps => "--max-steps",
        Setting::Lr => "--lr",
        Setting::Beta1 => "--beta1",
        Setting::Beta2 => "--beta2",
        Setting::Eps => "--eps",
        Setting::WeightDecay => "--weight-decay",
        Setting::InitStd => "--init-std",
        Setting::Init => "--init",
        Setting::Batch => "--batch",
        Setting::Model => "--model",
        Setting::Tokens => "--tokens",
        Setting::Layers => "--layers",
        Setting::EncoderLora => "--encoder-lora",
        Setting::Beta => "--beta",
        Setting::Dropout => "--dropout",
        Setting::TestFraction => "--test-fraction",
        Setting::Chunks => "--chunks",
        Setting::Epochs => "--epochs",
        Setting::Reg => "--reg",
        Setting::Targets => "--targets",
        Setting::TextField => "--text-field",
        Setting::Dtype => "--dtype",
    }
}

/// A core setting error in the CLI's words: the settings by their flags, and where a command of
/// the CLI is the way out, that command.
pub fn describe(e: &ConfigError) -> String {
    match e {
        ConfigError::EncoderFileNotCram { path } => {
            format!("{path}: this is an encoder file (`cram encoder train`), not a .cram file: `cram encoder eval --encoder` tests it")
        }
        ConfigError::SharedMWithoutStart => {
            format!("{}: `cram start train --method one-pass` makes one", e.describe(flag))
        }
        other => other.describe(flag),
    }
}

/// An error and its causes as `{:#}` prints them (`outer: cause: ...`), with core's setting errors
/// in the CLI's words.
pub fn words(err: &anyhow::Error) -> String {
    err.chain()
        .map(|e| {
            if let Some(cram_core::Error::Setting(c)) = e.downcast_ref::<cram_core::Error>() {
                describe(c)
            } else if let Some(c) = e.downcast_ref::<ConfigError>() {
                describe(c)
            } else {
                e.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(": ")
}

#[cfg(test)]
mod tests {
    use anyhow::Context;
    use cram_core::Error;
    use cram_core::methods::{CramConfig, Layout, Method, Protocol, VectorInit};
    use cram_core::models::lora::LoraTarget;
    use cram_core::optim::adamw::AdamWConfig;
    use cram_core::optim::schedule::Schedule;

    use super::*;

    /// The CLI's words for each reason, as the checks wrote them before they were typed.
    #[test]
    fn config_errors_in_the_cli_words() {
        let lora = Method::Lora { rank: 1, targets: vec![LoraTarget::Q], alpha: 1.0 };
        let base = CramConfig::default();
        let cases: Vec<(CramConfig, &str)> = vec![
            (CramConfig { method: lora.clone(), ..base.clone() }, "--method lora trains adapters instead of memory vectors; drop --mem"),
            (CramConfig { method: Method::Lora { rank: 0, targets: vec![LoraTarget::Q], alpha: 1.0 }, mem: 0, ..base.clone() }, "--rank must be at least 1"),
            (
                CramConfig { method: Method::Lora { rank: 1, targets: vec![LoraTarget::Q], alpha: 0.0 }, mem: 0, ..base.clone() },
                "--lora-alpha must be a positive number",
            ),
            (
                CramConfig { method: lora.clone(), mem: 0, layout: Layout::Paper, ..base.clone() },
                "--method lora trains no vector, so the paper layout [mem, text] has nothing in front of the text; use --layout sink",
            ),
            (
                CramConfig { method: lora.clone(), mem: 0, checkpoint: true, ..base.clone() },
                "--checkpoint recomputes the layers for gradients w.r.t. the model's inputs; --method lora trains inside the layers (use memory, dense, lowdim or progressive)",
            ),
            (CramConfig { method: Method::Lowdim { rank: 0 }, ..base.clone() }, "--rank must be at least 1"),
            (CramConfig { method: Method::Progressive { steps_per_token: 0 }, ..base.clone() }, "--steps-per-token must be at least 1"),
            (
                CramConfig { method: Method::Progressive { steps_per_token: 1 }, protocol: Protocol::Paper, ..base.clone() },
                "--method progressive is greedy by construction (t_1 included); --protocol paper does not apply",
            ),
            (CramConfig { mem: 0, ..base.clone() }, "--mem must be at least 1"),
            (CramConfig { max_steps: 0, ..base.clone() }, "--max-steps must be at least 1"),
            (CramConfig { adamw: AdamWConfig { lr: f64::NAN, ..AdamWConfig::default() }, ..base.clone() }, "--lr must be a positive number"),
            (CramConfig { adamw: AdamWConfig { beta2: 1.0, ..AdamWConfig::default() }, ..base.clone() }, "--beta1 and --beta2 must be in [0, 1)"),
            (
                CramConfig { adamw: AdamWConfig { eps: 0.0, ..AdamWConfig::default() }, ..base.clone() },
                "--eps must be positive and --weight-decay not negative",
            ),
            (CramConfig { paper_threshold: 1.5, ..base.clone() }, "the accuracy threshold must be in [0, 1]"),
            (CramConfig { init_std: Some(-1.0), ..base.clone() }, "--init-std must be a positive number"),
            (
                CramConfig { method: Method::Lowdim { rank: 4 }, init: VectorInit::TextMean, ..base.clone() },
                "--init text-mean sets the memory vectors; lowdim and lora train none directly",
            ),
            (
                CramConfig { method: Method::Lowdim { rank: 4 }, init: VectorInit::Encoder { encoder: "e".into() }, ..base.clone() },
                "--init with an encoder sets the memory vectors; lowdim and lora train none directly (use memory, dense or progressive)",
            ),
            (
                CramConfig { schedule: Schedule::WarmupCosine { warmup: 10, total: 10, min_lr: 0.0 }, ..base.clone() },
                "the cosine must end after the warmup (10 steps), not at step 10",
            ),
        ];
        for (cfg, message) in cases {
            let e = cfg.validate().unwrap_err();
            assert_eq!(words(&anyhow::Error::new(e.clone())), message, "{e:?}");
            assert_eq!(words(&anyhow::Error::new(Error::from(e))), message);
        }
        assert_eq!(describe(&ConfigError::RankOverWidth { rank: 65, width: 64 }), "--rank 65 is larger than the model width d = 64");
        assert_eq!(describe(&ConfigError::RankOverProjection { rank: 9, narrowest: 8 }), "--rank 9 is larger than the narrowest adapted projection (8)");
        assert_eq!(base.validate(), Ok(()));
    }

    /// Another front end names the settings its own way.
    #[test]
    fn config_errors_in_other_words() {
        let name = |s: Setting| if s == Setting::Mem { "vectors" } else { flag(s) };
        assert_eq!(ConfigError::AtLeastOne(Setting::Mem).describe(name), "vectors must be at least 1");
        assert_eq!(ConfigError::LoraWithVectors.describe(name), "--method lora trains adapters instead of memory vectors; drop vectors");
    }

    /// The other setting errors, as core wrote them with the flags before they were typed; a
    /// context in front stays in front.
    #[test]
    fn setting_errors_in_the_cli_words() {
        let cases: Vec<(ConfigError, &str)> = vec![
            (ConfigError::AtLeastOne(Setting::Batch), "--batch must be at least 1"),
            (ConfigError::Empty(Setting::Model), "--model is empty"),
            (ConfigError::AtLeastOne(Setting::Layers), "--layers must be at least 1"),
            (ConfigError::AtLeastOne(Setting::EncoderLora), "--encoder-lora must be at least 1"),
            (ConfigError::Negative(Setting::Beta), "--beta must be a number of at least 0"),
            (ConfigError::NotBelowOne(Setting::Dropout), "--dropout must be in [0, 1)"),
            (ConfigError::NotBetweenZeroAndOne(Setting::TestFraction), "--test-fraction must be between 0 and 1"),
            (ConfigError::TooFewChunksAsked, "--chunks must be at least 2 (one to train on, one to test)"),
            (ConfigError::TooFewChunks { have: 3, tokens: 64, asked: 5 }, "the data gives 3 chunk(s) of 64 tokens; --chunks asks for 5"),
            (ConfigError::BothAtLeastOne(Setting::Batch, Setting::Epochs), "--batch and --epochs must be at least 1"),
            (ConfigError::BothAtLeastOne(Setting::Tokens, Setting::Batch), "--tokens and --batch must be at least 1"),
            (ConfigError::BatchNormBatch, "BatchNorm (--reg with more than one layer) needs --batch 2 or more"),
            (
                ConfigError::EncoderDiverged { step: 7 },
                "training diverged at step 7 (the loss or its gradient became NaN or infinite); the last checkpoint is kept: try a lower --lr",
            ),
            (ConfigError::NoSinkToken, "the model has no <|endoftext|>, BOS or EOS token to use as a sink; use --layout paper"),
            (ConfigError::NoTargets, "--targets names no projection; choose from q, k, v, o, mlp"),
            (ConfigError::NoTextField { place: "a.jsonl:3".into(), field: "text".into() }, "a.jsonl:3: no \"text\" field (--text-field names another)"),
            (
                ConfigError::NoTextColumn { file: "a.parquet".into(), field: "text".into(), columns: "id, body".into() },
                "a.parquet: no column \"text\" (it has id, body; --text-field names another)",
            ),
            (
                ConfigError::DtypeUnsupported { dtype: "bf16".into(), device: "Wgpu".into(), other: "f32" },
                "device: this device cannot compute in bf16 (Wgpu); use --dtype f32",
            ),
            (
                ConfigError::EncoderFileNotCram { path: "enc.safetensors".into() },
                "enc.safetensors: this is an encoder file (`cram encoder train`), not a .cram file: `cram encoder eval --encoder` tests it",
            ),
        ];
        for (e, message) in cases {
            assert_eq!(words(&anyhow::Error::new(Error::Setting(e.clone()))), message, "{e:?}");
            let wrapped = Err::<(), _>(Error::Setting(e)).context("loading x").unwrap_err();
            assert_eq!(words(&wrapped), format!("loading x: {message}"));
        }
    }

    /// Every flag the words name is a flag of some `cram` subcommand.
    #[test]
    fn every_flag_is_a_flag_of_cram() {
        use clap::CommandFactory;
        fn walk(c: &clap::Command, out: &mut std::collections::HashSet<String>) {
            out.extend(c.get_arguments().filter_map(|a| a.get_long()).map(|l| format!("--{l}")));
            for sub in c.get_subcommands() {
                walk(sub, out);
            }
        }
        let mut flags = std::collections::HashSet::new();
        walk(&crate::cli::Cli::command(), &mut flags);
        for s in Setting::ALL {
            assert!(flags.contains(flag(s)), "{s:?}: {} is not a flag of cram", flag(s));
        }
    }
}
