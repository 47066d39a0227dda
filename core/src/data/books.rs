//! Book chunks as in the paper: a random run of whole sentences, of which only the second half is
//! kept (the first half is the context the paper does not compress).
//!
//! - [`split_sentences`]: a simple, documented sentence splitter for plain-text books such as
//!   Project Gutenberg's (hard-wrapped lines, paragraphs separated by blank lines).
//! - [`book_chunks`]: seeded chunks of one book; [`chunk_books`]: of many, as [`BookChunk`]
//!   records with source file and title, the lines of `data/eval/books.jsonl`.
//! - [`gutenberg_title`]: titles of the Project Gutenberg books cram's evaluation data uses.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::{Text, mix_seed};

/// Abbreviations whose `.` does not end a sentence (compared case-sensitively).
const ABBREVIATIONS: &[&str] = &[
    "Mr", "Mrs", "Ms", "Messrs", "Dr", "St", "Mme", "Mlle", "Prof", "Rev", "Capt", "Col", "Gen", "Lt", "Sgt", "Hon", "Jr", "Sr", "Mt", "MM", "vs", "viz", "cf",
];

/// How many times a chunk is redrawn when it repeats an earlier chunk of the same book.
const MAX_DRAWS: usize = 64;

/// Splits `text` into sentences, returned as trimmed slices of `text` (line breaks inside a
/// sentence are kept; [`book_chunks`] collapses them).
///
/// The rule:
/// - A blank line (empty or only whitespace) always ends a sentence, so paragraphs, headings such
///   as `CHAPTER I` and a play's speaker lines never run into each other. Single line breaks
///   (hard-wrapped lines) are ordinary whitespace.
/// - Otherwise a sentence ends after a run of `.`, `!` or `?`, optionally followed by closing
///   quotes, brackets or underscores (`" ' ” ’ ) ] } » _`), then whitespace — unless
///   - the next word starts (after opening quotes or brackets) with a lowercase letter, as in
///     `"Who are you?" said Alice` or `e.g. this`; or
///   - the run is a single `.` after a common abbreviation (`Mr`, `Mrs`, `Ms`, `Dr`, `St`, `Mme`,
///     `Prof`, `Rev`, `Capt`, `Col`, `Gen`, `MM`, ...) or after a single capital letter other than `I`
///     (an initial, as in `E. M. Forster`).
/// - What is left at the end of a paragraph is its last sentence.
pub fn split_sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut para_start: Option<usize> = None;
    let mut para_end = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim().is_empty() {
            if let Some(start) = para_start.take() {
                split_paragraph(&text[start..para_end], &mut out);
            }
        } else {
            para_start.get_or_insert(offset);
            para_end = offset + line.len();
        }
        offset += line.len();
    }
    if let Some(start) = para_start {
        split_paragraph(&text[start..para_end], &mut out);
    }
    out
}

/// Characters that may follow a sentence's final punctuation and still belong to it.
fn is_closer(c: char) -> bool {
    matches!(c, '"' | '\'' | '”' | '’' | ')' | ']' | '}' | '»' | '_')
}

/// Characters that may open a sentence before its first letter.
fn is_opener(c: char) -> bool {
    matches!(c, '"' | '\'' | '“' | '‘' | '(' | '[' | '{' | '«' | '_')
}

/// Whether the `.` at byte `dot` of `p` follows an abbreviation or an initial.
fn after_abbreviation(p: &str, dot: usize) -> bool {
    let before = &p[..dot];
    let word_start = before.char_indices().rev().take_while(|(_, c)| c.is_alphabetic()).last().map_or(dot, |(i, _)| i);
    let word = &before[word_start..];
    if word.is_empty() || before[..word_start].chars().next_back().is_some_and(char::is_alphanumeric) {
        return false;
    }
    let mut chars = word.chars();
    let single_capital = matches!((chars.next(), chars.next()), (Some(c), None) if c.is_uppercase() && c != 'I');
    single_capital || ABBREVIATIONS.contains(&word)
}

