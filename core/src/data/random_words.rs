//! Random-word texts: the paper's texts that no model can predict.
//!
//! Words are drawn uniformly, with replacement, from a vocabulary (the paper uses a 100k-word
//! GloVe-derived English list, shipped as `data/vocab_100k.txt`) and joined by single spaces.
//! Draws use [`StdRng`] (ChaCha12) and `u64` ranges, so a seed gives the same text on every
//! platform.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{Text, mix_seed};
use crate::{Error, Result};

/// Parses a vocabulary file: one word per line, trimmed; empty lines are skipped.
pub fn parse_vocab(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|w| !w.is_empty()).map(str::to_owned).collect()
}

/// `words` words drawn uniformly with replacement from `vocab`, joined by single spaces.
///
/// Deterministic for a seed: the generator is `StdRng::seed_from_u64(seed)` and each word is
/// `vocab[rng.random_range(0..vocab.len() as u64)]`.
///
/// # Errors
/// [`Error::Input`] if `vocab` is empty or `words` is 0.
pub fn random_words_text(vocab: &[String], words: usize, seed: u64) -> Result<String> {
    if vocab.is_empty() {
        return Err(Error::Input("the vocabulary is empty: no words to draw from".into()));
    }
    if words == 0 {
        return Err(Error::Input("a random-words text needs at least 1 word".into()));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let n = vocab.len() as u64;
    let mut out = String::new();
    for i in 0..words {
        if i > 0 {
            out.push(' ');
        }
        // `n` fits in usize (it came from one), so the index does too.
        out.push_str(&vocab[rng.random_range(0..n) as usize]);
    }
    Ok(out)
}

/// `count` random-word texts of `words` words each, with ids `"random:<seed>:<i>"`.
///
/// Text `i` is [`random_words_text`] with a seed mixed from `seed` and `i`, so the texts are
/// independent and text `i` does not depend on `count`.
///
/// # Errors
/// [`Error::Input`] if `vocab` is empty or `words` is 0.
pub fn random_word_texts(vocab: &[String], count: usize, words: usize, seed: u64) -> Result<Vec<Text>> {
    (0..count).map(|i| Ok(Text { id: format!("random:{seed}:{i}"), text: random_words_text(vocab, words, mix_seed(seed, i as u64))? })).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> Vec<String> {
        parse_vocab("the\n  cat \n\n\r\nsat\non\nmat\n")
    }

    #[test]
    fn parses_vocab() {
        assert_eq!(vocab(), ["the", "cat", "sat", "on", "mat"]);
        assert!(parse_vocab("\n \n").is_empty());
    }

    #[test]
    fn draws_words_deterministically() {
        let v = vocab();
        let a = random_words_text(&v, 50, 7).unwrap();
        assert_eq!(a, random_words_text(&v, 50, 7).unwrap());
        assert_ne!(a, random_words_text(&v, 50, 8).unwrap());
        assert_eq!(a.split(' ').count(), 50);
        assert!(a.split(' ').all(|w| v.iter().any(|x| x == w)));
        // A longer text starts with the shorter one: one draw per word.
        assert!(random_words_text(&v, 60, 7).unwrap().starts_with(&a));
    }

    #[test]
    fn pinned_output() {
        // Pins the generator (StdRng = ChaCha12, u64 ranges): must hold on every platform.
        let v: Vec<String> = (0..1000).map(|i| format!("w{i}")).collect();
        let t = random_words_text(&v, 5, 0).unwrap();
        assert_eq!(t, PINNED);
    }
    const PINNED: &str = "w731 w773 w25 w584 w262";

    #[test]
    fn many_texts_have_ids_and_differ() {
        let v = vocab();
        let t = random_word_texts(&v, 3, 20, 5).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t[2].id, "random:5:2");
        assert_ne!(t[0].text, t[1].text);
        assert_eq!(random_word_texts(&v, 2, 20, 5).unwrap()[..], t[..2]);
        assert!(random_word_texts(&v, 0, 20, 5).unwrap().is_empty());
    }

    #[test]
    fn rejects_empty_vocab_and_zero_words() {
        assert!(matches!(random_words_text(&[], 3, 0), Err(Error::Input(_))));
        assert!(matches!(random_word_texts(&[], 1, 3, 0), Err(Error::Input(_))));
        assert!(matches!(random_words_text(&vocab(), 0, 0), Err(Error::Input(_))));
    }
}
