//! JSON Lines: one JSON object per line, the format of cram's text sets.
//!
//! [`parse_jsonl`] reads the content of a file already in memory (so it works in wasm32, e.g. on
//! an uploaded file); [`to_jsonl`] writes any serialisable records, one per line.
//!
//! A text line looks like `{"id": "pg11:0:1234", "text": "...", "source": "pg11.txt"}`: `text`
//! (a string) is required, `id` (a string or a number) is optional, other fields are ignored.

use serde::Serialize;
use serde_json::Value;

use super::Text;
use crate::error::ConfigError;
use crate::{Error, Result};

/// Parses JSON Lines `content` into texts.
///
/// Every non-empty line must be a JSON object with a string field `text`. The id is the field `id`
/// (a string, or a number written as in the file) if present and not `null`, else
/// `"<stem>:<line number>"` with lines counted from 1. Blank lines are skipped but counted. Error
/// messages start with `"<file>:<line>: "`.
///
/// # Errors
/// [`Error::Input`] for a line that is not a JSON object, has no string `text`, has an `id` that is
/// neither a string nor a number, or whose text is empty or only whitespace.
pub fn parse_jsonl(content: &str, file: &str, stem: &str) -> Result<Vec<Text>> {
    parse_jsonl_field(content, file, stem, "text")
}

/// [`parse_jsonl`] with the text in the field `field` (a data set's `content`, `article`, ...).
/// Content that starts with `[` is read as one JSON array of such objects (what `json.dump` of a
/// list writes); errors then name the element (`<file>:[i]`) instead of the line.
pub fn parse_jsonl_field(content: &str, file: &str, stem: &str, field: &str) -> Result<Vec<Text>> {
    let content = content.strip_prefix('\u{feff}').unwrap_or(content);
    let records: Vec<(String, usize, Value)> = if content.trim_start().starts_with('[') {
        let array: Vec<Value> = serde_json::from_str(content).map_err(|e| Error::Input(format!("{file}: not a JSON array of objects: {e}")))?;
        array.into_iter().enumerate().map(|(i, v)| (format!("{file}:[{i}]"), i + 1, v)).collect()
    } else {
        let mut records = Vec::new();
        for (i, line) in content.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let value = serde_json::from_str(line).map_err(|e| Error::Input(format!("{file}:{}: not valid JSON: {e}", i + 1)))?;
            records.push((format!("{file}:{}", i + 1), i + 1, value));
        }
        records
    };
    let mut texts = Vec::new();
    for (place, n, value) in records {
        let bad = |what: String| Error::Input(format!("{place}: {what}"));
        let Value::Object(map) = value else {
            return Err(bad(format!("expected a JSON object with a \"{field}\" field")));
        };
        let text = match map.get(field) {
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(bad(format!("the field \"{field}\" is not a string"))),
            None => return Err(Error::Setting(ConfigError::NoTextField { place: place.clone(), field: field.to_string() })),
        };
        let id = match map.get("id") {
            None | Some(Value::Null) => format!("{stem}:{n}"),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(x)) => x.to_string(),
            Some(_) => return Err(bad("the field \"id\" is neither a string nor a number".into())),
        };
        if text.trim().is_empty() {
            return Err(bad(format!("the text `{id}` is empty")));
        }
        texts.push(Text { id, text });
    }
    Ok(texts)
}

/// Writes `records` as JSON Lines: one compact JSON object per line, each ending in `\n`.
///
/// Fields keep the order of the struct, so a [`Text`] becomes `{"id":...,"text":...}`.
///
/// # Errors
/// [`Error::Input`] if a record cannot be serialised (e.g. a map with non-string keys).
pub fn to_jsonl<T: Serialize>(records: &[T]) -> Result<String> {
    let mut out = String::new();
    for (i, record) in records.iter().enumerate() {
        let line = serde_json::to_string(record).map_err(|e| Error::Input(format!("record {i} cannot be written as JSON: {e}")))?;
        out.push_str(&line);
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_field_and_a_json_array() {
        let lines = "{\"content\": \"one\", \"id\": 7}\n{\"content\": \"two\"}\n";
        let t = parse_jsonl_field(lines, "d.json", "d", "content").unwrap();
        assert_eq!(t, vec![Text { id: "7".into(), text: "one".into() }, Text { id: "d:2".into(), text: "two".into() }]);
        let array = "[{\"content\": \"one\"}, {\"content\": \"two\", \"id\": \"b\"}]";
        let t = parse_jsonl_field(array, "d.json", "d", "content").unwrap();
        assert_eq!(t, vec![Text { id: "d:1".into(), text: "one".into() }, Text { id: "b".into(), text: "two".into() }]);
        let msg = parse_jsonl_field(lines, "d.json", "d", "text").unwrap_err().to_string();
        assert!(msg.contains("d.json:1: no \"text\" field"), "{msg}");
        let msg = parse_jsonl_field("[{\"content\": 3}]", "d.json", "d", "content").unwrap_err().to_string();
        assert!(msg.contains("d.json:[0]: the field \"content\" is not a string"), "{msg}");
    }

    #[test]
    fn parses_ids_and_defaults() {
        let src = "{\"id\":\"a\",\"text\":\"x\"}\r\n\n  \n{\"text\":\"y\",\"id\":null}\n{\"id\":2.5,\"text\":\"z\"}";
        let t = parse_jsonl(src, "f.jsonl", "f").unwrap();
        assert_eq!(t[0], Text { id: "a".into(), text: "x".into() });
        assert_eq!(t[1], Text { id: "f:4".into(), text: "y".into() });
        assert_eq!(t[2], Text { id: "2.5".into(), text: "z".into() });
    }

    #[test]
    fn empty_content_is_no_texts() {
        assert!(parse_jsonl("", "f", "f").unwrap().is_empty());
        assert!(parse_jsonl("\n \n", "f", "f").unwrap().is_empty());
    }

    #[test]
    fn errors_name_file_and_line() {
        let cases = [
            ("[1,2]", "JSON object"),
            ("{\"text\": 3}", "not a string"),
            ("{\"id\": \"a\"}", "no \"text\""),
            ("{\"id\": [1], \"text\": \"x\"}", "\"id\""),
            ("{\"id\": \"q\", \"text\": \" \\n \"}", "`q` is empty"),
            ("{\"text\": \"x\"", "not valid JSON"),
        ];
        for (line, want) in cases {
            let src = format!("{{\"text\":\"fine\"}}\n{line}\n");
            let msg = parse_jsonl(&src, "d/f.jsonl", "f").unwrap_err().to_string();
            assert!(msg.starts_with("d/f.jsonl:2: ") && msg.contains(want), "{line}: {msg}");
        }
    }

    #[test]
    fn writes_and_reads_back() {
        let texts = vec![Text { id: "1".into(), text: "line\nbreak \"quoted\"".into() }, Text { id: "b".into(), text: "ünïcode".into() }];
        let s = to_jsonl(&texts).unwrap();
        assert_eq!(s.lines().count(), 2);
        assert!(s.starts_with("{\"id\":\"1\",\"text\":"));
        assert_eq!(parse_jsonl(&s, "f", "f").unwrap(), texts);
    }
}