/// Splits one paragraph (no blank lines inside) into sentences, appending them to `out`.
fn split_paragraph<'a>(p: &'a str, out: &mut Vec<&'a str>) {
    let chars: Vec<(usize, char)> = p.char_indices().collect();
    let byte_at = |i: usize| chars.get(i).map_or(p.len(), |&(b, _)| b);
    let mut push = |s: &'a str| {
        let s = s.trim();
        if !s.is_empty() {
            out.push(s);
        }
    };
    let mut start = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i].1;
        if !matches!(c, '.' | '!' | '?') {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < chars.len() && matches!(chars[j].1, '.' | '!' | '?') {
            j += 1;
        }
        let single_dot = c == '.' && j == i + 1;
        while j < chars.len() && is_closer(chars[j].1) {
            j += 1;
        }
        if j < chars.len() && !chars[j].1.is_whitespace() {
            // "U.S.", "3.14", "?--": not followed by whitespace.
            i = j;
            continue;
        }
        let mut k = j;
        while k < chars.len() && chars[k].1.is_whitespace() {
            k += 1;
        }
        if k < chars.len() {
            let first_letter = chars[k..].iter().map(|&(_, c)| c).find(|&c| !is_opener(c));
            if first_letter.is_some_and(char::is_lowercase) || (single_dot && after_abbreviation(p, chars[i].0)) {
                i = k;
                continue;
            }
        }
        push(&p[start..byte_at(j)]);
        start = byte_at(k);
        i = k;
    }
    push(&p[start..]);
}

/// FNV-1a of `s`: a portable hash to give each book its own random stream.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3))
}

/// `chunks` chunks of `book` as the paper makes them.
///
/// For chunk `c`, a generator `StdRng::seed_from_u64(mix(mix(seed, fnv1a(book_id)), c))` draws a
/// sentence uniformly among those a chunk can start at. From there whole sentences are taken until
/// their second half (the last ⌊k/2⌋ of the k sentences; the first half, the context, has at least
/// one) holds at least `words` words, counted by whitespace. That second half, its whitespace
/// (line breaks included) collapsed to single spaces, is the chunk's text — so every chunk has
/// at least `words` words — and its id is `"<book_id>:<c>:<index of its first sentence>"`.
///
/// A draw whose text shares a sentence with an earlier chunk's text, or equals it, is redrawn
/// (up to 64 times), so the chunks of one book are all different and do not overlap (a chunk's
/// context may overlap another's text). A book too short for chunks of this size gives no chunks,
/// and one with too few places for them gives fewer (ids keep the chunk index `c`, so a skipped
/// chunk leaves a gap): neither is an error.
pub fn book_chunks(book: &str, book_id: &str, chunks: usize, words: usize, seed: u64) -> Vec<Text> {
    let sentences = split_sentences(book);
    let n = sentences.len();
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(0usize);
    for s in &sentences {
        prefix.push(prefix.last().copied().unwrap_or(0) + s.split_whitespace().count());
    }
    let total = prefix[n];
    // The number of sentences k, from `start`, whose second half first holds `words` words.
    let take = |start: usize| -> Option<usize> {
        if total - prefix[start] < words {
            return None;
        }
        (2..=n - start).find(|&k| prefix[start + k] - prefix[start + k - k / 2] >= words)
    };
    let starts: Vec<(usize, usize)> = (0..n).filter_map(|s| take(s).map(|k| (s, k))).collect();
    if starts.is_empty() {
        return Vec::new();
    }
    let book_seed = mix_seed(seed, fnv1a(book_id));
    let mut out: Vec<Text> = Vec::with_capacity(chunks);
    // Sentence ranges of the texts given so far.
    let mut taken: Vec<(usize, usize)> = Vec::with_capacity(chunks);
    for c in 0..chunks {
        let mut rng = StdRng::seed_from_u64(mix_seed(book_seed, c as u64));
        for _ in 0..MAX_DRAWS {
            // u64 range: the same draw on 32- and 64-bit targets.
            let (start, k) = starts[rng.random_range(0..starts.len() as u64) as usize];
            let first = start + k - k / 2;
            let text = sentences[first..start + k].iter().flat_map(|s| s.split_whitespace()).collect::<Vec<_>>().join(" ");
            let end = start + k;
            let overlaps = taken.iter().any(|&(a, b)| first < b && a < end);
            if !overlaps && out.iter().all(|t| t.text != text) {
                taken.push((first, end));
                out.push(Text { id: format!("{book_id}:{c}:{first}"), text });
                break;
            }
        }
    }
    out
}

/// One line of a books evaluation file such as `data/eval/books.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BookChunk {
    /// `"<book>:<chunk>:<sentence>"`, as from [`book_chunks`].
    pub id: String,
    /// The chunk's text.
    pub text: String,
    /// The book's file name, e.g. `pg11.txt`.
    pub source: String,
    /// The book's title, when [`gutenberg_title`] knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

impl From<BookChunk> for Text {
    fn from(c: BookChunk) -> Text {
        Text { id: c.id, text: c.text }
    }
}

/// [`book_chunks`] of every book in `books`, in order, `chunks_per_book` each.
///
/// Each book's id is taken as its file name (as `load_texts` gives for a folder); the
/// book id in chunk ids is that name without a `.txt` extension (`pg11.txt` → `pg11:0:1234`).
pub fn chunk_books(books: &[Text], chunks_per_book: usize, words: usize, seed: u64) -> Vec<BookChunk> {
    books
        .iter()
        .flat_map(|book| {
            let stem = book.id.strip_suffix(".txt").unwrap_or(&book.id);
            let title = gutenberg_title(&book.id).map(str::to_owned);
            book_chunks(&book.text, stem, chunks_per_book, words, seed).into_iter().map(move |t| BookChunk {
                id: t.id,
                text: t.text,
                source: book.id.clone(),
                title: title.clone(),
            })
        })
        .collect()
}

/// The title of a Project Gutenberg book from its file name (`pg1342.txt`, `pg1342`, `1342.txt`).
///
/// Knows the public-domain books cram's evaluation data is drawn from; `None` for others.
pub fn gutenberg_title(file_name: &str) -> Option<&'static str> {
    let stem = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    let stem = stem.strip_suffix(".txt").unwrap_or(stem);
    let number = stem.strip_prefix("pg").unwrap_or(stem);
    Some(match number.parse::<u32>().ok()? {
        11 => "Alice's Adventures in Wonderland",
        16 => "Peter Pan",
        76 => "Adventures of Huckleberry Finn",
        84 => "Frankenstein; or, The Modern Prometheus",
        98 => "A Tale of Two Cities",
        174 => "The Picture of Dorian Gray",
        175 => "The Phantom of the Opera",
        236 => "The Jungle Book",
        345 => "Dracula",
        514 => "Little Women",
        844 => "The Importance of Being Earnest",
        1184 => "The Count of Monte Cristo",
        1342 => "Pride and Prejudice",
        1400 => "Great Expectations",
        1513 => "Romeo and Juliet",
        1661 => "The Adventures of Sherlock Holmes",
        2641 => "A Room with a View",
        2701 => "Moby-Dick; or, The Whale",
        5200 => "Metamorphosis",
        20203 => "Autobiography of Benjamin Franklin",
        25344 => "The Scarlet Letter",
        28054 => "The Brothers Karamazov",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_simple_sentences() {
        assert_eq!(split_sentences("One. Two! Three? Four"), ["One.", "Two!", "Three?", "Four"]);
        assert!(split_sentences("").is_empty());
        assert!(split_sentences(" \n\n \n").is_empty());
    }

    #[test]
    fn hard_wrapped_lines_and_paragraphs() {
        let text = "It is a truth universally acknowledged, that a single man in possession\n\
                    of a good fortune, must be in want of a wife.\n\
                    \n  \n\
                    CHAPTER I\n\
                    \n\
                    However little known the feelings. Or views\nof such a man.\n";
        assert_eq!(
            split_sentences(text),
            [
                "It is a truth universally acknowledged, that a single man in possession\n\
                 of a good fortune, must be in want of a wife.",
                "CHAPTER I",
                "However little known the feelings.",
                "Or views\nof such a man.",
            ]
        );
    }

    #[test]
    fn quotes_and_lowercase_continuations() {
        let text = "\"Who are you?\" said the Caterpillar. 'Oh!' She ran. (It was late.) \
                    “Stop!” “Go.” He saw _Hamlet._ Then left...  And so on?!";
        assert_eq!(
            split_sentences(text),
            [
                "\"Who are you?\" said the Caterpillar.",
                "'Oh!'",
                "She ran.",
                "(It was late.)",
                "“Stop!”",
                "“Go.”",
                "He saw _Hamlet._",
                "Then left...",
                "And so on?!",
            ]
        );
    }

    #[test]
    fn abbreviations_and_initials() {
        let text = "Mr. and Mrs. Darling met Dr. Watson in St. Petersburg. By E. M. Forster. \
                    It was I. Then at 8:35 P. M., on the 3rd. The U.S.A. Is big. Pi is 3.14. Yes.";
        assert_eq!(
            split_sentences(text),
            [
                "Mr. and Mrs. Darling met Dr. Watson in St. Petersburg.",
                "By E. M. Forster.",
                "It was I.",
                "Then at 8:35 P. M., on the 3rd.",
                "The U.S.A. Is big.",
                "Pi is 3.14.",
                "Yes.",
            ]
        );
    }

    #[test]
    fn non_ascii_text_does_not_panic() {
        let text = "Ça va? Oui. Ünïcödé… «Non!» Да. 日本語。 Fin.";
        let s = split_sentences(text);
        assert_eq!(s.concat().replace(' ', ""), text.replace(' ', ""));
        assert_eq!(s[0], "Ça va?");
    }

    /// A book of `n` numbered sentences of 5 words each, hard-wrapped.
    fn book(n: usize) -> String {
        (0..n).map(|i| format!("Sentence {i} has five words.")).collect::<Vec<_>>().chunks(3).map(|c| c.join(" ")).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn chunks_are_second_halves_of_whole_sentences() {
        let b = book(200);
        let chunks = book_chunks(&b, "b", 5, 12, 3);
        assert_eq!(chunks.len(), 5);
        for c in &chunks {
            // 12 words = 3 sentences of 5 in the second half, so 6 sentences taken.
            assert_eq!(c.text.split(' ').count(), 15, "{c:?}");
            assert!(c.text.starts_with("Sentence ") && c.text.ends_with(" has five words."));
            assert!(!c.text.contains('\n') && !c.text.contains("  "));
            let mut parts = c.id.split(':');
            assert_eq!(parts.next(), Some("b"));
            let _chunk: usize = parts.next().unwrap().parse().unwrap();
            let first: usize = parts.next().unwrap().parse().unwrap();
            assert!(first >= 3, "the context comes first");
            assert!(c.text.starts_with(&format!("Sentence {first} has")));
        }
        let ids: Vec<_> = chunks.iter().map(|c| c.id.split(':').nth(1).unwrap()).collect();
        assert_eq!(ids, ["0", "1", "2", "3", "4"]);
    }

    #[test]
    fn chunks_are_deterministic_and_seeded() {
        let b = book(500);
        let a = book_chunks(&b, "b", 4, 20, 0);
        assert_eq!(a, book_chunks(&b, "b", 4, 20, 0));
        assert_ne!(a, book_chunks(&b, "b", 4, 20, 1));
        // Chunk c does not depend on how many chunks are asked for.
        assert_eq!(book_chunks(&b, "b", 2, 20, 0)[..], a[..2]);
    }

    #[test]
    fn chunks_of_a_book_differ_and_short_books_are_skipped() {
        // Only 2 possible chunks: 4 asked, 2 given, different.
        let b = book(5);
        let c = book_chunks(&b, "b", 4, 10, 0);
        assert!(!c.is_empty() && c.len() <= 2, "{c:?}");
        if c.len() == 2 {
            assert_ne!(c[0].text, c[1].text);
        }
        // Many chunks of a mid-size book: texts never share a sentence.
        let b = book(60);
        let c = book_chunks(&b, "b", 20, 10, 0);
        assert!(c.len() >= 2);
        let mut used = std::collections::HashSet::new();
        for t in &c {
            for s in t.text.split(" has five words.").filter(|s| !s.is_empty()) {
                assert!(used.insert(s.trim().to_owned()), "{s} twice in {c:?}");
            }
        }
        assert!(book_chunks(&book(3), "b", 4, 100, 0).is_empty());
        assert!(book_chunks("", "b", 4, 1, 0).is_empty());
        assert!(book_chunks("One sentence only.", "b", 4, 0, 0).is_empty());
        assert!(book_chunks(&b, "b", 0, 10, 0).is_empty());
        // words = 0 still keeps one sentence after one of context.
        assert_eq!(book_chunks(&b, "b", 1, 0, 0)[0].text.split(' ').count(), 5);
    }

    #[test]
    fn chunk_books_adds_source_and_title() {
        let books = vec![
            Text { id: "pg11.txt".into(), text: book(100) },
            Text { id: "mine.txt".into(), text: book(100) },
            Text { id: "tiny.txt".into(), text: "Too short.".into() },
        ];
        let c = chunk_books(&books, 2, 10, 0);
        assert_eq!(c.len(), 4);
        assert!(c[0].id.starts_with("pg11:0:"));
        assert_eq!(c[0].source, "pg11.txt");
        assert_eq!(c[0].title.as_deref(), Some("Alice's Adventures in Wonderland"));
        assert_eq!(c[2].title, None);
        // Different book ids, different draws.
        assert_ne!(c[0].text, c[2].text);
        let line = serde_json::to_string(&c[2]).unwrap();
        assert!(line.starts_with("{\"id\":\"mine:0:") && !line.contains("title"), "{line}");
        let line = serde_json::to_string(&c[0]).unwrap();
        assert!(line.contains("\"source\":\"pg11.txt\",\"title\":"), "{line}");
    }

    #[test]
    fn titles() {
        assert_eq!(gutenberg_title("pg1342.txt"), Some("Pride and Prejudice"));
        assert_eq!(gutenberg_title("books/pg84"), Some("Frankenstein; or, The Modern Prometheus"));
        assert_eq!(gutenberg_title("2701.txt"), Some("Moby-Dick; or, The Whale"));
        assert_eq!(gutenberg_title("pg999999.txt"), None);
        assert_eq!(gutenberg_title("notes.txt"), None);
        assert_eq!(gutenberg_title(""), None);
    }
}
